"""One NIR node (nir 1.0.x) as one snncc FLOAT op, discretized with forward Euler at time step dt.

NIR's neurons are continuous-time ODEs.  Per step of dt, the synaptic current first and the
potential from the new current, the convention NIR's exporters and platforms follow
(../shared/docs/neuron-models.md §2.4; it reproduces snntorch's and spikingjelly's exports exactly):

    I <- I + (dt/tau_syn)(-I + w_in x)            CubaLIF, CubaLI
    v <- v + (dt/tau)(v_leak - v + r I)            LIF, LI (I = x without a synapse; tau = tau_mem)
    v <- v + dt r x                                IF, I
    z = v > v_threshold ;  v <- v_reset where z    NIR spikes on a strict ">" and resets hard

which is snncc's lif (SPEC.md §lif) with beta = 1 - dt/tau, alpha = 1 - dt/tau_syn,
gain = (dt/tau) r (dt/tau_syn) w_in (without the synapse: (dt/tau) r), bias = (dt/tau) v_leak,
threshold = v_threshold, fire ">", reset "zero" to v_reset.  Threshold is a spiking lif with
beta 0.  v starts at 0 in every sample.  Values snncc's exporter writes that NIR cannot express
(soft reset, fire on ">=", floor, initial potential, spike amplitude) ride in node metadata
under "snncc" and are honoured here.  Other exporters' departures from these equations are
undone before (nir_conventions.py).  Conv1d on (C, L) is a 2-D convolution with kernel (1, k) on
the same samples held as (C, 1, L).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from snncc.errors import Diagnostic
from snncc.ir import LIF, AvgPool2d, Const, Conv2d, Delay, Dense, Flatten, Op, Shape, SumPool2d

SUPPORTED_NODES = (
    "Input, Output, Affine, Linear, Scale (on vectors), Conv1d, Conv2d, SumPool2d, AvgPool2d, Flatten, "
    "IF, LIF, CubaLIF, LI, CubaLI, I (integrator), Threshold, Delay (after a neuron layer or the Input)"
)
DISCRETIZATION = "forward Euler, synaptic current before potential (NIR exporters' convention)"


class Unsupported(Exception):
    """One node snncc cannot import; the importer collects them and reports all at once."""

    def __init__(self, node: str, message: str, hint: str, code: str = "IMT211") -> None:
        super().__init__(message)
        self.diagnostic = Diagnostic("error", code, message, node=node, hint=hint)


def snncc_metadata(thing: Any) -> dict[str, Any]:
    """The 'snncc' entry snncc's exporter puts in graph and node metadata ({} in other files)."""
    meta = getattr(thing, "metadata", None) or {}
    out = {}
    for key, value in dict(meta.get("snncc", {})).items():
        if isinstance(value, np.ndarray) and value.size == 1 and key != "v_init":
            value = value.reshape(-1)[0]  # the exporter writes scalars as 1-element arrays
        if isinstance(value, (bytes, np.bytes_)):
            value = value.decode()
        out[key] = value.item() if isinstance(value, np.generic) else value
    return out


