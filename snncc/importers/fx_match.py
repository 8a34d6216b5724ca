"""Small matchers for torch.fx nodes, shared by the framework importers."""

from __future__ import annotations

import operator
from typing import Any

import torch
import torch.fx


def is_call(node: Any, name: str) -> bool:
    """Whether node is x.name(...) or torch.name(x, ...)."""
    if not isinstance(node, torch.fx.Node):
        return False
    if node.op == "call_method":
        return node.target == name
    return node.op == "call_function" and node.target is getattr(torch, name, None)


def dim_arg(node: torch.fx.Node) -> Any:
    """The dim argument of a call such as x.mean(0), torch.stack(xs, dim=0) (None when not given)."""
    return node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")


def size_args(node: torch.fx.Node) -> tuple[Any, ...]:
    """The sizes of x.view(a, b), x.view((a, b)), x.repeat(a, b), torch.reshape(x, (a, b))."""
    args = node.args[1:]
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def is_batch_size(arg: Any, tensor: Any) -> bool:
    """x.size(0), x.shape[0] or len(x) of the same tensor: the batch dimension."""
    if not isinstance(arg, torch.fx.Node):
        return False
    if arg.op == "call_method" and arg.target == "size":
        return arg.args[0] is tensor and (arg.args[1:] == (0,) or arg.kwargs == {"dim": 0})
    if arg.op == "call_function" and arg.target is operator.getitem and arg.args[1] == 0:
        shape = arg.args[0]
        return isinstance(shape, torch.fx.Node) and shape.op == "call_function" and shape.args == (tensor, "shape")
    return arg.op == "call_function" and arg.target is len and arg.args[0] is tensor


def source_line(node: torch.fx.Node) -> str | None:
    """Where in the user's forward a traced node comes from ('net.py:12: x = x.permute(0, 2, 1)'), when
    the tracer recorded it (its stack trace starts with the user's frame)."""
    lines = (node.stack_trace or "").splitlines()
    if len(lines) < 2 or not lines[0].strip().startswith('File "'):
        return None
    path, _, rest = lines[0].strip()[len('File "') :].partition('", line ')
    if "/torch/" in path:  # inside a torch container's forward, not the user's line
        return None
    number = rest.split(",")[0]
    return f"{path.rsplit('/', 1)[-1]}:{number}: {lines[1].strip()}"
