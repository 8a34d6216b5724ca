"""A forward that first reshapes its input (``x.view(-1, 1, 8, 8)``, ``x.reshape(x.size(0), 1, 28, 28)``).

Users write it so that the model takes flat rows as well as images.  Such a reshape of the input
alone is no layer: snncc removes it from the trace and imports the model for the reshaped input
(compile then gives the data that shape when the sizes agree).  A reshape to one vector per sample
(``x.view(x.size(0), -1)``) is left to the walk, which imports it as a flatten.
"""

from __future__ import annotations

import torch.fx

from snncc.errors import InvalidGraph

from .fx_match import is_batch_size, size_args


def strip(graph: torch.fx.Graph) -> tuple[int, ...] | None:
    """Remove a reshape of the (only) input that keeps the batch axis; its per-sample sizes (-1: inferred).

    None when forward does not start so; the graph is then unchanged.
    """
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    if len(inputs) != 1:
        return None
    (x,) = inputs
    reshapes = [u for u in x.users if _is_reshape(u) and u.args[0] is x]
    if len(reshapes) != 1:
        return None
    (reshape,) = reshapes
    sizes = size_args(reshape)
    helpers = [a for a in sizes[:1] if isinstance(a, torch.fx.Node)]
    if set(x.users) != {reshape, *helpers} or any(len(h.users) != 1 for h in helpers):
        return None
    first, rest = sizes[0], tuple(sizes[1:])
    if not (first == -1 or is_batch_size(first, x)) or not rest or rest == (-1,):
        return None
    if not all(isinstance(s, int) and (s >= 1 or s == -1) for s in rest) or rest.count(-1) > 1:
        return None
    reshape.replace_all_uses_with(x)
    graph.erase_node(reshape)
    for helper in helpers:
        _erase_upwards(graph, helper, x)
    return rest


def resolve(sizes: tuple[int, ...], given: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The per-sample shape ``sizes`` gives a sample of shape ``given`` (GRF004 when it cannot)."""
    total = 1
    for s in given:
        total *= s
    known = 1
    for s in sizes:
        known *= s if s != -1 else 1
    shape = tuple(total // known if s == -1 else s for s in sizes)
    size = 1
    for s in shape:
        size *= s
    if size != total:
        raise InvalidGraph(
            f"forward reshapes its input to (N, {', '.join(map(str, sizes))}), which a {given} sample "
            f"({total} values) cannot take",
            code="GRF004",
            node=where,
        )
    return shape


def _is_reshape(node: torch.fx.Node) -> bool:
    if node.op == "call_method":
        return node.target in ("view", "reshape") and not node.kwargs
    return node.op == "call_function" and node.target is torch.reshape


def _erase_upwards(graph: torch.fx.Graph, node: torch.fx.Node, stop: torch.fx.Node) -> None:
    """Erase an unused helper (x.size(0), or x.shape then [0]) and what only it used, up to ``stop``."""
    while node is not stop and not node.users:
        sources = node.all_input_nodes
        graph.erase_node(node)
        if len(sources) != 1:
            return
        node = sources[0]
