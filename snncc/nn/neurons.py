"""Trainable single-step neuron modules with spikingjelly's equations.

Each module keeps its membrane potential ``v`` between calls; ``reset()`` restores the
initial state (v_reset for a hard reset, 0 for a soft reset).  The stored ``v`` is not
pickled, so ``torch.save(model)`` never captures a half-run state or an autograd graph.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .dynamics import fire, if_charge, lif_charge, reset


class Neuron(nn.Module):
    """Shared state handling of the snncc neurons (not used directly)."""

    v: torch.Tensor | None

    def __init__(self) -> None:
        super().__init__()
        self.v = None

    def initial_v(self) -> float:
        return 0.0

    def reset(self) -> None:
        """Forget the state: the next call starts from the initial potential."""
        self.v = None

    def _stored_v(self, x: torch.Tensor) -> torch.Tensor:
        if self.v is None or self.v.shape != x.shape:
            return torch.full_like(x, self.initial_v())
        return self.v

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["v"] = None
        return state


class LIF(Neuron):
    """Leaky integrate-and-fire neuron (spikingjelly ``LIFNode``, single step).

    H = V + (X - (V - Vr0))/tau if decay_input else V - (V - Vr0)/tau + X, with Vr0 = v_reset or 0;
    S = [H >= threshold]; V = v_reset where S (hard) or H - threshold*S (soft, v_reset None).
    """

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        surrogate_alpha: float = 2.0,
    ) -> None:
        super().__init__()
        if not tau > 1.0:
            raise ValueError(f"tau must be above 1 (got {tau}): the decay 1 - 1/tau must lie in (0, 1)")
        self.tau = float(tau)
        self.threshold = float(threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.decay_input = bool(decay_input)
        self.surrogate_alpha = float(surrogate_alpha)

    def initial_v(self) -> float:
        return 0.0 if self.v_reset is None else self.v_reset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v_rest = 0.0 if self.v_reset is None else self.v_reset
        h = lif_charge(self._stored_v(x), x, self.tau, v_rest, self.decay_input)
        s = fire(h, self.threshold, self.surrogate_alpha)
        self.v = reset(h, s, self.threshold, self.v_reset)
        return s

    def extra_repr(self) -> str:
        return f"tau={self.tau}, threshold={self.threshold}, v_reset={self.v_reset}, decay_input={self.decay_input}"


class IF(Neuron):
    """Integrate-and-fire neuron: H = V + X, then fire and reset as ``LIF``."""

    def __init__(self, threshold: float = 1.0, v_reset: float | None = 0.0, surrogate_alpha: float = 2.0) -> None:
        super().__init__()
        self.threshold = float(threshold)
        self.v_reset = None if v_reset is None else float(v_reset)
        self.surrogate_alpha = float(surrogate_alpha)

    def initial_v(self) -> float:
        return 0.0 if self.v_reset is None else self.v_reset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = if_charge(self._stored_v(x), x)
        s = fire(h, self.threshold, self.surrogate_alpha)
        self.v = reset(h, s, self.threshold, self.v_reset)
        return s

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, v_reset={self.v_reset}"


class CubaLIF(Neuron):
    """Current-based LIF (snntorch ``Synaptic``, NIR ``CubaLIF`` discretised), single step.

    I = alpha·I + X;  H = beta·V + I;  S = [H >= threshold];  V = H − threshold·S (soft reset).
    The neuron of SynSense Xylo, whose decays are bit shifts: alpha and beta of the form
    1 − 2^−k deploy exactly there (ir/SPEC.md §6.4).
    """

    i: torch.Tensor | None

    def __init__(self, alpha: float = 0.5, beta: float = 0.75, threshold: float = 1.0, surrogate_alpha: float = 2.0):
        super().__init__()
        if not (0.0 <= alpha < 1.0 and 0.0 <= beta <= 1.0):
            raise ValueError(f"alpha must lie in [0, 1) and beta in [0, 1] (got {alpha}, {beta})")
        self.alpha, self.beta = float(alpha), float(beta)
        self.threshold = float(threshold)
        self.surrogate_alpha = float(surrogate_alpha)
        self.i = None

    def reset(self) -> None:
        self.v = self.i = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i_prev = self.i if self.i is not None and self.i.shape == x.shape else torch.zeros_like(x)
        self.i = self.alpha * i_prev + x
        h = self.beta * self._stored_v(x) + self.i
        s = fire(h, self.threshold, self.surrogate_alpha)
        self.v = reset(h, s, self.threshold, None)
        return s

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["i"] = None
        return state

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, threshold={self.threshold}"


class Integrator(Neuron):
    """Non-spiking readout: V = V + X every step; outputs V (starts at 0)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.v = if_charge(self._stored_v(x), x)
        return self.v


def reset_neurons(module: nn.Module) -> None:
    """Reset every snncc neuron inside ``module`` (itself included)."""
    for m in module.modules():
        if isinstance(m, Neuron):
            m.reset()
