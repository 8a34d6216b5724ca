"""Compare the deployed integer network with the float model, layer by layer.

Both run on the same samples in batches (memory stays bounded): the float graph in the
float simulator, the integer graph in the reference simulator.  Per neuron layer we count
how many (sample, step, neuron) spikes agree and where the first disagreement is; per
output, class agreement, accuracies against labels and the relative error of the values.

A model's *decision* on a sample is what the host reads from the chip: the argmax of the readout,
the first class on a tie, exactly as accuracy is scored (so the float accuracy is the trained
model's).  The agreement (``output_agreement``, "same decision") is the fraction of samples on which
both models decide the same class; a sample whose output layer (or, for a membrane readout, the
spiking layers feeding it) never spikes in either model is *silent* and never counts as agreeing,
as nothing about the network was compared on it.  Ties (top readout values shared by several
classes) and silent samples are counted separately; the tie-tolerant figure (a tie counted as
agreeing when its tied classes include the other model's choice) is kept under its own name,
``agreement_if_ties_tolerated``, and decides nothing.  ``verdict`` is the pass rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from snncc.backends import Record, Trace, first_mismatch, get_backend
from snncc.backends.base import merge_traces
from snncc.backends.refsim import RefSim
from snncc.fidelity import known_difference, reference_for
from snncc.ir import Graph, IntInput, IntLIF, IntXyloLIF, Output, Stage
from snncc.ir.ops import STEP_READOUTS
from snncc.parallel import ordered_map
from snncc.passes.align_depths import relays_of
from snncc.passes.quantize import quantize_inputs

MAX_SILENT = 0.5  # verification cannot pass when more than this fraction of samples is silent
MAX_ONE_CLASS = 0.9  # a model deciding one class on more than this fraction of varied samples is degenerate
MAX_ACCURACY_DROP_PP = 1.0  # default: deployed accuracy may fall at most this many percentage points below float


@dataclass(frozen=True)
class LayerAgreement:
    layer: str
    neurons: int
    spike_agreement: float  # fraction of (sample, step, neuron) with the same spike
    float_rate: float  # spikes per neuron per step
    deployed_rate: float
    first_mismatch: tuple[int, int, int] | None  # (sample, step, flat neuron) of the earliest difference
    relay_of: str | None = None  # a relay layer (passes/align_depths.py): compared with this float layer's spikes


@dataclass(frozen=True)
class InputRange:
    """The scored samples of one input against its calibrated integer range: values above
    ``representable_max`` (the largest input the integer input holds) are clipped to it."""

    node: str
    scored_min: float
    scored_max: float
    calibrated_max: float | None  # the calibration samples' largest value (None: not recorded)
    representable_max: float  # lsb x (2^bits - 1)
    clipped_fraction: float  # of the scored input values, above representable_max or below 0
    exact: bool  # every scored value lies on the integer grid, none clipped
    max_abs_error: float  # the largest |quantized - float| over the scored values

    @property
    def outside(self) -> bool:
        return self.clipped_fraction > 0


@dataclass(frozen=True)
class Verification:
    samples: int
    steps: int
    output: str
    float_accuracy: float | None
    deployed_accuracy: float | None
    output_agreement: float  # fraction of samples with the same predicted class
    output_rel_error: float  # ||deployed - float|| / ||float|| of the output values
    layers: tuple[LayerAgreement, ...]
    tolerance: float  # a layer below this spike agreement counts as diverged
    first_divergent_layer: str | None
    float_predictions: np.ndarray
    deployed_predictions: np.ndarray
    silence_layers: tuple[str, ...] = ()  # the layers whose silence on a sample makes that sample silent
    float_silent: int = 0  # samples on which the float model's silence_layers never spike
    deployed_silent: int = 0
    float_ties: int = 0  # samples whose top readout values tie (undecided; silent spike counts included)
    deployed_ties: int = 0
    same_readout: float | None = None  # spike readouts: fraction of samples with identical readout vectors
    # a tie counted as agreeing when its tied classes include the other model's choice: shown, never decisive
    agreement_if_ties_tolerated: float | None = None
    worst_layer: str | None = None  # the layer with the lowest spike agreement
    labels_top_count: int | None = None  # samples carrying the most common label (None: no labels)
    inputs_vary: bool = True  # the scored samples are not all the same input
    input_ranges: tuple[InputRange, ...] = ()
    float_silent_mask: np.ndarray | None = None  # (samples,) bool, per sample
    deployed_silent_mask: np.ndarray | None = None

    @property
    def float_top(self) -> tuple[int, int]:
        """(the class the float model decides most often, on how many samples)."""
        return _top(self.float_predictions)

    @property
    def deployed_top(self) -> tuple[int, int]:
        return _top(self.deployed_predictions)

    @property
    def accuracy_delta_pp(self) -> float | None:
        """Deployed minus float accuracy in percentage points (None without labels)."""
        if self.float_accuracy is None or self.deployed_accuracy is None:
            return None
        return 100 * (self.deployed_accuracy - self.float_accuracy)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("float_predictions", "deployed_predictions", "float_silent_mask", "deployed_silent_mask"):
            del out[key]
        out["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        out["input_ranges"] = [dataclasses.asdict(r) for r in self.input_ranges]
        out["float_top_class"], out["float_top_count"] = self.float_top
        out["deployed_top_class"], out["deployed_top_count"] = self.deployed_top
        out["accuracy_delta_pp"] = self.accuracy_delta_pp
        worst = next((a for a in self.layers if a.layer == self.worst_layer), None)
        out["worst_layer_agreement"] = None if worst is None else worst.spike_agreement
        return out


def _top(predictions: np.ndarray) -> tuple[int, int]:
    if len(predictions) == 0:
        return (0, 0)
    classes, counts = np.unique(predictions, return_counts=True)
    return int(classes[counts.argmax()]), int(counts.max())


@dataclass(frozen=True)
class Comparison:
    """The verification result plus the integer run's merged trace (event counts for the energy model)."""

    verification: Verification
    deployed_trace: Trace
    float_trace: Trace