def convert(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    """The op for ``node``, whose input has shape ``src`` (None: unknown after an earlier error)."""
    kind = type(node).__name__
    converter = _CONVERTERS.get(kind)
    if converter is None:
        raise Unsupported(
            name, f"unsupported NIR node {kind}", _HINTS.get(kind, f"snncc imports {SUPPORTED_NODES}"), "IMT210"
        )
    return converter(name, node, src, dt)


_HINTS = {
    "NIRGraph": "flatten the nested subgraph into the main graph before importing",
}


# --- parameters ---------------------------------------------------------------------------------


def _values(name: str, node: Any, field: str, src: Shape | None) -> np.ndarray:
    """A neuron parameter: one value, or one per neuron of the layer (its input's size)."""
    values = np.asarray(getattr(node, field), dtype=np.float64)
    if values.size == 0 or not np.isfinite(values).all():
        raise Unsupported(name, f"{field} is empty or not finite", "check the exported parameters")
    if src is not None and values.size not in (1, int(np.prod(src))):
        raise Unsupported(
            name,
            f"{field} holds {values.size} values but the layer has {int(np.prod(src))} neurons",
            "give one value per neuron or one per layer",
        )
    return values


def _scalar(name: str, node: Any, field: str, src: Shape | None) -> float:
    """A value the lif takes once per layer: NIR stores one per neuron, so all must be equal."""
    values = _values(name, node, field, src).reshape(-1)
    if (values != values[0]).any():
        raise Unsupported(
            name,
            f"{field} differs between neurons ({values.min():g} .. {values.max():g}); snncc's lif takes one per layer",
            "use one value per layer",
        )
    return float(values[0])


def _per_neuron(name: str, node: Any, field: str, src: Shape | None, scale: float) -> Const | None:
    """A value the lif takes per neuron (its bias): a scalar when all are equal, None when all 0."""
    values = _values(name, node, field, src) * scale
    if not values.any():
        return None
    if (values == values.flat[0]).all():
        return Const(np.float64(values.flat[0]))
    return Const(values.reshape(src) if src is not None else values)


def _rate(name: str, node: Any, field: str, src: Shape | None, dt: float) -> float:
    """dt/tau, which forward Euler needs in (0, 1] to decay without overshooting."""
    tau = _scalar(name, node, field, src)
    if not tau > 0:
        raise Unsupported(name, f"{field} must be positive, got {tau:g}", "check the exported time constants")
    k = dt / tau
    if k > 1:
        raise Unsupported(
            name,
            f"dt = {dt:g} s exceeds {field} = {tau:g} s: forward Euler would overshoot",
            f"pass --dt at most {tau:g}; if norse 1.1.0 wrote the file (its to_nir writes dt·tau as tau, "
            "norse issue #411), pass --nir-from norse with norse's dt",
        )
    return k


# --- neurons ------------------------------------------------------------------------------------


def _neuron(node: Any, **fields: Any) -> LIF:
    """snncc's lif, plus what snncc's exporter stored in metadata (fire, reset, floor, v_init, amplitude)."""
    extra = snncc_metadata(node)
    if "v_init" in extra:
        shape = tuple(int(s) for s in np.atleast_1d(extra.pop("v_init_shape", 0)) if s > 0)
        extra["v_init"] = Const(np.asarray(extra["v_init"], dtype=np.float64).reshape(shape))
    fields.update({k: v for k, v in extra.items() if k in ("fire", "reset", "v_floor", "v_init", "amplitude")})
    return LIF(shape=(), **fields)


def _reset_fields(name: str, node: Any, src: Shape | None, threshold_field: str = "v_threshold") -> dict[str, Any]:
    v_reset = getattr(node, "v_reset", None)
    return {
        "threshold": _scalar(name, node, threshold_field, src),
        "fire": ">",
        "reset": "zero",
        "v_reset": 0.0 if v_reset is None else _scalar(name, node, "v_reset", src),
    }


def _lif(spiking: bool, cuba: bool) -> Callable[[str, Any, Shape | None, float], Op]:
    def convert(name: str, node: Any, src: Shape | None, dt: float) -> Op:
        k = _rate(name, node, "tau_mem" if cuba else "tau", src, dt)
        alpha, gain = 0.0, k * _scalar(name, node, "r", src)
        if cuba:
            ks = _rate(name, node, "tau_syn", src, dt)
            alpha, gain = 1.0 - ks, gain * ks * _scalar(name, node, "w_in", src)
        bias = _per_neuron(name, node, "v_leak", src, k)
        fields = _reset_fields(name, node, src) if spiking else {"spiking": False}
        return _neuron(node, beta=1.0 - k, alpha=alpha, gain=gain, bias=bias, **fields)

    return convert


def _if(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    return _neuron(node, beta=1.0, gain=dt * _scalar(name, node, "r", src), **_reset_fields(name, node, src))


def _integrator(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    return _neuron(node, beta=1.0, gain=dt * _scalar(name, node, "r", src), spiking=False)


def _threshold(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    # z = H(x - threshold), no state: beta 0 forgets v every step, so the reset value is moot
    return _neuron(node, beta=0.0, threshold=_scalar(name, node, "threshold", src), fire=">")


# --- synapses and shape ops ---------------------------------------------------------------------


def _affine(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 2:
        raise Unsupported(name, f"weight must be (out, in), got {weight.shape}", "export a 2-D weight matrix")
    bias = getattr(node, "bias", None)
    has_bias = bias is not None and np.asarray(bias).any()
    return Dense(shape=(), weight=Const(weight), bias=Const(np.asarray(bias, np.float64)) if has_bias else None)


def _scale(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    if src is not None and len(src) != 1:
        raise Unsupported(name, f"Scale on a {src} input", "snncc imports Scale on vectors (after Flatten)")
    return Dense(shape=(), weight=Const(np.diag(np.asarray(node.scale, dtype=np.float64).reshape(-1))))


def _conv2d(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    weight = np.asarray(node.weight, dtype=np.float64)
    stride, dilation, padding = _pair(node.stride), _pair(node.dilation), node.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = (0, 0)
        elif padding == "same" and stride == (1, 1) and all(k % 2 for k in weight.shape[2:]):
            padding = tuple(d * (k - 1) // 2 for d, k in zip(dilation, weight.shape[2:], strict=True))
        else:
            raise Unsupported(name, f"padding {padding!r} with stride {stride}", "give explicit padding")
    bias = np.asarray(node.bias, dtype=np.float64) if node.bias is not None else None
    return Conv2d(
        shape=(),
        weight=Const(weight),
        bias=Const(bias) if bias is not None and bias.any() else None,
        stride=stride,
        padding=_pair(padding),
        dilation=dilation,
        groups=int(node.groups),
    )


def _conv1d(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    """Conv1d on (C, L) as a 2-D convolution with kernel (1, k) on (C, 1, L) (see ir_input_shape)."""
    if src is not None and (len(src) != 3 or src[1] != 1):
        raise Unsupported(name, f"Conv1d on a {src} input", "give Conv1d a (channels, length) input")
    weight = np.asarray(node.weight, dtype=np.float64)
    if weight.ndim != 3:
        raise Unsupported(name, f"weight must be (out, in / groups, k), got {weight.shape}", "export a 3-D kernel")
    stride, dilation = _single(name, node, "stride"), _single(name, node, "dilation")
    padding = node.padding
    if isinstance(padding, str):
        if padding == "valid":
            padding = 0
        elif padding == "same" and stride == 1 and weight.shape[2] % 2:
            padding = dilation * (weight.shape[2] - 1) // 2
        else:
            raise Unsupported(name, f"padding {padding!r} with stride {stride}", "give explicit padding")
    else:
        padding = _single(name, node, "padding")
    bias = np.asarray(node.bias, dtype=np.float64) if node.bias is not None else None
    return Conv2d(
        shape=(),
        weight=Const(weight[:, :, None, :]),
        bias=Const(bias) if bias is not None and bias.any() else None,
        stride=(1, stride),
        padding=(0, padding),
        dilation=(1, dilation),
        groups=int(node.groups),
    )


def ir_input_shape(shape: Shape, kinds: Iterable[str]) -> Shape:
    """The input's shape in snncc: a Conv1d graph's (C, L) samples are held as (C, 1, L), so that
    its convolutions are 2-D ones and everything after them (neurons, Flatten) keeps NIR's order."""
    if len(shape) == 2 and "Conv1d" in kinds:
        return (shape[0], 1, shape[1])
    return shape


def _single(name: str, node: Any, field: str) -> int:
    """A Conv1d field: an int, or a 1-element array as tools write (stride,) tuples."""
    arr = np.asarray(getattr(node, field)).reshape(-1)
    if arr.size != 1:
        raise Unsupported(name, f"Conv1d {field} must be one value, got {arr.tolist()}", "export a 1-D convolution")
    return int(arr[0])


def _pool(kind: type[Op]) -> Callable[[str, Any, Shape | None, float], Op]:
    def convert(name: str, node: Any, src: Shape | None, dt: float) -> Op:
        return kind(shape=(), kernel=_pair(node.kernel_size), stride=_pair(node.stride), padding=_pair(node.padding))

    return convert


def _flatten(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    if src is not None:
        rank = len(src)
        start = int(node.start_dim) % (rank + 1) if rank else 0
        end = int(node.end_dim) % rank if rank else 0
        # NIR counts the dims of the unbatched sample, but exporters differ (snntorch subtracts the
        # batch axis, others keep torch's start_dim = 1): flattening from dim 0 or 1 to the end
        # both mean "the whole sample" in practice, and snncc's synapses read their input in C order
        if end != rank - 1 or start > 1:
            raise Unsupported(name, f"Flatten of dims {start}..{end} of a {src} sample", "flatten whole samples")
    return Flatten(shape=())


def _delay(name: str, node: Any, src: Shape | None, dt: float) -> Op:
    """y(t) = x(t − τ) per element, τ in seconds: τ/dt whole steps (SPEC.md §delay)."""
    tau = np.asarray(node.delay, dtype=np.float64)
    steps = tau / dt
    whole = np.rint(steps)
    if tau.size == 0 or not np.isfinite(steps).all() or (whole < 0).any() or not np.allclose(steps, whole, atol=1e-6):
        raise Unsupported(
            name,
            f"delays {tau.reshape(-1)[:4].tolist()} s are not whole non-negative multiples of dt = {dt:g} s",
            "pass a --dt that divides every delay",
        )
    if src is not None and whole.size not in (1, int(np.prod(src))):
        raise Unsupported(name, f"{whole.size} delays for a {src} input", "give one delay per element or one for all")
    return Delay(shape=src or (), delay=Const(whole.astype(np.int32).reshape(src if whole.size > 1 and src else -1)))


def _pair(value: Any) -> tuple[int, int]:
    arr = np.asarray(value).reshape(-1)
    return (int(arr[0]), int(arr[0])) if arr.size == 1 else (int(arr[0]), int(arr[1]))


_CONVERTERS: dict[str, Callable[[str, Any, Shape | None, float], Op]] = {
    "Affine": _affine,
    "Linear": _affine,
    "Scale": _scale,
    "Conv1d": _conv1d,
    "Conv2d": _conv2d,
    "SumPool2d": _pool(SumPool2d),
    "AvgPool2d": _pool(AvgPool2d),
    "Flatten": _flatten,
    "LIF": _lif(spiking=True, cuba=False),
    "CubaLIF": _lif(spiking=True, cuba=True),
    "LI": _lif(spiking=False, cuba=False),
    "CubaLI": _lif(spiking=False, cuba=True),
    "IF": _if,
    "I": _integrator,
    "Threshold": _threshold,
    "Delay": _delay,
}
