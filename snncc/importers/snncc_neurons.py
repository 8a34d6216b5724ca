"""snncc.nn neuron modules -> IR neuron ops, each mapping exact (SPEC.md §2 lif, clif).

Every function states the module's equations in the canonical form
    h = beta·v + gain·x + bias ;  fire on h (>=) ;  reset
so the mapping can be checked line by line; the importer tests compare torch and the float
simulator numerically for each model.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch

from snncc import nn as snn
from snncc.errors import ImportFailed
from snncc.ir import CLIF, LIF, Const, Op, Shape


def _hard_or_soft(m: Any) -> dict[str, Any]:
    hard = m.v_reset is not None
    return {
        "reset": "zero" if hard else "subtract",
        "v_reset": m.v_reset if hard else 0.0,
        "v_init": Const(m.v_reset) if hard and m.v_reset != 0.0 else None,
    }


def _optional(value: float) -> Const | None:
    return Const(value) if value != 0.0 else None


def lif(name: str, m: snn.LIF, src: Shape | None) -> Op:
    """H = (1 − 1/tau)·V + gain·X + Vr0/tau, gain 1/tau (decay_input) or 1."""
    v_rest = 0.0 if m.v_reset is None else m.v_reset
    return LIF(
        shape=(),
        beta=1.0 - 1.0 / m.tau,
        gain=1.0 / m.tau if m.decay_input else 1.0,
        bias=_optional(v_rest / m.tau),
        threshold=m.threshold,
        **_hard_or_soft(m),
    )


def plif(name: str, m: snn.PLIF, src: Shape | None) -> Op:
    """As LIF with 1/tau = sigmoid(w), the learned parameter."""
    inv = m.inverse_tau
    v_rest = 0.0 if m.v_reset is None else m.v_reset
    return LIF(
        shape=(),
        beta=1.0 - inv,
        gain=inv if m.decay_input else 1.0,
        bias=_optional(v_rest * inv),
        threshold=m.threshold,
        **_hard_or_soft(m),
    )


def klif(name: str, m: snn.KLIF, src: Shape | None) -> Op:
    """F = ReLU(k·H) is the stored potential: F = max(k(1 − 1/tau)·V + k·gain·X + k·Vr0/tau, 0)."""
    k = float(m.k.detach())
    beta = k * (1.0 - 1.0 / m.tau)
    if not (k > 0 and beta <= 1.0):
        raise ImportFailed(
            f"KLIF k = {k:.4g} gives a voltage decay k(1 - 1/tau) = {beta:.4g}; deployable neurons need "
            "0 < k and k(1 - 1/tau) <= 1",
            code="IMT020",
            node=name,
            hint="constrain k during training (e.g. clamp it to (0, tau/(tau-1)])",
        )
    v_rest = 0.0 if m.v_reset is None else m.v_reset
    return LIF(
        shape=(),
        beta=beta,
        gain=k / m.tau if m.decay_input else k,
        bias=_optional(k * v_rest / m.tau),
        threshold=m.threshold,
        v_floor=0.0,
        **_hard_or_soft(m),
    )


def if_(name: str, m: snn.IF, src: Shape | None) -> Op:
    """H = V + X."""
    return LIF(shape=(), beta=1.0, gain=1.0, threshold=m.threshold, **_hard_or_soft(m))


def clif(name: str, m: snn.CLIF, src: Shape | None) -> Op:
    """H = (1 − 1/tau)·V + X; the complementary state m and its reset are SPEC.md §clif."""
    return CLIF(shape=(), beta=1.0 - 1.0 / m.tau, threshold=m.threshold, reset="subtract", m_tau=m.tau)


def dsr_if(name: str, m: snn.DSRIF, src: Shape | None) -> Op:
    """Firing at alpha·Vth with reset by Vth equals firing at Vth from V0 = (1 − alpha)·Vth (V' = V + (1−alpha)Vth).

    DSR-LIF's input gain (1 − beta) makes the shift add a constant (1 − beta)(1 − alpha)·Vth per step.
    """
    vth = float(m.threshold().detach())
    v0 = (1.0 - m.alpha) * vth
    beta, gain = (m.beta, 1.0 - m.beta) if isinstance(m, snn.DSRLIF) else (1.0, 1.0)
    return LIF(
        shape=(),
        beta=beta,
        gain=gain,
        bias=_optional((1.0 - beta) * v0),
        threshold=vth,
        reset="subtract",
        v_init=Const(v0),
        amplitude=float(m.amplitude(m.threshold()).detach()),
    )


def imp(convert: Callable[[str, Any, Shape | None], Op]) -> Callable[[str, Any, Shape | None], Op]:
    """IMP neurons: the base neuron's mapping with the learned per-neuron initial potential as v_init."""

    def converted(name: str, m: Any, src: Shape | None) -> Op:
        base = convert(name, m, src)
        v0 = m.v0.detach().cpu().to(torch.float64).numpy()
        if src is not None and tuple(v0.shape) != tuple(src):
            raise ImportFailed(
                f"the learned initial potential has shape {tuple(v0.shape)} but the layer's input is {tuple(src)}",
                code="IMT021",
                node=name,
                hint="give the IMP neuron the per-sample shape of its input (channels, height, width)",
            )
        return dataclasses.replace(base, v_init=Const(v0))

    return converted


def integrator(name: str, m: snn.Integrator, src: Shape | None) -> Op:
    """Non-spiking: V = V + X."""
    return LIF(shape=(), beta=1.0, spiking=False)


def cuba_lif(name: str, m: snn.CubaLIF, src: Shape | None) -> Op:
    """I = alpha·I + X; H = beta·V + I; soft reset: snncc's lif as it is."""
    return LIF(shape=(), beta=m.beta, alpha=m.alpha, gain=1.0, threshold=m.threshold, fire=">=", reset="subtract")


NEURON_CONVERTERS: dict[type, Callable[[str, Any, Shape | None], Op]] = {
    snn.LIF: lif,
    snn.IF: if_,
    snn.PLIF: plif,
    snn.KLIF: klif,
    snn.CLIF: clif,
    snn.DSRIF: dsr_if,
    snn.DSRLIF: dsr_if,
    snn.IMPLIF: imp(lif),
    snn.IMPIF: imp(if_),
    snn.Integrator: integrator,
    snn.CubaLIF: cuba_lif,
}