def compare(
    float_graph: Graph,
    int_graph: Graph,
    x: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    *,
    tolerance: float = 0.99,
    batch_size: int = 64,
    progress: Callable[[int, int], None] | None = None,
    executor: Executor | None = None,
    in_flight: int = 4,
    device: str | None = None,
    calibrated_max: dict[str, float | None] | None = None,
) -> Comparison:
    """Run both graphs on the float inputs ``x`` (input node -> (N, *shape)) and compare them.

    Batches are independent: with an ``executor`` (snncc.parallel.executor_for) they run in other
    processes or machines; ``x`` may be memory-mapped, as only ``in_flight`` batches are read at once.
    ``device``: run the reference backend on torch tensors there ("cuda"; None: numpy).
    ``calibrated_max``: input node -> the calibration samples' largest value, for the input ranges.
    """
    relays = relays_of(int_graph)  # the float model has no relays: each copies a layer, so compare with that
    # layers an approximation added (maxpool-after-neuron's unpooled neurons) have no float counterpart
    layers = [
        n
        for n, op in int_graph.of_type(IntLIF, IntXyloLIF)
        if op.spiking and relays.get(n, n) in float_graph and _size(float_graph[relays.get(n, n)]) == _size(op)
    ]
    (output_name, output_op), *_ = int_graph.of_type(Output)
    silence = silence_layers(int_graph, output_name)
    n_samples = len(next(iter(x.values())))
    equal = dict.fromkeys(layers, 0)
    counts_f = dict.fromkeys(layers, 0)
    first: dict[str, tuple[int, int, int] | None] = dict.fromkeys(layers)
    f_traces, i_traces = [], []
    silent_f: list[np.ndarray] = []
    silent_i: list[np.ndarray] = []
    ranges: list[dict[str, _RangeCount]] = []
    first_rows: dict[str, np.ndarray] | None = None
    inputs_vary = False
    batches = (
        _BatchJob(
            float_graph,
            int_graph,
            tuple(layers),
            tuple(relays.get(layer, layer) for layer in layers),
            {k: np.asarray(v[s : s + batch_size]) for k, v in x.items()},
            s,
            device,
            silence,
        )
        for s in range(0, n_samples, batch_size)
    )
    for done in ordered_map(_compare_batch, batches, executor, in_flight):
        for layer in layers:
            equal[layer] += done.equal[layer]
            counts_f[layer] += done.float_spikes[layer]
            if done.first[layer] is not None:
                first[layer] = _earlier(first[layer], done.first[layer])
        f_traces.append(done.float_trace)
        i_traces.append(done.int_trace)
        silent_f.append(done.float_silent)
        silent_i.append(done.deployed_silent)
        ranges.append(done.input_ranges)
        first_rows = first_rows or done.first_rows
        inputs_vary = (
            inputs_vary
            or done.varies
            or any(not np.array_equal(done.first_rows[k], row) for k, row in first_rows.items())
        )
        if progress:
            progress(min(done.start + batch_size, n_samples), n_samples)
    ft_all, it_all = merge_traces(f_traces), merge_traces(i_traces)
    steps = int_graph.meta.steps
    agreements = []
    for layer in layers:
        size = int(np.prod(int_graph[layer].shape))
        total = n_samples * steps * size
        agreements.append(
            LayerAgreement(
                layer=layer,
                neurons=size,
                spike_agreement=equal[layer] / total,
                float_rate=counts_f[layer] / total,
                deployed_rate=int(it_all.spike_counts[layer].sum()) / total,
                first_mismatch=first[layer],
                relay_of=relays.get(layer),
            )
        )
    f_out = ft_all.outputs[output_name]
    i_out = it_all.outputs[output_name].reshape(f_out.shape) * output_op.scale
    f_pred, i_pred = predict(f_out, output_op.readout), predict(i_out, output_op.readout)
    f_silent, i_silent = np.concatenate(silent_f), np.concatenate(silent_i)
    tolerated = _ties_tolerated(f_out, i_out, output_op.readout)
    spike_readout = output_op.readout.startswith("spike")
    norm = float(np.linalg.norm(f_out))
    diverged = [a.layer for a in agreements if a.spike_agreement < tolerance]
    worst = min(agreements, key=lambda a: a.spike_agreement, default=None)
    verification = Verification(
        samples=n_samples,
        steps=steps,
        output=output_name,
        float_accuracy=_accuracy(f_pred, labels),
        deployed_accuracy=_accuracy(i_pred, labels),
        output_agreement=agreement(f_pred, i_pred, f_silent, i_silent),
        output_rel_error=float(np.linalg.norm(i_out - f_out) / norm) if norm else float(np.abs(i_out).max()),
        layers=tuple(agreements),
        tolerance=tolerance,
        first_divergent_layer=diverged[0] if diverged else None,
        float_predictions=f_pred,
        deployed_predictions=i_pred,
        silence_layers=silence,
        float_silent=int(f_silent.sum()),
        deployed_silent=int(i_silent.sum()),
        float_ties=int(np.sum(undecided(f_out, output_op.readout))),
        deployed_ties=int(np.sum(undecided(i_out, output_op.readout))),
        same_readout=_same_readouts(f_out, i_out) if spike_readout else None,
        agreement_if_ties_tolerated=float(np.mean(tolerated & ~f_silent & ~i_silent)),
        worst_layer=worst.layer if worst is not None and worst.spike_agreement < 1 else None,
        labels_top_count=None if labels is None else _top(np.asarray(labels))[1],
        inputs_vary=inputs_vary,
        input_ranges=_input_ranges(int_graph, ranges, calibrated_max or {}),
        float_silent_mask=f_silent,
        deployed_silent_mask=i_silent,
    )
    return Comparison(verification, it_all, ft_all)


