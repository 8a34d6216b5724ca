"""The multi-step wrapper users train and save: runs a single-step body for T steps and reads out."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from snncc.importers.readout import READOUTS

from .neurons import reset_neurons


class SNN(nn.Module):
    """Run ``body`` for ``steps`` steps from a reset state and reduce its per-step outputs over time.

    forward(x): x is (B, *shape), presented at every step (direct input), or with
    ``sequence=True`` (T, B, *shape), one value per step.  Returns (B, *out): the mean,
    sum or last of the T per-step outputs, or with readout "steps" all of them, (B, T, *out).
    """

    def __init__(self, body: nn.Module, steps: int, readout: Literal["mean", "sum", "last", "steps"] = "mean") -> None:
        super().__init__()
        if int(steps) < 1:
            raise ValueError(f"steps must be at least 1, got {steps}")
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {READOUTS}, got {readout!r}")
        self.body = body
        self.steps = int(steps)
        self.readout = readout

    def per_step(self, x: torch.Tensor, *, sequence: bool = False) -> torch.Tensor:
        """The body's output at every step, stacked: (T, B, *out)."""
        if sequence and x.shape[0] != self.steps:
            raise ValueError(f"a sequence input needs {self.steps} steps on axis 0, got shape {tuple(x.shape)}")
        reset_neurons(self.body)
        outputs = [self.body(x[t] if sequence else x) for t in range(self.steps)]
        reset_neurons(self.body)  # drop the last state: it would hold this batch's autograd graph
        return torch.stack(outputs)

    def forward(self, x: torch.Tensor, *, sequence: bool = False) -> torch.Tensor:
        per_step = self.per_step(x, sequence=sequence)
        if self.readout == "mean":
            return per_step.mean(dim=0)
        if self.readout == "sum":
            return per_step.sum(dim=0)
        if self.readout == "steps":  # every step's output, batch first: (B, T, *out), e.g. for TET losses
            return per_step.transpose(0, 1)
        return per_step[-1]

    def extra_repr(self) -> str:
        return f"steps={self.steps}, readout={self.readout!r}"
