"""LavaBackend: run an integer graph in Lava's fixed-point process models (lava-nc 0.10.0).

Samples are streamed back to back through one process graph.  Every connection costs one
step, so neuron layer l (its depth from the input) sees step t of sample k at Lava step
k·T + l + t (t = 1..T) and resets at its own offset (LIFReset: reset_interval = T,
reset_offset = l + 1).  Recordings are re-indexed to aligned time (ir/SPEC.md §1.1) before
they are returned, so a Trace from Lava compares element by element with one from refsim.
A recurrent layer's own connection needs one intervention: the run pauses after the layer's last
step of each sample and empties that connection's buffer (otherwise its last spikes would reach
the next sample's first step); everything else is Lava's stock processes, unchanged.

Lava is imported only inside run(), after the Python 3.11 import fix (compat.py).
"""

from __future__ import annotations

import contextlib
import time
from typing import ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace, readout_from_traces
from snncc.backends.int_inputs import check_int_inputs, input_events
from snncc.errors import BackendError, Diagnostic, InvalidGraph
from snncc.ir import Graph, IntInput, IntLIF, IntPartialSum, Output, Stage, verify

from .lowering import LAVA, build_network, delay_clears, layer_depths, recurrent_clears, stream_length


class LavaBackend:
    name: ClassVar[str] = "lava"

    def check(self, graph: Graph) -> list[Diagnostic]:
        try:
            verify(graph, Stage.INTEGER)
        except InvalidGraph as err:
            return list(err.diagnostics)
        diags = LAVA.diagnostics(graph)
        if diags:
            return diags
        depths = layer_depths(graph)
        for name, (shortest, longest) in depths.items():
            if shortest != longest:
                diags.append(
                    Diagnostic(
                        "error",
                        "BKD010",
                        f"paths from the input reach this layer after {shortest} and after {longest} connections",
                        node=name,
                        hint="Lava adds one step per connection: delay the shorter paths with relay layers "
                        "(snncc.passes.align_depths, which every compile runs)",
                    )
                )
        return diags

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        problems = self.check(graph)
        if problems:
            raise BackendError(diagnostics=problems)
        values = check_int_inputs(graph, inputs)
        batch = len(next(iter(values.values())))
        steps = graph.meta.steps
        raw, seconds = _run_lava(graph, values, want_u=record.u)
        depths = {name: d for name, (d, _) in layer_depths(graph).items()}
        aligned = {
            var: {name: _aligned(arr, depths[name], batch, steps, graph[name].shape) for name, arr in per_layer.items()}
            for var, per_layer in raw.items()
        }
        spikes, v = aligned["spikes"], aligned["v"]
        outputs = {}
        for name, op in graph.of_type(Output):
            src = graph.predecessors(name)[0]
            outputs[name] = readout_from_traces(op.readout, spikes[src], v[src])
        counts = {name: s.sum(axis=(0, 1)) for name, s in spikes.items()}
        counts.update({name: (v[name] != 0).sum(axis=(0, 1)) for name, _ in graph.of_type(IntPartialSum)})
        stats = {name: LayerStats(spikes=int(c.sum())) for name, c in counts.items()}
        wanted = {name for name, _ in graph.of_type(IntLIF, IntPartialSum) if record.wants(name)}
        return Trace(
            batch=batch,
            steps=steps,
            outputs=outputs,
            spike_counts=counts,
            input_events={name: input_events(graph[name], x, steps) for name, x in values.items()},
            stats=stats,
            spikes={n: s.astype(np.uint8) for n, s in spikes.items() if n in wanted} if record.spikes else {},
            v={n: a for n, a in v.items() if n in wanted} if record.v else {},
            u={n: a for n, a in aligned.get("u", {}).items() if n in wanted} if record.u else {},
            wall_seconds=seconds,
        )


def _run_lava(graph: Graph, values: dict[str, np.ndarray], *, want_u: bool) -> tuple[dict, float]:
    from .compat import import_lava

    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    network = build_network(graph, values, want_u=want_u)
    batch = len(next(iter(values.values())))
    total = stream_length(graph, batch)
    anchor = next(iter(network.neurons.values()))
    config = Loihi2SimCfg(select_tag="fixed_pt")
    start = time.perf_counter()
    try:
        done = 0
        # pause where a recurrent layer has finished a sample and empty its recurrent buffers, so that
        # the next sample starts with no spikes of the last (lowering.recurrent_clears); likewise the
        # delayed synapses' buffers beyond their next message (lowering.delay_clears)
        recurrent, delayed = dict(recurrent_clears(graph, batch)), dict(delay_clears(graph, batch))
        for step in sorted({*recurrent, *delayed}):
            anchor.run(condition=RunSteps(num_steps=step - done), run_cfg=config)
            for syn in recurrent.get(step, []):
                buffer = network.recurrent[syn].a_buff
                buffer.set(np.zeros(buffer.shape, dtype=np.int32))
            for conn in (c for syn in delayed.get(step, []) for c in network.delayed[syn]):
                kept = np.array(conn.a_buff.get())
                kept[:, 1:] = 0
                conn.a_buff.set(kept.astype(np.int32))
            done = step
        anchor.run(condition=RunSteps(num_steps=total - done), run_cfg=config)
        raw = network.read()
    except Exception as exc:  # Lava raises many kinds; all mean the same to the user
        raise BackendError(f"Lava failed while running the network: {exc}", code="BKD020") from exc
    finally:
        with contextlib.suppress(Exception):
            anchor.stop()
    return raw, time.perf_counter() - start


def _aligned(arr: np.ndarray, depth: int, batch: int, steps: int, shape: tuple[int, ...]) -> np.ndarray:
    """Lava rows (step k·T + depth + t, t = 1..T, as 0-based rows) -> (batch, steps, *shape)."""
    rows = (np.arange(batch)[:, None] * steps + depth + np.arange(steps)[None, :]).reshape(-1)
    return np.rint(arr[rows]).astype(np.int64).reshape(batch, steps, *shape)


__all__ = ["IntInput", "LavaBackend"]