def agreement(
    float_predictions: np.ndarray,
    deployed_predictions: np.ndarray,
    float_silent: np.ndarray | None = None,
    deployed_silent: np.ndarray | None = None,
) -> float:
    """The agreement every snncc command reports: the fraction of samples on which both models
    decide the same class (argmax, the first class on a tie: what the host reads), silent samples
    never agreeing."""
    same = np.asarray(float_predictions) == np.asarray(deployed_predictions)
    for silent in (float_silent, deployed_silent):
        if silent is not None:
            same &= ~np.asarray(silent, dtype=bool)
    return float(np.mean(same)) if len(same) else 0.0


@dataclass(frozen=True)
class _RangeCount:
    """One batch's scored values of one input against its integer range."""

    low: float
    high: float
    clipped: int
    values: int
    max_abs_error: float


def _range_counts(
    int_graph: Graph, x: dict[str, np.ndarray], quantized: dict[str, np.ndarray]
) -> dict[str, _RangeCount]:
    out = {}
    for name, op in int_graph.of_type(IntInput):
        values = np.asarray(x[name], dtype=np.float64)
        top = ((1 << op.bits) - 1) * op.scale
        clipped = int(np.count_nonzero((values > top + op.scale / 2) | (values < -op.scale / 2)))
        error = np.abs(quantized[name].astype(np.float64) * op.scale - values)
        out[name] = _RangeCount(
            float(values.min()), float(values.max()), clipped, values.size, float(error.max(initial=0.0))
        )
    return out


