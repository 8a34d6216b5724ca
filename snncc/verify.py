"""Compare the deployed integer network with the float model, layer by layer.

Both run on the same samples in batches (memory stays bounded): the float graph in the
float simulator, the integer graph in the reference simulator.  Per neuron layer we count
how many (sample, step, neuron) spikes agree and where the first disagreement is; per
output, class agreement, accuracies against labels and the relative error of the values.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from snncc.backends import Record, Trace, get_backend
from snncc.backends.base import merge_traces
from snncc.backends.refsim import RefSim
from snncc.ir import Graph, IntLIF, IntXyloLIF, Output
from snncc.ir.ops_float import STEP_READOUTS
from snncc.parallel import ordered_map
from snncc.passes.align_depths import relays_of
from snncc.passes.quantize import quantize_inputs


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
    layers = [n for n, op in int_graph.of_type(IntLIF, IntXyloLIF) if op.spiking]
    relays = relays_of(int_graph)  # the float model has no relays: each copies a layer, so compare with that
    (output_name, output_op), *_ = int_graph.of_type(Output)
    n_samples = len(next(iter(x.values())))
    equal = dict.fromkeys(layers, 0)
    counts_f = dict.fromkeys(layers, 0)
    first: dict[str, tuple[int, int, int] | None] = dict.fromkeys(layers)
    f_traces, i_traces = [], []
    batches = (
        _BatchJob(
            float_graph,
            int_graph,
            tuple(layers),
            tuple(relays.get(layer, layer) for layer in layers),
            {k: np.asarray(v[s : s + batch_size]) for k, v in x.items()},
            s,
            device,
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
    norm = float(np.linalg.norm(f_out))
    diverged = [a.layer for a in agreements if a.spike_agreement < tolerance]
    verification = Verification(
        samples=n_samples,
        steps=steps,
        output=output_name,
        float_accuracy=_accuracy(f_pred, labels),
        deployed_accuracy=_accuracy(i_pred, labels),
        output_agreement=float(np.mean(f_pred == i_pred)),
        output_rel_error=float(np.linalg.norm(i_out - f_out) / norm) if norm else float(np.abs(i_out).max()),
        layers=tuple(agreements),
        tolerance=tolerance,
        first_divergent_layer=diverged[0] if diverged else None,
        float_predictions=f_pred,
        deployed_predictions=i_pred,
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


@dataclass(frozen=True)
class _BatchResult:
    start: int
    equal: dict[str, int]
    float_spikes: dict[str, int]
    first: dict[str, tuple[int, int, int] | None]
    float_trace: Trace
    int_trace: Trace


def _compare_batch(job: _BatchJob) -> _BatchResult:
    """One batch on both simulators; a top-level function so that other processes can run it."""
    ft = get_backend("floatsim").run(job.float_graph, job.x, record=Record(spikes=True, layers=job.float_layers))
    it = RefSim(device=job.device).run(
        job.int_graph, quantize_inputs(job.int_graph, job.x), record=Record(spikes=True, layers=job.layers)
    )
    equal, float_spikes, first = {}, {}, {}
    for layer, float_layer in zip(job.layers, job.float_layers, strict=True):
        a = ft.spikes[float_layer]
        b = it.spikes[layer].reshape(a.shape)  # canonicalization may lay a layer out as its conv's (C, H, W)
        same = a == b
        equal[layer] = int(same.sum())
        float_spikes[layer] = int(a.sum())
        first[layer] = None if same.all() else _earliest(~same, job.start)
    return _BatchResult(
        job.start, equal, float_spikes, first, dataclasses.replace(ft, spikes={}), dataclasses.replace(it, spikes={})
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
    """Class per sample: argmax of the output vector, of its mean over steps for per-step readouts."""
    if readout in STEP_READOUTS:
        values = values.mean(axis=1)
    return values.reshape(values.shape[0], -1).argmax(axis=1)


def _accuracy(pred: np.ndarray, labels: np.ndarray | None) -> float | None:
    if labels is None:
        return None
    return float(np.mean(pred == labels))
