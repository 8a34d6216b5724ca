"""Compare the deployed integer network with the float model, layer by layer.

Both run on the same samples in batches (memory stays bounded): the float graph in the
float simulator, the integer graph in the reference simulator.  Per neuron layer we count
how many (sample, step, neuron) spikes agree and where the first disagreement is; per
output, class agreement, accuracies against labels and the relative error of the values.

Accuracy is scored as the frameworks score it (argmax, the first class on ties), so the float
accuracy is the trained model's.  Agreement is stricter: a sample whose top readout values tie
(all-zero spike counts included) is *undecided* and agrees only where the other model's top
classes overlap its tied ones, never by both picking class 0; a sample whose output layer (or, for
a membrane readout, the spiking layers feeding it) never spikes is *silent* and never counts as
agreeing, as nothing about the network was compared on it.  ``verdict`` is the pass rule.
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
from snncc.ir import Graph, IntInput, IntLIF, IntXyloLIF, Output
from snncc.ir.ops_float import STEP_READOUTS
from snncc.parallel import ordered_map
from snncc.passes.align_depths import relays_of
from snncc.passes.quantize import quantize_inputs

MAX_SILENT = 0.5  # verification cannot pass when more than this fraction of samples is silent


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

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        del out["float_predictions"], out["deployed_predictions"]
        out["layers"] = [dataclasses.asdict(layer) for layer in self.layers]
        return out


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
) -> Comparison:
    """Run both graphs on the float inputs ``x`` (input node -> (N, *shape)) and compare them.

    Batches are independent: with an ``executor`` (snncc.parallel.executor_for) they run in other
    processes or machines; ``x`` may be memory-mapped, as only ``in_flight`` batches are read at once.
    ``device``: run the reference backend on torch tensors there ("cuda"; None: numpy).
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
    same_decision = _same_decisions(f_out, i_out, output_op.readout)
    spike_readout = output_op.readout.startswith("spike")
    norm = float(np.linalg.norm(f_out))
    diverged = [a.layer for a in agreements if a.spike_agreement < tolerance]
    verification = Verification(
        samples=n_samples,
        steps=steps,
        output=output_name,
        float_accuracy=_accuracy(f_pred, labels),
        deployed_accuracy=_accuracy(i_pred, labels),
        output_agreement=float(np.mean(same_decision & ~f_silent & ~i_silent)),
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
    )
    return Comparison(verification, it_all, ft_all)


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


def _compare_batch(job: _BatchJob) -> _BatchResult:
    """One batch on both simulators; a top-level function so that other processes can run it."""
    ft = get_backend("floatsim").run(job.float_graph, job.x, record=Record(spikes=True, layers=job.float_layers))
    it = RefSim(device=job.device).run(
        job.int_graph, quantize_inputs(job.int_graph, job.x), record=Record(spikes=True, layers=job.layers)
    )
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


def _same_decisions(a: np.ndarray, b: np.ndarray, readout: str) -> np.ndarray:
    """Per sample: do the two models' top classes overlap?  The same class where both decide; where
    one ties, its tied classes include the other's choice (a one-spike difference can break a tie)."""
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
        if isinstance(op, IntLIF) and op.spiking:
            found.append(name)
        elif not isinstance(op, IntInput):
            frontier.extend(graph.predecessors(name))
    return tuple(sorted(found))


def verdict(v: Verification, min_agreement: float, lava: dict[str, Any] | None = None) -> tuple[bool, list[str]]:
    """The pass rule: (passed, the reasons it failed).  Passing needs the same decision as the float
    model on at least ``min_agreement`` of the samples (silent and tied samples never help), an output
    that is not silent on most samples in either model, and, when Lava ran, Lava bit-exact."""
    reasons = []
    if v.output_agreement < min_agreement:
        reasons.append(f"same decision on {v.output_agreement:.2%} of samples, below the required {min_agreement:.2%}")
    for who, silent in (("float model", v.float_silent), ("deployed network", v.deployed_silent)):
        if silent > MAX_SILENT * v.samples:
            verb = "never spikes" if len(v.silence_layers) == 1 else "never spike"
            reasons.append(
                f"the {who}'s output is silent on {silent} of {v.samples} samples ({', '.join(v.silence_layers)} "
                f"{verb}): more than {MAX_SILENT:.0%}, so agreement says nothing"
            )
    if lava is not None and not lava["bit_exact"]:
        reasons.append("Lava differs from the reference backend")
    return not reasons, reasons


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
) -> dict[str, Any]:
    """Run Lava (or another bit-exact ``backend``: xylosim) and refsim on the same inputs; demand equal
    u, v and spikes at every step.

    Also scores that backend's own outputs (accuracy, agreement with the float model's predictions).
    """
    xi = quantize_inputs(int_graph, x)
    record = Record(spikes=True, v=True, u=True)
    ref = get_backend("refsim").run(int_graph, xi, record=record)
    lava = get_backend(backend).run(int_graph, xi, record=record)
    mismatch = first_mismatch(ref, lava)
    (output_name, output_op), *_ = int_graph.of_type(Output)
    predictions = predict(lava.outputs[output_name], output_op.readout)
    result: dict[str, Any] = {
        "backend": backend,
        "samples": int(lava.batch),
        "deployed_accuracy": None if labels is None else float(np.mean(predictions == labels)),
        "output_agreement": None if float_predictions is None else float(np.mean(predictions == float_predictions)),
        "bit_exact": mismatch is None,
        "compared": ["u", "v", "spikes"],
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
    return result