def _input_ranges(
    int_graph: Graph, batches: list[dict[str, _RangeCount]], calibrated_max: dict[str, float | None]
) -> tuple[InputRange, ...]:
    ranges = []
    for name, op in int_graph.of_type(IntInput):
        counts = [b[name] for b in batches if name in b]
        if not counts:
            continue
        error = max(c.max_abs_error for c in counts)
        clipped = sum(c.clipped for c in counts) / max(1, sum(c.values for c in counts))
        ranges.append(
            InputRange(
                node=name,
                scored_min=min(c.low for c in counts),
                scored_max=max(c.high for c in counts),
                calibrated_max=calibrated_max.get(name),
                representable_max=((1 << op.bits) - 1) * op.scale,
                clipped_fraction=clipped,
                exact=error <= 1e-6 * op.scale and clipped == 0,
                max_abs_error=error,
            )
        )
    return tuple(ranges)


@dataclass(frozen=True)
class _BatchJob:
    float_graph: Graph
    int_graph: Graph
    layers: tuple[str, ...]
    float_layers: tuple[str, ...]  # the float model's layer to compare each one with (itself, or what a relay copies)
    x: dict[str, np.ndarray]
    start: int
    device: str | None = None
    silence_layers: tuple[str, ...] = ()  # a sample is silent when none of these spikes (a subset of layers)


@dataclass(frozen=True)
class _BatchResult:
    start: int
    equal: dict[str, int]
    float_spikes: dict[str, int]
    first: dict[str, tuple[int, int, int] | None]
    float_trace: Trace
    int_trace: Trace
    float_silent: np.ndarray  # (batch,) bool
    deployed_silent: np.ndarray
    input_ranges: dict[str, _RangeCount] = dataclasses.field(default_factory=dict)
    first_rows: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # the batch's first sample
    varies: bool = False  # the batch's samples are not all equal


def reference_run(model: Graph, x: dict[str, np.ndarray], record: Record | None = None) -> Trace:
    """The model the deployment is verified against, run: a float model on floatsim, or a network
    that arrived integer (a netx file, snncc/netx_model.py) on refsim as it was read."""
    recorded = {} if record is None else {"record": record}
    if model.meta.stage is Stage.INTEGER:
        return RefSim().run(model, quantize_inputs(model, x), **recorded)
    return get_backend("floatsim").run(model, x, **recorded)


def _compare_batch(job: _BatchJob) -> _BatchResult:
    """One batch on both simulators; a top-level function so that other processes can run it."""
    ft = reference_run(job.float_graph, job.x, Record(spikes=True, layers=job.float_layers))
    quantized = quantize_inputs(job.int_graph, job.x)
    it = RefSim(device=job.device).run(job.int_graph, quantized, record=Record(spikes=True, layers=job.layers))
    equal, float_spikes, first = {}, {}, {}
    batch = len(next(iter(job.x.values())))
    spikes_f, spikes_i = np.zeros(batch, dtype=np.int64), np.zeros(batch, dtype=np.int64)
    for layer, float_layer in zip(job.layers, job.float_layers, strict=True):
        a = ft.spikes[float_layer]
        b = it.spikes[layer].reshape(a.shape)  # canonicalization may lay a layer out as its conv's (C, H, W)
        same = a == b
        equal[layer] = int(same.sum())
        float_spikes[layer] = int(a.sum())
        first[layer] = None if same.all() else _earliest(~same, job.start)
        if layer in job.silence_layers:
            spikes_f += (a != 0).reshape(batch, -1).sum(axis=1)
            spikes_i += (b != 0).reshape(batch, -1).sum(axis=1)
    watched = bool(job.silence_layers)  # no spiking layer to watch (input straight to the readout): none is silent
    return _BatchResult(
        job.start,
        equal,
        float_spikes,
        first,
        dataclasses.replace(ft, spikes={}),
        dataclasses.replace(it, spikes={}),
        (spikes_f == 0) & watched,
        (spikes_i == 0) & watched,
        _range_counts(job.int_graph, job.x, quantized),
        {k: v[:1] for k, v in job.x.items()},
        any(bool((v != v[:1]).any()) for v in job.x.values()),
    )


def _earliest(differs: np.ndarray, offset: int) -> tuple[int, int, int]:
    """Earliest (sample, step, neuron) by step, then sample, then neuron."""
    idx = np.argwhere(differs.reshape(differs.shape[0], differs.shape[1], -1))
    s, t, n = idx[np.lexsort((idx[:, 2], idx[:, 0], idx[:, 1]))[0]]
    return (int(s) + offset, int(t), int(n))


