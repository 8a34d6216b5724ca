"""Read a lava-dl netx HDF5 network (``.net``) into an INTEGER-stage graph.

The graph computes exactly what lava-dl's ``netx.hdf5.Network`` runs on Lava's fixed-point
models (format facts: snncc/netx_format.py), in snncc's aligned time (ir/SPEC.md §1.1).

Blocks: ``input`` (with or without its own neuron), ``conv``, ``dense`` and ``flatten``
(a reshape: int_dense already reads its input flattened in C order, which is netx's order).
An input block with a neuron is driven through that neuron's bias (lava-dl's tests set
``bias_mant``): with iDecay = 4096 that equals a graded input of the same values through a
one-to-one synapse of weight 1, which is how it is imported (input ``input`` → ``layer0.drive``
→ ``layer0``); the input values are then bias mantissas (13-bit signed).  The input block's
``weight``/``bias`` transform is kept in the graph's notes: netx does not apply it.

Every unsupported block or setting is reported at once.  Codes: LOD003 no such file, LOD201
not a readable HDF5 file, LOD202 not a netx layout, IMT201 unsupported block type, IMT202
unsupported neuron or setting, IMT203 weights or biases netx would not apply exactly,
IMT204 inconsistent shapes, IMT205 bad arguments.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, ImportFailed, InvalidGraph, ModelLoadError
from snncc.importers.hdf5_guard import check_hdf5
from snncc.ir import (
    LOIHI,
    READOUTS,
    Const,
    Graph,
    GraphBuilder,
    GraphMeta,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    Numerics,
    Output,
    Stage,
    verify,
)
from snncc.ir.op import conv_out_hw
from snncc.netx_format import (
    BIAS_EXP,
    NEURON_TYPES,
    PREFIX,
    REF_DELAY,
    SUPPORTED_BLOCKS,
    dense_weight_problem,
    mantissa_exponent,
)

__all__ = ["read_netx"]

MAX_NETX_DELAY = 62  # lava-dl netx hdf5.create_dense clamps larger delays (with a warning)
INPUT_NEURON_BITS = 13  # input values drive Lava's bias_mant, a 13-bit signed field


class _Skip(Exception):
    """A block that cannot be imported; its diagnostic is already recorded."""


@dataclass
class _State:
    """What the walk over the blocks has built so far."""

    builder: GraphBuilder
    numerics: Numerics
    source: str
    last: str | None = None  # the node the next block reads
    last_op: IntLIF | None = None  # the last neuron layer built
    shape: tuple[int, ...] | None = None  # the next block's input shape (C, H, W) or (n,); None if unknown
    flatten_pending: bool = False
    broken: bool = False  # an earlier block failed: later blocks are checked but not built


def read_netx(
    path: str | Path,
    *,
    steps: int | None = None,
    input_bits: int | None = None,
    readout: str | None = None,
) -> Graph:
    """The netx file at ``path`` as a verified INTEGER graph.

    steps: time steps per sample (default: the file's simulation/tSample).
    input_bits: width of graded input values for a file whose input block has no neuron
    (netx's ``input_message_bits``; default 1: binary spikes).
    readout: of the last layer (default spike_count, or v_last when it never fires).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError("no such file", code="LOD003", source=str(path), hint="check the path of the .net file")
    if readout is not None and readout not in READOUTS:
        raise ImportFailed(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}", code="IMT205")
    if input_bits is not None and not 1 <= input_bits <= 31:
        raise ImportFailed(f"input_bits must be 1..31, got {input_bits}", code="IMT205")
    h5py = _h5py()
    try:
        check_hdf5(path)  # nothing outside the file, nothing larger than the limits
        handle = h5py.File(path, "r")
    except OSError as err:
        raise ModelLoadError(
            f"not a readable HDF5 file ({err})",
            code="LOD201",
            source=str(path),
            hint="a netx network is the .net file written by lava-dl's export_hdf5",
        ) from err
    try:
        with handle:
            return _read(handle, path, steps=steps, input_bits=input_bits, readout=readout)
    except (ImportFailed, InvalidGraph, ModelLoadError) as err:
        raise err.located(str(path)) from err
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as err:  # damaged data inside a valid header
        raise ModelLoadError(
            f"the file is damaged or not a netx network ({type(err).__name__}: {err})", code="LOD202", source=str(path)
        ) from err


def _h5py() -> Any:
    try:
        import h5py
    except ImportError as err:  # pragma: no cover - h5py is in requirements.txt
        raise ImportFailed("reading netx files needs h5py", code="IMT205", hint="pip install h5py==3.12.1") from err
    return h5py


def _read(handle: Any, path: Path, *, steps: int | None, input_bits: int | None, readout: str | None) -> Graph:
    layers = handle.get("layer")
    if layers is None or not hasattr(layers, "keys"):
        raise ModelLoadError(
            "the file has no 'layer' group",
            code="LOD202",
            hint="a netx network holds its blocks in /layer/0, /layer/1, …",
        )
    names = sorted(layers.keys(), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
    if not names or names != [str(i) for i in range(len(names))]:
        raise ModelLoadError(f"the 'layer' group must hold blocks 0..n-1, found {names[:8]}", code="LOD202")
    steps = _steps(handle, steps)
    numerics = _numerics(handle)
    state = _State(GraphBuilder(), numerics, f"netx:{path}")
    problems: list[Diagnostic] = []
    notes: dict[str, str] = {"importer": "netx"}
    if PREFIX + "source" in handle.attrs:  # the model snncc compiled before it wrote this file
        notes["netx_written_from"] = str(handle.attrs[PREFIX + "source"])
    for i, key in enumerate(names):
        block = layers[key]
        where = f"layer/{key}"
        kind = _text(block, "type", where)
        try:
            if kind not in SUPPORTED_BLOCKS:
                problems.append(_unsupported(where, kind))
                raise _Skip
            if (kind == "input") != (i == 0):
                problems.append(Diagnostic("error", "IMT204", "the first block, and only it, is an input", node=where))
                raise _Skip
            if kind == "input":
                _input(state, block, where, input_bits, problems, notes)
            elif kind == "flatten":
                state.flatten_pending = True
            else:
                _layer(state, block, where, kind, i, problems)
        except _Skip:
            state.broken = True
    if problems:
        raise ImportFailed(diagnostics=problems)
    last_op = state.last_op
    if last_op is None or state.last is None:
        raise ImportFailed("the network has no neuron layer", code="IMT204", hint="netx networks end in a neuron block")
    out_attrs = _attrs(handle, "output")
    chosen = readout or out_attrs.get("readout") or ("spike_count" if last_op.spiking else "v_last")
    state.builder.add(
        str(out_attrs.get("name", "output")),
        Output(shape=last_op.shape, readout=chosen, scale=float(out_attrs.get("scale", 1.0))),
        [state.last],
    )
    meta = GraphMeta(
        stage=Stage.INTEGER,
        steps=steps,
        source=state.source,
        numerics=numerics,
    ).with_notes(**notes)
    return verify(state.builder.build(meta))


# --- file-level fields --------------------------------------------------------------------------


def _steps(handle: Any, steps: int | None) -> int:
    if steps is not None:
        if not isinstance(steps, int) or steps < 1:
            raise ImportFailed(f"steps must be a positive integer, got {steps!r}", code="IMT205")
        return steps
    sim = handle.get("simulation")
    if sim is not None and "tSample" in sim:
        value = int(np.asarray(sim["tSample"][()]).reshape(-1)[0])
        if value >= 1:
            return value
    raise ImportFailed(
        "the file does not say how many steps a sample runs (no simulation/tSample)",
        code="IMT205",
        hint="pass steps=T",
    )


def _numerics(handle: Any) -> Numerics:
    """The numerics snncc recorded when it wrote the file, else Lava's (which netx runs on)."""
    recorded = handle.attrs.get(PREFIX + "numerics")
    if recorded is None:
        return LOIHI
    try:
        return Numerics.from_dict(json.loads(recorded))
    except (ValueError, TypeError) as err:
        raise ModelLoadError(f"unreadable {PREFIX}numerics attribute ({err})", code="LOD202") from err


def _attrs(handle: Any, key: str) -> dict[str, Any]:
    raw = handle.attrs.get(PREFIX + key)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, TypeError) as err:
        raise ModelLoadError(f"unreadable {PREFIX}{key} attribute ({err})", code="LOD202") from err
    return value if isinstance(value, dict) else {}


def _text(group: Any, key: str, where: str) -> str:
    if not hasattr(group, "keys") or key not in group:
        raise ImportFailed(f"the block has no '{key}'", code="LOD202", node=where)
    value = np.asarray(group[key][()]).reshape(-1)
    if value.size != 1:
        raise ImportFailed(f"'{key}' must hold one string", code="LOD202", node=where)
    item = value[0]
    return (item.decode("ascii", "replace") if isinstance(item, bytes) else str(item)).strip()


def _ints(group: Any, key: str, where: str, default: Any = None) -> np.ndarray:
    if key not in group:
        if default is not None:
            return np.asarray(default, dtype=np.int64)
        raise ImportFailed(f"the block has no '{key}'", code="LOD202", node=where)
    raw = np.asarray(group[key][()])
    if raw.dtype.kind not in "iuf" or not np.all(np.isfinite(raw)) or np.any(raw != np.trunc(raw)):
        raise ImportFailed(
            f"'{key}' must hold integers (netx truncates other values)",
            code="IMT203",
            node=where,
            hint="netx stores integer weights, biases and neuron parameters",
        )
    return raw.astype(np.int64)


def _scalar(group: Any, key: str, where: str, default: int | None = None) -> int:
    values = _ints(group, key, where, default)
    if values.size != 1:
        raise ImportFailed(f"'{key}' must be one number, got shape {values.shape}", code="LOD202", node=where)
    return int(values.reshape(-1)[0])


def _pair(group: Any, key: str, where: str, default: int) -> tuple[int, int]:
    values = _ints(group, key, where, default).reshape(-1)
    if values.size == 1:
        return (int(values[0]), int(values[0]))
    if values.size != 2:
        raise ImportFailed(f"'{key}' must hold 1 or 2 numbers", code="LOD202", node=where)
    return (int(values[0]), int(values[1]))  # the file's order is (y, x), as snncc's (H, W)


def _declared_shape(block: Any, kind: str) -> tuple[int, ...] | None:
    """The block's own 'shape' (dense: flattened to (n,)), or None when it has no integer shape."""
    if kind == "flatten" or "shape" not in block:
        return None
    raw = np.asarray(block["shape"][()]).reshape(-1)
    if raw.dtype.kind not in "iu" or raw.size == 0:
        return None
    shape = tuple(int(s) for s in raw)
    return shape if kind != "dense" else (int(np.prod(shape)),)


def _unsupported(where: str, kind: str) -> Diagnostic:
    return Diagnostic(
        "error",
        "IMT201",
        f"block type '{kind}' is not supported",
        node=where,
        hint=f"snncc imports netx blocks {', '.join(SUPPORTED_BLOCKS)} (CUBA neurons)",
    )


def _names(block: Any, neuron: str, synapse: str) -> tuple[str, str]:
    """Node names: snncc's own when it wrote the file, else layer<i> and layer<i>.<kind>."""
    return str(block.attrs.get(PREFIX + "name", neuron)), str(block.attrs.get(PREFIX + "synapse", synapse))


# --- blocks -------------------------------------------------------------------------------------


def _input(
    state: _State, block: Any, where: str, input_bits: int | None, problems: list[Diagnostic], notes: dict[str, str]
) -> None:
    shape = tuple(int(s) for s in _ints(block, "shape", where).reshape(-1))
    if len(shape) not in (1, 3) or min(shape) < 1:
        problems.append(Diagnostic("error", "IMT204", f"input shape {shape} is not (C, H, W) or (n,)", node=where))
        raise _Skip
    attrs = block.attrs
    for key in ("weight", "bias"):
        if key in block:
            notes[f"netx_input_{key}"] = json.dumps(np.asarray(block[key][()], dtype=float).reshape(-1).tolist())
    input_name = str(attrs.get(PREFIX + "input", "input"))
    input_scale = float(attrs.get(PREFIX + "input_scale", 1.0))
    if "neuron" not in block:
        op = IntInput(
            shape=shape,
            bits=input_bits or int(attrs.get(PREFIX + "bits", 1)),
            signed=bool(attrs.get(PREFIX + "signed", False)),
            encoding="graded",
            scale=input_scale,
        )
        state.last = state.builder.add(input_name, op)
        state.shape = shape
        return
    neuron_name, drive_name = _names(block, "layer0", "layer0.drive")
    lif = _neuron(block["neuron"], None, shape, where, problems, input_block=True, scale=attrs.get(PREFIX + "scale"))
    source = state.builder.add(
        input_name,
        IntInput(
            shape=shape,
            bits=int(attrs.get(PREFIX + "bits", INPUT_NEURON_BITS)),
            signed=bool(attrs.get(PREFIX + "signed", True)),
            encoding="graded",
            scale=input_scale,
        ),
    )
    drive_name = state.builder.add(drive_name, _identity(shape), [source])
    state.last = state.builder.add(neuron_name, lif, [drive_name])
    state.last_op, state.shape = lif, shape
    notes["netx_input_neuron"] = neuron_name


def _identity(shape: tuple[int, ...]) -> IntConv2d | IntDense:
    """Weight-1 one-to-one synapse: a 1×1 depthwise conv on maps, a unit matrix on vectors."""
    if len(shape) == 3:
        return IntConv2d(shape=shape, weight=Const(np.ones((shape[0], 1, 1, 1), np.int32)), groups=shape[0])
    return IntDense(shape=shape, weight=Const(np.eye(shape[0], dtype=np.int32)))


def _layer(state: _State, block: Any, where: str, kind: str, index: int, problems: list[Diagnostic]) -> None:
    """A conv or dense block: synapse op + neuron layer.  Its own checks run even after an earlier block failed."""
    declared = _declared_shape(block, kind)
    if declared is None:
        problems.append(Diagnostic("error", "LOD202", "the block has no integer 'shape'", node=where))
        raise _Skip
    scale = block.attrs.get(PREFIX + "scale")
    lif = _attempt(
        lambda: _neuron(block.get("neuron"), block, declared, where, problems, input_block=False, scale=scale)
    )
    delays_fit = _delays_fit(block, where, kind, problems)
    if state.broken or state.shape is None or state.last is None:
        raise _Skip  # no input shape to check the synapse against
    hint = block.attrs.get(PREFIX + "weight_exp")
    prefer = None if hint is None else int(hint)
    if kind == "dense" and len(state.shape) == 3 and state.last_op is not None and not state.flatten_pending:
        problems.append(
            Diagnostic(
                "error",
                "IMT204",
                f"a dense block cannot read the {state.shape} maps of a neuron layer without a flatten block",
                node=where,
                hint="netx flattens maps only where a flatten block says so",
            )
        )
        raise _Skip
    build = _conv if kind == "conv" else _dense
    syn = _attempt(lambda: build(state, block, where, problems, prefer))
    delay = _attempt(lambda: _delays(block, where, syn, problems)) if syn is not None and delays_fit else None
    if syn is None or lif is None or delay is None:
        raise _Skip
    if syn.shape != declared:
        problems.append(
            Diagnostic(
                "error", "IMT204", f"'shape' {declared} does not match the weights' output {syn.shape}", node=where
            )
        )
        raise _Skip
    neuron_name, syn_name = _names(block, f"layer{index}", f"layer{index}.{kind}")
    if delay.any():
        syn_nodes = _delayed(state, syn_name, syn, delay, str(block.attrs.get(PREFIX + "delay", f"{syn_name}.delay")))
    else:
        syn_nodes = [state.builder.add(syn_name, syn, [state.last])]
    state.last = state.builder.add(neuron_name, lif, syn_nodes)
    state.last_op, state.shape, state.flatten_pending = lif, lif.shape, False


def _delays_fit(block: Any, where: str, kind: str, problems: list[Diagnostic]) -> bool:
    """Whether the block's delays (if any) are ones snncc imports as netx runs them."""
    if "delay" not in block:
        return True
    raw = _ints(block, "delay", where)
    fail = None
    if kind != "dense":
        fail = "netx ignores a conv block's delays"
    elif raw.size and (raw.min() < 0 or raw.max() > MAX_NETX_DELAY):
        fail = f"delays span {raw.min()}..{raw.max()}; netx clamps them to 0..{MAX_NETX_DELAY}"
    if fail is not None:
        problems.append(Diagnostic("error", "IMT202", fail, node=where, hint="give delays of 0..62 steps"))
    return fail is None


def _delays(block: Any, where: str, syn: Any, problems: list[Diagnostic]) -> np.ndarray:
    """The block's synaptic delays as netx applies them, one per synapse (out, in); zeros without any.
    netx (hdf5.create_dense) reads a scalar, a vector of one delay per output (its first reading when
    in == out) or per input, or a full matrix, and clamps above 62."""
    if "delay" not in block:
        return np.zeros((1, 1), dtype=np.int64)
    raw = _ints(block, "delay", where)
    out, n_in = syn.weight.shape
    if raw.size == 1:
        return np.full((out, n_in), int(raw.reshape(-1)[0]))
    if raw.ndim == 1 and raw.size in (out, n_in):
        return np.repeat(raw.reshape(-1, 1), n_in, 1) if raw.size == out else np.repeat(raw.reshape(1, -1), out, 0)
    if raw.shape == (out, n_in):
        return raw
    problems.append(Diagnostic("error", "IMT204", f"delay of shape {raw.shape} for weights {(out, n_in)}", node=where))
    raise _Skip


def _delayed(state: _State, syn_name: str, syn: IntDense, delay: np.ndarray, delay_name: str) -> list[str]:
    """A dense block with delays (SPEC.md §int_delay): one int_delay of the source and the dense where
    every input has one delay (the synapses from input i wait d_i), else one (int_delay, int_dense)
    pair per delay value, the dense holding the synapses of that delay (what Lava's DelayDense sums)."""
    assert state.shape is not None
    if (delay == delay[:1]).all():
        line = state.builder.add(
            delay_name, IntDelay(shape=state.shape, delay=Const(delay[0].astype(np.int32))), [state.last]
        )
        return [state.builder.add(syn_name, syn, [line])]
    names = []
    for k in np.unique(delay):
        line = state.builder.add(
            f"{delay_name}{k}", IntDelay(shape=state.shape, delay=Const(np.array([k], np.int32))), [state.last]
        )
        part = dataclasses.replace(syn, weight=Const(np.where(delay == k, syn.weight.array, 0).astype(np.int32)))
        names.append(state.builder.add(f"{syn_name}.d{k}", part, [line]))
    return names


def _attempt(make: Any) -> Any:
    """make(), or None when it recorded its problems and gave up."""
    try:
        return make()
    except _Skip:
        return None


def _conv(state: _State, block: Any, where: str, problems: list[Diagnostic], prefer: int | None) -> IntConv2d:
    src = state.shape
    if state.flatten_pending or src is None or len(src) != 3:
        problems.append(Diagnostic("error", "IMT204", f"a conv block needs a (C, H, W) input, got {src}", node=where))
        raise _Skip
    raw = _ints(block, "weight", where)
    if raw.ndim == 5 and raw.shape[-1] == 1:  # older slayer exports keep a time axis of 1
        raw = raw[..., 0]
    if raw.ndim != 4:
        problems.append(Diagnostic("error", "IMT204", f"conv weight has shape {raw.shape}", node=where))
        raise _Skip
    groups = _scalar(block, "groups", where, 1)
    stride, padding = _pair(block, "stride", where, 1), _pair(block, "padding", where, 0)
    dilation = _pair(block, "dilation", where, 1)
    if groups < 1 or src[0] != raw.shape[1] * groups or raw.shape[0] % groups:
        problems.append(
            Diagnostic(
                "error", "IMT204", f"conv weight {raw.shape} with {groups} group(s) cannot read {src}", node=where
            )
        )
        raise _Skip
    h, w = conv_out_hw((src[1], src[2]), (raw.shape[2], raw.shape[3]), stride, padding, dilation)
    fit = mantissa_exponent(raw, state.numerics, prefer)
    if fit is None:
        problems.append(_weights_unrepresentable(where, raw))
        raise _Skip
    mant, exp = fit
    return IntConv2d(
        shape=(raw.shape[0], h, w),
        weight=Const(mant),
        weight_exp=exp,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
    )


def _dense(state: _State, block: Any, where: str, problems: list[Diagnostic], prefer: int | None) -> IntDense:
    assert state.shape is not None
    n_in = int(np.prod(state.shape))
    shape = _ints(block, "shape", where).reshape(-1)
    n_out = int(np.prod(shape))
    raw = _ints(block, "weight", where)
    if raw.ndim == 1 and raw.size == n_out * n_in:
        raw = raw.reshape(n_out, n_in)  # netx reshapes a flat dense weight to (out, -1)
    if raw.shape != (n_out, n_in):
        problems.append(
            Diagnostic("error", "IMT204", f"dense weight has shape {raw.shape}, expected ({n_out}, {n_in})", node=where)
        )
        raise _Skip
    problem = dense_weight_problem(raw)
    if problem is not None:
        problems.append(
            Diagnostic(
                "error",
                "IMT203",
                f"netx would not apply these dense weights exactly: {problem}",
                node=where,
                hint="only files whose weights Lava runs unchanged are imported",
            )
        )
        raise _Skip
    fit = mantissa_exponent(raw, state.numerics, prefer)
    if fit is None:
        problems.append(_weights_unrepresentable(where, raw))
        raise _Skip
    return IntDense(shape=(n_out,), weight=Const(fit[0]), weight_exp=fit[1])


def _weights_unrepresentable(where: str, raw: np.ndarray) -> Diagnostic:
    return Diagnostic(
        "error",
        "IMT203",
        f"weights in [{int(raw.min())}, {int(raw.max())}] need more than 8 mantissa bits with one exponent",
        node=where,
        hint="the integer IR holds 8-bit weight mantissas with a per-layer exponent",
    )


def _neuron(
    group: Any,
    block: Any,
    shape: tuple[int, ...],
    where: str,
    problems: list[Diagnostic],
    *,
    input_block: bool,
    scale: Any,
) -> IntLIF:
    """Lava's LIF as netx configures it: vth = vThMant, du = iDecay − 1, dv = vDecay, bias_exp 6."""
    if group is None:  # netx's default for a dense block without neuron: a non-leaky current integrator
        i_decay, v_decay, vth, ref, kind = 0, 4096, 1 << 17, REF_DELAY, "CUBA"
    else:
        kind = _text(group, "type", where + "/neuron")
        i_decay, v_decay = _scalar(group, "iDecay", where), _scalar(group, "vDecay", where)
        vth, ref = _scalar(group, "vThMant", where), _scalar(group, "refDelay", where, REF_DELAY)
        for key in ("gradedSpike", "messageBits"):
            if key in group and int(np.asarray(group[key][()]).reshape(-1)[0]):
                problems.append(
                    Diagnostic(
                        "error",
                        "IMT202",
                        f"graded output spikes ({key}) are not supported",
                        node=where,
                        hint="snncc's neuron layers send binary spikes",
                    )
                )
    bad = []
    if kind not in NEURON_TYPES:
        bad.append(f"neuron type '{kind}' (snncc imports {' and '.join(NEURON_TYPES)} neurons)")
    if not 0 <= i_decay <= 4096 or not 0 <= v_decay <= 4096:
        bad.append(f"iDecay {i_decay} / vDecay {v_decay} outside 0..4096")
    if ref > REF_DELAY:
        bad.append(f"refractory delay {ref} (Lava's LIF and the integer IR have none)")
    if vth < 0:
        bad.append(f"negative threshold {vth}")
    if input_block and i_decay != 4096:
        bad.append(
            f"an input neuron with iDecay {i_decay}: its bias and its synaptic input differ then; snncc needs iDecay 4096"
        )
    if bad:
        problems.extend(Diagnostic("error", "IMT202", f"unsupported {b}", node=where) for b in bad)
        raise _Skip
    bias_mant, bias_exp = _bias(block, shape, where, problems)
    never = vth * 64 > LOIHI.v_max  # v saturates below the threshold: the layer cannot fire
    return IntLIF(
        shape=shape,
        du=i_decay - 1,
        dv=v_decay,
        vth=LOIHI.vth_max if never else vth,
        bias_mant=Const(bias_mant),
        bias_exp=Const(bias_exp),
        v_init=Const(np.zeros(shape, np.int32)),
        spiking=not never,
        scale=1.0 if scale is None else float(scale),
    )


def _bias(block: Any, shape: tuple[int, ...], where: str, problems: list[Diagnostic]) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron (mantissa, exponent) of netx's bias·2^6, using snncc's recorded exponents when present."""
    zeros = np.zeros(shape, np.int32)
    if block is None or "bias" not in block:
        return zeros, np.full(shape, BIAS_EXP, np.int32)
    raw = _ints(block, "bias", where)
    if raw.size == 1:
        value = np.full(shape, int(raw.reshape(-1)[0]), np.int64)
    elif len(shape) == 1 and raw.size == shape[0]:
        value = raw.reshape(shape)
    elif len(shape) == 3 and raw.shape == (shape[2], shape[1], shape[0]):
        value = raw.transpose(2, 1, 0)  # a per-neuron bias is stored in Lava's (x, y, c) order
    elif len(shape) == 3 and raw.reshape(-1).size == shape[0]:
        value = np.broadcast_to(raw.reshape(-1)[:, None, None], shape)  # one bias per channel
    else:
        problems.append(Diagnostic("error", "IMT204", f"bias of shape {raw.shape} does not fit {shape}", node=where))
        raise _Skip
    total = value << BIAS_EXP  # the bias in v LSB
    exp = np.full(shape, BIAS_EXP, np.int64)
    recorded = block.get(PREFIX + "bias_exp")
    if recorded is not None and np.shape(recorded) == shape:  # snncc's own exponents, where they are exact
        hint = np.clip(np.asarray(recorded[()], np.int64), LOIHI.bias_exp_min, LOIHI.bias_exp_max)
        exp = np.where(total % (1 << hint) == 0, hint, exp)
    up = (np.abs(total >> exp) > LOIHI.bias_mant_max) & (exp < LOIHI.bias_exp_max)
    exp = np.where(up & (total % (1 << (exp + 1)) == 0), exp + 1, exp)  # a larger exponent where still exact
    mant = total >> exp
    if np.any(mant < -LOIHI.bias_mant_max - 1) or np.any(mant > LOIHI.bias_mant_max):
        problems.append(
            Diagnostic(
                "error",
                "IMT203",
                f"biases up to {int(np.abs(value).max())} exceed Lava's 13-bit bias mantissa",
                node=where,
                hint="Lava's LIF holds bias_mant in 13 bits",
            )
        )
        raise _Skip
    return mant.astype(np.int32), exp.astype(np.int32)
