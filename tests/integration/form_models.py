"""One small network per neuron form a user trains in snntorch or spikingjelly, as their tutorials
write them (nn.Sequential of nn.Linear and the framework's neurons), for test_framework_forms.py.

16 inputs and 8 outputs, so that Xylo's 16 input channels and 8 outputs are never what refuses a
form; built with no arguments so that ``--arch`` can build them.
"""

from __future__ import annotations

import snntorch as snn
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import neuron, surrogate
from torch import nn


def _snntorch(neuron_of, bias: bool = True) -> list[nn.Module]:
    return [nn.Linear(16, 16, bias=bias), neuron_of(False), nn.Linear(16, 8, bias=bias), neuron_of(True)]


class LeakySubtract(nn.Sequential):
    """snntorch's default Leaky: reset_mechanism='subtract', applied one step late."""

    def __init__(self) -> None:
        super().__init__(*_snntorch(lambda out: snn.Leaky(beta=0.9, init_hidden=True, output=out)))


class LeakyZero(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            *_snntorch(lambda out: snn.Leaky(beta=0.9, reset_mechanism="zero", init_hidden=True, output=out))
        )


class SynapticSubtract(nn.Sequential):
    """snntorch's default Synaptic (subtract reset, one step late) with a membrane leak."""

    def __init__(self) -> None:
        super().__init__(
            *_snntorch(lambda out: snn.Synaptic(alpha=0.5, beta=0.9, init_hidden=True, output=out), bias=False)
        )


class SynapticNoLeak(nn.Sequential):
    """The form README names for Xylo: alpha = 1 - 2^-k, beta = 1, default reset, no biases."""

    def __init__(self) -> None:
        super().__init__(
            *_snntorch(lambda out: snn.Synaptic(alpha=0.5, beta=1.0, init_hidden=True, output=out), bias=False)
        )


def _synaptic_zero(out: bool) -> snn.Synaptic:
    return snn.Synaptic(alpha=0.5, beta=0.9, reset_mechanism="zero", reset_delay=False, init_hidden=True, output=out)


class SynapticZero(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(*_snntorch(_synaptic_zero, bias=False))


class SynapticZeroBias(nn.Sequential):
    """The same fed by nn.Linear with biases (the tutorials' default): a bias into a decaying current."""

    def __init__(self) -> None:
        super().__init__(*_snntorch(_synaptic_zero))


def _spikingjelly(neuron_of) -> list[nn.Module]:
    return [nn.Flatten(), nn.Linear(16, 16), neuron_of(), nn.Linear(16, 8), neuron_of()]


class SJLIF(nn.Sequential):
    """spikingjelly's LIFNode with its default hard reset (v_reset=0.0)."""

    def __init__(self) -> None:
        super().__init__(*_spikingjelly(lambda: neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan())))


class SJLIFSoft(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(
            *_spikingjelly(lambda: neuron.LIFNode(tau=2.0, v_reset=None, surrogate_function=surrogate.ATan()))
        )


class SJIF(nn.Sequential):
    def __init__(self) -> None:
        super().__init__(*_spikingjelly(lambda: neuron.IFNode(surrogate_function=surrogate.ATan())))


class ConvNet(nn.Module):
    """snntorch tutorial 6's convolutional net on 8x8 digits, pooling the spikes after each Leaky
    (explicit membranes in a loop over 4 steps, the stacked output spikes returned)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 8, 3, padding=1)
        self.lif1 = snn.Leaky(beta=0.9)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.lif2 = snn.Leaky(beta=0.9)
        self.fc1 = nn.Linear(16 * 2 * 2, 10)
        self.lif3 = snn.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        spk_rec = []
        for _ in range(4):
            spk1, mem1 = self.lif1(self.conv1(x), mem1)
            spk2, mem2 = self.lif2(self.conv2(F.max_pool2d(spk1, 2)), mem2)
            spk3, mem3 = self.lif3(self.fc1(F.max_pool2d(spk2, 2).flatten(1)), mem3)
            spk_rec.append(spk3)
        return torch.stack(spk_rec)


class TutorialConvNet(ConvNet):
    """snntorch tutorial 6's order: conv, then F.max_pool2d of the analog values, then Leaky."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1, mem2, mem3 = self.lif1.init_leaky(), self.lif2.init_leaky(), self.lif3.init_leaky()
        spk_rec = []
        for _ in range(4):
            spk1, mem1 = self.lif1(F.max_pool2d(self.conv1(x), 2), mem1)
            spk2, mem2 = self.lif2(F.max_pool2d(self.conv2(spk1), 2), mem2)
            spk3, mem3 = self.lif3(self.fc1(spk2.flatten(1)), mem3)
            spk_rec.append(spk3)
        return torch.stack(spk_rec)