def _earlier(known: tuple[int, int, int] | None, candidate: tuple[int, int, int]) -> tuple[int, int, int]:
    if known is None or (candidate[1], candidate[0], candidate[2]) < (known[1], known[0], known[2]):
        return candidate
    return known


def predict(values: np.ndarray, readout: str) -> np.ndarray:
    """Class per sample: argmax of the output vector, of its mean over steps for per-step readouts
    (the first class on ties, as torch's argmax: ``undecided`` says where that happened)."""
    return _per_class(values, readout).argmax(axis=1)


def undecided(values: np.ndarray, readout: str) -> np.ndarray:
    """Per sample: is the top readout value shared by several classes (e.g. all spike counts zero)?"""
    return _on_top(_per_class(values, readout)).sum(axis=1) > 1


def _on_top(flat: np.ndarray) -> np.ndarray:
    return flat == flat.max(axis=1, keepdims=True)


def _per_class(values: np.ndarray, readout: str) -> np.ndarray:
    if readout in STEP_READOUTS:
        values = values.mean(axis=1)
    return values.reshape(values.shape[0], -1)


def _same_readouts(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of samples whose spike readouts are equal (counts times the same amplitude)."""
    return float(np.mean(np.all(np.isclose(a, b, rtol=1e-9, atol=0).reshape(len(a), -1), axis=1)))


def _ties_tolerated(a: np.ndarray, b: np.ndarray, readout: str) -> np.ndarray:
    """Per sample: do the two models' top classes overlap?  The same class where neither ties; where
    one ties, its tied classes include the other's choice.  Not the agreement (the chip's decision
    on a tie is its first tied class): report.json's agreement_if_ties_tolerated, shown, never decisive."""
    return np.any(_on_top(_per_class(a, readout)) & _on_top(_per_class(b, readout)), axis=1)


def _size(op) -> int:
    return int(np.prod(op.shape))


def silence_layers(graph: Graph, output: str) -> tuple[str, ...]:
    """The spiking layers whose spikes decide a sample: the read-out layer if it spikes, else the
    spiking layers feeding it (a membrane readout of a layer whose inputs never spike is the same
    for every sample)."""
    (layer,) = graph.predecessors(output)
    if getattr(graph[layer], "spiking", False):
        return (layer,)
    found: list[str] = []
    frontier, seen = list(graph.predecessors(layer)), {layer}
    while frontier:
        name = frontier.pop()
        if name in seen:
            continue
        seen.add(name)
        op = graph[name]
        if op.IS_NEURON and getattr(op, "spiking", False):  # Loihi's and Xylo's spiking layers alike
            found.append(name)
        elif not op.IS_INPUT:
            frontier.extend(graph.predecessors(name))
    return tuple(sorted(found))


def verdict(
    v: Verification,
    min_agreement: float,
    lava: dict[str, Any] | None = None,
    max_accuracy_drop: float = MAX_ACCURACY_DROP_PP,
) -> tuple[bool, list[str]]:
    """The pass rule: (passed, the reasons it failed).  Passing needs the same decision as the float
    model on at least ``min_agreement`` of the samples (silent samples never agree), with labels a
    deployed accuracy at most ``max_accuracy_drop`` percentage points below float, decisions that
    are not one class whatever the sample (``degenerate``), an output that is not silent on most
    samples in either model, and, when Lava ran, Lava bit-exact."""
    reasons = []
    if v.output_agreement < min_agreement:
        reasons.append(f"same decision on {v.output_agreement:.2%} of samples, below the required {min_agreement:.2%}")
    delta = v.accuracy_delta_pp
    if delta is not None and -delta > max_accuracy_drop + 1e-9:
        reasons.append(
            f"deployed accuracy {v.deployed_accuracy:.2%} is {-delta:.2f} pp below float {v.float_accuracy:.2%}, "
            f"more than the allowed {max_accuracy_drop:g} pp (--max-accuracy-drop)"
        )
    for who, silent in (("float model", v.float_silent), ("deployed network", v.deployed_silent)):
        if silent > MAX_SILENT * v.samples:
            verb = "never spikes" if len(v.silence_layers) == 1 else "never spike"
            reasons.append(
                f"the {who}'s output is silent on {silent} of {v.samples} samples ({', '.join(v.silence_layers)} "
                f"{verb}): more than {MAX_SILENT:.0%}, so agreement says nothing"
            )
    reasons += degenerate(v)
    if lava is not None and not lava["bit_exact"]:
        reasons.append("Lava differs from the reference backend")
    return not reasons, reasons


