"""Heaviside spike function with a surrogate gradient (forward exact, backward smooth)."""

from __future__ import annotations

import math

import torch


class _ArctanHeaviside(torch.autograd.Function):
    """Forward: [x >= 0].  Backward: derivative of arctan(pi/2 * alpha * x)/pi + 1/2."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return (x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        alpha = ctx.alpha
        grad = alpha / 2 / (1 + (math.pi / 2 * alpha * x) ** 2)
        return grad_output * grad, None


def spike(x: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """1.0 where x >= 0 else 0.0; gradient of a scaled arctan (spikingjelly's ATan default, alpha 2)."""
    return _ArctanHeaviside.apply(x, alpha)
