"""Small matchers for torch.fx nodes, shared by the framework importers."""

from __future__ import annotations

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