def degenerate(v: Verification) -> list[str]:
    """Why the decisions say nothing: a model that decides one class on more than MAX_ONE_CLASS of
    the samples while the labels vary (without labels: while the other model varies, or the samples
    do), i.e. its output does not depend on its input.  A test set whose labels are that uniform
    (or one sample repeated) may be answered with one class."""
    if v.samples < 2:
        return []
    limit = MAX_ONE_CLASS * v.samples
    tops = {"float model": v.float_top, "deployed network": v.deployed_top}
    reasons = []
    for who, (cls, count) in tops.items():
        if count <= limit:
            continue
        other_who, (_, other_count) = next((w, t) for w, t in tops.items() if w != who)
        if v.labels_top_count is not None:
            if v.labels_top_count > limit:
                continue  # the labels are (nearly) one class themselves
            why = f"while the labels vary (the most common label is on {v.labels_top_count} of {v.samples})"
        elif other_count <= limit:
            why = f"while the {other_who}'s decisions vary"
        elif v.inputs_vary:
            why = "whatever the input (the samples differ; there are no labels)"
        else:
            continue
        reasons.append(
            f"degenerate decisions: the {who} decides class {cls} on {count} of {v.samples} samples {why}: "
            "its output does not depend on the input, so agreement says nothing"
        )
    return reasons


def silent_samples(trace: Trace, layers: tuple[str, ...]) -> np.ndarray | None:
    """Per sample of a run that recorded spikes: did none of ``layers`` spike? (None: not recorded)"""
    if not layers:
        return np.zeros(trace.batch, dtype=bool)
    if any(layer not in trace.spikes for layer in layers):
        return None
    spikes = sum(np.asarray(trace.spikes[layer] != 0).reshape(trace.batch, -1).sum(axis=1) for layer in layers)
    return np.asarray(spikes) == 0


def _accuracy(pred: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    return float(np.mean(pred == labels))


def lava_check(
    int_graph: Graph,
    x: dict[str, np.ndarray],
    *,
    float_predictions: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    backend: str = "lava",
    float_silent: np.ndarray | None = None,
) -> dict[str, Any]:
    """Run Lava (or another bit-exact ``backend``: xylosim, nengo-loihi) and refsim on the same inputs; demand
    equal u, v and spikes at every step, under the semantics snncc.fidelity.reference_for names.

    Also scores that backend's own outputs (accuracy, and the agreement with the float model's
    decisions, ``float_silent`` samples never agreeing, as ``compare`` counts it).
    """
    xi = quantize_inputs(int_graph, x)
    record = Record(spikes=True, v=True, u=True)
    ref_graph, semantics = reference_for(backend, int_graph)  # Lava: without the chip's accumulator bound
    ref = get_backend("refsim").run(ref_graph, xi, record=record)
    lava = get_backend(backend).run(int_graph, xi, record=record)
    mismatch = first_mismatch(ref, lava)
    (output_name, output_op), *_ = int_graph.of_type(Output)
    predictions = predict(lava.outputs[output_name], output_op.readout)
    silent = silent_samples(lava, silence_layers(int_graph, output_name))
    result: dict[str, Any] = {
        "backend": backend,
        "samples": int(lava.batch),
        "deployed_accuracy": None if labels is None else float(np.mean(predictions == labels)),
        "output_agreement": None
        if float_predictions is None
        else agreement(float_predictions, predictions, float_silent, silent),
        "bit_exact": mismatch is None,
        "compared": ["u", "v", "spikes"],
        "semantics": semantics,
        "wall_seconds": round(lava.wall_seconds, 3),
        "steps_per_second": round(lava.batch * lava.steps / lava.wall_seconds, 1) if lava.wall_seconds else None,
    }
    if mismatch is not None:
        var, sample, step, neuron, expected, got, layer = mismatch
        result["first_mismatch"] = {
            "variable": var,
            "layer": layer,
            "sample": sample,
            "step": step,
            "neuron": list(neuron),
            "refsim": expected,
            backend: got,
        }
        if backend == "nengo-loihi":
            result["first_mismatch"]["known_difference"] = known_difference(int_graph, mismatch, ref.u)
    return result
