"""The neuron models of snncc's source papers, as trainable single-step modules.

Each follows the published forward pass (neuron-models.md §3) and maps exactly onto snncc's
IR (ir/SPEC.md §lif, §clif); the importer documents each mapping next to its converter.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .dynamics import fire, if_charge, lif_charge, reset
from .neurons import IF, LIF, Neuron


class PLIF(LIF):
    """Parametric LIF (Fang et al. 2021): LIF whose 1/tau = sigmoid(w) is learned, one per layer."""

    def __init__(
        self,
        init_tau: float = 2.0,
        threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        surrogate_alpha: float = 2.0,
    ) -> None:
        super().__init__(init_tau, threshold, v_reset, decay_input, surrogate_alpha)
        self.w = nn.Parameter(torch.tensor(-math.log(init_tau - 1.0)))

    @property
    def inverse_tau(self) -> float:
        return float(torch.sigmoid(self.w.detach()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v_rest = 0.0 if self.v_reset is None else self.v_reset
        v = self._stored_v(x)
        k = torch.sigmoid(self.w)
        h = v + (x - (v - v_rest)) * k if self.decay_input else v - (v - v_rest) * k + x
        s = fire(h, self.threshold, self.surrogate_alpha)
        self.v = reset(h, s, self.threshold, self.v_reset)
        return s

    def extra_repr(self) -> str:
        return f"1/tau={self.inverse_tau:.4f}, threshold={self.threshold}, v_reset={self.v_reset}"


class KLIF(LIF):
    """KLIF (Jiang & Zhang 2023): LIF charge, then F = ReLU(k·H) with a learned k > 0; fire and reset on F."""

    def __init__(
        self,
        tau: float = 2.0,
        threshold: float = 1.0,
        v_reset: float | None = 0.0,
        decay_input: bool = True,
        k: float = 1.0,
        surrogate_alpha: float = 2.0,
    ) -> None:
        super().__init__(tau, threshold, v_reset, decay_input, surrogate_alpha)
        self.k = nn.Parameter(torch.tensor(float(k)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v_rest = 0.0 if self.v_reset is None else self.v_reset
        h = lif_charge(self._stored_v(x), x, self.tau, v_rest, self.decay_input)
        f = torch.relu(self.k * h)
        s = fire(f, self.threshold, self.surrogate_alpha)
        self.v = reset(f, s, self.threshold, self.v_reset)
        return s


class CLIF(Neuron):
    """Complementary LIF (Huang et al. 2024), the ComplementaryLIFNeuron semantics.

    H = (1 − 1/tau)·V + X;  S = [H >= threshold];  m = m·sigmoid(H/tau) + S;
    V = H − S·(threshold + sigmoid(m)).  Both V and m start at 0 every sample.
    """

    def __init__(self, tau: float = 2.0, threshold: float = 1.0, surrogate_alpha: float = 2.0) -> None:
        super().__init__()
        if not tau > 1.0:
            raise ValueError(f"tau must be above 1 (got {tau})")
        self.tau = float(tau)
        self.threshold = float(threshold)
        self.surrogate_alpha = float(surrogate_alpha)
        self.m: torch.Tensor | None = None

    def reset(self) -> None:
        super().reset()
        self.m = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = self._stored_v(x)
        m = self.m if self.m is not None and self.m.shape == x.shape else torch.zeros_like(x)
        h = (1.0 - 1.0 / self.tau) * v + x
        s = fire(h, self.threshold, self.surrogate_alpha)
        self.m = m * torch.sigmoid(h / self.tau) + s
        self.v = h - s * (self.threshold + torch.sigmoid(self.m))
        return s

    def __getstate__(self):
        state = super().__getstate__()
        state["m"] = None
        return state

    def extra_repr(self) -> str:
        return f"tau={self.tau}, threshold={self.threshold}"


class DSRIF(Neuron):
    """DSR integrate-and-fire (Meng et al. 2022): learned threshold Vth per layer, output amplitude Vth.

    V = V + X;  S = [V >= alpha·Vth];  V = V − Vth·S;  output Vth·S.  Vth is clamped to >= vth_bound.
    """

    def __init__(self, vth: float = 1.0, alpha: float = 0.5, vth_bound: float = 0.01, surrogate_alpha: float = 2.0):
        super().__init__()
        self.vth = nn.Parameter(torch.tensor(float(vth)))
        self.alpha = float(alpha)
        self.vth_bound = float(vth_bound)
        self.surrogate_alpha = float(surrogate_alpha)

    def threshold(self) -> torch.Tensor:
        return torch.clamp(self.vth, min=self.vth_bound)

    def charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return if_charge(v, x)

    def amplitude(self, vth: torch.Tensor) -> torch.Tensor:
        return vth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        vth = self.threshold()
        h = self.charge(self._stored_v(x), x)
        s = fire(h, self.alpha * vth, self.surrogate_alpha)
        self.v = h - vth * s
        return self.amplitude(vth) * s

    def extra_repr(self) -> str:
        return f"vth={float(self.vth):.4f}, alpha={self.alpha}"


class DSRLIF(DSRIF):
    """DSR LIF: V = beta·V + (1 − beta)·X with beta = exp(−delta_t/tau); output Vth·S/delta_t."""

    def __init__(
        self,
        tau: float = 1.0,
        delta_t: float = 0.05,
        vth: float = 0.3,
        alpha: float = 0.3,
        vth_bound: float = 5e-4,
        surrogate_alpha: float = 2.0,
    ):
        super().__init__(vth, alpha, vth_bound, surrogate_alpha)
        self.tau = float(tau)
        self.delta_t = float(delta_t)

    @property
    def beta(self) -> float:
        return math.exp(-self.delta_t / self.tau)

    def charge(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return self.beta * v + (1.0 - self.beta) * x

    def amplitude(self, vth: torch.Tensor) -> torch.Tensor:
        return vth / self.delta_t


class _LearnedInitialPotential:
    """Mixin: a learned initial membrane potential per neuron (IMP-SNN), re-applied every sample."""

    v0: nn.Parameter

    def _init_v0(self, shape: tuple[int, ...], low: float, high: float) -> None:
        self.v0 = nn.Parameter(torch.empty(shape).uniform_(low, high))

    def _stored_v(self, x: torch.Tensor) -> torch.Tensor:
        if self.v is None or self.v.shape != x.shape:
            return self.v0.expand_as(x)
        return self.v


class IMPLIF(_LearnedInitialPotential, LIF):
    """LIF whose potential starts every sample at a learned per-neuron v0 (IMP-SNN, Zhou et al. 2024)."""

    def __init__(self, shape: tuple[int, ...], tau: float = 2.0, threshold: float = 1.0, v_reset: float | None = 0.0,
                 decay_input: bool = True, surrogate_alpha: float = 2.0) -> None:  # fmt: skip
        super().__init__(tau, threshold, v_reset, decay_input, surrogate_alpha)
        self._init_v0(tuple(shape), 0.4, 0.6)


class IMPIF(_LearnedInitialPotential, IF):
    """IF whose potential starts every sample at a learned per-neuron v0."""

    def __init__(self, shape: tuple[int, ...], threshold: float = 1.0, v_reset: float | None = 0.0,
                 surrogate_alpha: float = 2.0) -> None:  # fmt: skip
        super().__init__(threshold, v_reset, surrogate_alpha)
        self._init_v0(tuple(shape), 0.4, 0.6)
