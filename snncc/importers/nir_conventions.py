"""What the tools that write NIR files mean by its fields, where that departs from NIR's equations.

NIR 1.0 gives each neuron's ODE but not how a tool's discrete steps map onto it, and exporters
differ.  snncc reads NIR's equations by forward Euler at --dt, the input held over the step
(nir_nodes.py); snntorch 1.0, spikingjelly 2.0 and snncc's own exporter write files that way.
Read from the exporters' sources (facts, not their code):

norse 1.1.0, ``norse.torch.to_nir(module, sample, dt=1e-3)``:
  - every time constant is written as dt / tau_inv = dt·tau (norse issue #411; fixed after 1.1.0)
  - LIFCell -> CubaLIF: norse's current jumps by the input, i <- i + x, and decays by 1 - dt/tau_syn
    after the potential's step; NIR's Euler step adds (dt/tau_syn)·w_in·x, so the file would need
    w_in = tau_syn/dt, but says 1 (r = 1 is right: v += dt/tau_mem·(v_leak - v + i))
  - IAFCell -> IF: norse adds the input per step, v <- v + x; NIR's IF adds dt·r·x, so the file
    would need r = 1/dt, but says 1
  - LIFBoxCell -> LIF, LIBoxCell -> LI: NIR's Euler step once tau is corrected
  - LIFCell, LIFBoxCell and LIBoxCell start every sample at v = v_leak (NIR says nothing; snncc
    starts at 0); IAFCell starts at v_reset, which the file does not carry (nor LIF's v_reset)
  - Linear -> Affine, Conv2d -> Conv2d; Flatten and pooling are not exported (nir.write fails)
``exporter="norse"`` (``--nir-from norse``) undoes the first three and starts v at v_leak, so
that the graph computes what norse computed at that dt.

sinabs 3.1.3, ``sinabs.nir.to_nir``: IAF -> IF with r = 1 for v <- v + x per step (as norse's
IAFCell), LIF -> LIF with tau in steps.  sinabs counts time in steps, so its IF graphs run exactly at
--dt 1 (its LIF decays by exp(-1/tau) per step, which Euler's 1 - 1/tau only approaches).  sinabs'
IAF fires on v >= threshold and by default emits several spikes per step with a subtractive reset
(its from_nir adds a floor at -threshold); the IF node says none of that, so snncc runs IF as NIR
defines it (one spike on v > threshold, hard reset), as norse and Lava ran the NIR paper's sinabs
CNN.  `per_step_if_warning` points there when IF neurons have r = 1 and dt is not 1.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from snncc.errors import Diagnostic

EXPORTERS = ("nir", "norse")  # "nir": the file means NIR's equations (snntorch, spikingjelly, snncc)
NOTES = {"norse": "norse 1.1.0 to_nir: tau = file/dt, CubaLIF w_in x tau_syn/dt, IF r x 1/dt"}


def as_nir(node: Any, dt: float, exporter: str) -> Any:
    """``node`` with its fields in NIR's meaning at time step ``dt``, for a file ``exporter`` wrote."""
    if exporter == "nir":
        return node
    if exporter != "norse":
        raise ValueError(f"unknown NIR exporter {exporter!r}")
    kind = type(node).__name__
    fixed = copy.copy(node)  # the converters read attributes; nir's __post_init__ is not re-run
    if kind in ("LIF", "LI"):
        fixed.tau = _array(node.tau) / dt
    elif kind == "CubaLIF":
        fixed.tau_mem = _array(node.tau_mem) / dt
        fixed.tau_syn = _array(node.tau_syn) / dt
        fixed.w_in = _array(node.w_in) * fixed.tau_syn / dt  # i <- i + x: a jump of x, not (dt/tau_syn)·x
    elif kind == "IF":
        fixed.r = _array(node.r) / dt  # v <- v + x per step
    if kind in ("LIF", "LI", "CubaLIF") and _array(node.v_leak).any():
        fixed.metadata = _with_v_init(node, _array(node.v_leak))
    return fixed


def _with_v_init(node: Any, v: np.ndarray) -> dict[str, Any]:
    """The node's metadata plus an initial potential, in the form snncc's own exporter writes it
    (nir_nodes._neuron reads it): one value, or one per neuron."""
    meta = dict(getattr(node, "metadata", None) or {})
    same = (v == v.flat[0]).all()
    meta["snncc"] = {
        **dict(meta.get("snncc", {})),
        "v_init": np.asarray(v.flat[0]) if same else v,
        "v_init_shape": 0 if same else np.asarray(v.shape),
    }
    return meta


def per_step_if_warning(nodes: dict[str, Any], dt: float) -> Diagnostic | None:
    """A warning when IF neurons have r = 1 at dt != 1: that is how per-step tools write v += x."""
    names = [n for n, node in nodes.items() if type(node).__name__ == "IF" and np.all(_array(node.r) == 1)]
    if not names or dt == 1:
        return None
    return Diagnostic(
        "warning",
        "IMT213",
        f"IF node{'s' if len(names) > 1 else ''} {', '.join(repr(n) for n in names)} "
        f"{'have' if len(names) > 1 else 'has'} r = 1: "
        f"at --dt {dt:g} each step adds {dt:g}·x to v",
        hint="sinabs and norse's IAFCell write r = 1 for v += x per step: for a sinabs graph pass --dt 1 "
        "(sinabs counts time in steps), for a norse graph --nir-from norse",
    )


def _array(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)
