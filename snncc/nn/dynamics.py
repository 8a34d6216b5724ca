"""Pure per-step neuron equations (spikingjelly conventions, docs: neuron-models.md §2.1).

Charge H from the stored potential V and the input X, fire S = [H >= threshold],
then reset.  Each function returns new tensors and keeps no state.
"""

from __future__ import annotations

import torch

from .surrogate import spike


def lif_charge(v: torch.Tensor, x: torch.Tensor, tau: float, v_rest: float, decay_input: bool) -> torch.Tensor:
    """H = V + (X - (V - Vr0))/tau  (decay_input)  or  V - (V - Vr0)/tau + X."""
    if decay_input:
        return v + (x - (v - v_rest)) / tau
    return v - (v - v_rest) / tau + x


def if_charge(v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """H = V + X."""
    return v + x


def fire(h: torch.Tensor, threshold: float, surrogate_alpha: float) -> torch.Tensor:
    """S = [H >= threshold] with a surrogate gradient."""
    return spike(h - threshold, surrogate_alpha)


def reset(h: torch.Tensor, s: torch.Tensor, threshold: float, v_reset: float | None) -> torch.Tensor:
    """Soft (v_reset None): V = H - threshold*S.  Hard: V = v_reset where S else H."""
    if v_reset is None:
        return h - threshold * s
    # the product form keeps the gradient through S and equals where(S, v_reset, H) for S in {0, 1}
    return h * (1.0 - s) + v_reset * s
