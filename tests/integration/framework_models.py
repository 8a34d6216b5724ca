"""Models written the way spikingjelly and snntorch users write them, for test_frameworks_compile.py.

Built with no arguments (their defaults are the trained settings), so that ``--arch`` can build them.
"""

from __future__ import annotations

import snntorch
import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

STEPS = 4


class SJConvNet(nn.Module):
    """spikingjelly's tutorial pattern: multi-step modules, T-repeated input, firing rate over time."""

    def __init__(self, T: int = STEPS, channels: int = 8) -> None:
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            layer.SeqToANNContainer(nn.Conv2d(1, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels)),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.AvgPool2d(2),
            layer.Flatten(),
            layer.Dropout(0.1),
            layer.Linear(channels * 16, 10),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan()),
        )
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_seq = x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)  # [N, C, H, W] -> [T, N, C, H, W]
        return self.net(x_seq).mean(0)


class SJNeedsArgs(SJConvNet):
    def __init__(self, T: int, channels: int = 8) -> None:
        super().__init__(T, channels)


class STNet(nn.Module):
    """snntorch's tutorial pattern: Leaky layers called with explicit membranes in a time loop."""

    def __init__(self, hidden: int = 64, beta: float = 0.9, steps: int = STEPS, reset: str = "zero") -> None:
        super().__init__()
        self.steps = steps
        self.fc1 = nn.Linear(64, hidden)
        self.lif1 = snntorch.Leaky(beta=beta, reset_mechanism=reset)
        self.fc2 = nn.Linear(hidden, 10)
        self.lif2 = snntorch.Leaky(beta=beta, reset_mechanism=reset)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        for _ in range(self.steps):
            cur1 = self.fc1(x.flatten(1))
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


class STNetSubtract(STNet):
    """snntorch's default reset (subtract, delayed): a soft reset, which Loihi 2 has and Loihi 1 lacks."""

    def __init__(self) -> None:
        super().__init__(reset="subtract")
