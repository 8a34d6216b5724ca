"""Human-readable listing of a graph, one node per line (used by --dump and in reports)."""

from __future__ import annotations

from .const import Const
from .graph import Graph


def format_value(value: object) -> str:
    if isinstance(value, Const):
        arr = value.array
        if arr.size == 1:
            return repr(arr.reshape(-1)[0].item())
        return f"<{arr.dtype} {tuple(arr.shape)} min={arr.min()} max={arr.max()}>"
    return repr(value)


def print_graph(graph: Graph) -> str:
    meta = graph.meta
    lines = [f"graph stage={meta.stage.value} steps={meta.steps} dt={meta.dt} source={meta.source!r}"]
    for name in graph.topo_order():
        op = graph[name]
        args = ", ".join(f"{k}={format_value(v)}" for k, v in {**op.scalars(), **op.consts()}.items() if k != "shape")
        preds = ", ".join(graph.predecessors(name))
        lines.append(f"  %{name}: {op.OP}{list(op.shape)} ({preds}) {{{args}}}")
    return "\n".join(lines)
