"""Models written as the spikingjelly and snntorch tutorials write them, unchanged by snncc's needs.

spikingjelly's clock_driven single-step examples loop over time by hand around a single-step
network (``for t in range(T): out_fr += net(x)``, ``out_fr = out_fr / T``, ``functional.reset_net``);
snntorch's tutorials 5/6 count spikes over their loop.  Here the loop sits in a wrapper's forward
(how users deploy the tutorial nets), with the input reshape the tutorials do on MNIST.  Built with
no arguments so that ``--arch`` can build them.
"""

from __future__ import annotations

import snntorch
import torch
from snntorch import utils
from spikingjelly.activation_based import encoding, functional, layer, neuron, surrogate
from torch import nn

T = 4


class SJLoopMLP(nn.Module):
    """spikingjelly lif_fc_mnist, single-step, the time loop in forward; takes flat or 8x8 images."""

    def __init__(self, T: int = T, tau: float = 2.0) -> None:
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 48, bias=False),
            neuron.LIFNode(tau=tau, surrogate_function=surrogate.ATan()),
            nn.Linear(48, 10, bias=False),
            neuron.LIFNode(tau=tau, surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        for t in range(self.T):
            if t == 0:
                out_fr = self.net(x)
            else:
                out_fr += self.net(x)
        out_fr = out_fr / self.T
        functional.reset_net(self.net)
        return out_fr


class SJLoopCSNN(nn.Module):
    """spikingjelly conv_fashion_mnist in single-step mode: conv-BN-IF-maxpool twice, a linear IF layer;
    its forward reshapes the (flat) input to images and sums the output spikes over a loop."""

    def __init__(self, T: int = T, channels: int = 8) -> None:
        super().__init__()
        self.T = T
        self.conv_fc = nn.Sequential(
            layer.Conv2d(1, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),
            layer.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False),
            layer.BatchNorm2d(channels),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.MaxPool2d(2, 2),
            layer.Flatten(),
            layer.Linear(channels * 2 * 2, 10, bias=False),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 8, 8)
        out = 0.0
        for _ in range(self.T):
            out += self.conv_fc(x)
        functional.reset_net(self)
        return out / self.T


class SJEncodedLoop(SJLoopMLP):
    """The tutorial's Poisson encoder moved into forward: ``self.net(self.encoder(x))`` at every step."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = encoding.PoissonEncoder()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(x.shape[0], -1)
        out_fr = 0.0
        for _ in range(self.T):
            out_fr += self.net(self.encoder(x))
        out_fr = out_fr / self.T
        functional.reset_net(self.net)
        return out_fr


class SJViewRepeat(nn.Module):
    """Multi-step spikingjelly, its input grown over time with ``x.view(1, -1, ...).repeat(T, ...)``."""

    def __init__(self, T: int = T) -> None:
        super().__init__()
        self.T = T
        self.net = nn.Sequential(
            layer.Flatten(),
            layer.Linear(64, 48),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
            layer.Linear(48, 10),
            neuron.IFNode(surrogate_function=surrogate.ATan()),
        )
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_seq = x.view(1, -1, 1, 8, 8).repeat(self.T, 1, 1, 1, 1)
        return self.net(x_seq).mean(0)


class STCountNet(nn.Module):
    """snntorch tutorial 5's network with a running spike count instead of a spike record."""

    def __init__(self, hidden: int = 48, beta: float = 0.9, num_steps: int = T) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.fc1 = nn.Linear(64, hidden)
        self.lif1 = snntorch.Leaky(beta=beta)
        self.fc2 = nn.Linear(hidden, 10)
        self.lif2 = snntorch.Leaky(beta=beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        cnt = 0
        for _ in range(self.num_steps):
            cur1 = self.fc1(x.view(x.size(0), -1))
            spk1, mem1 = self.lif1(cur1, mem1)
            cur2 = self.fc2(spk1)
            spk2, mem2 = self.lif2(cur2, mem2)
            cnt = cnt + spk2
        return cnt


class STWideCountNet(STCountNet):
    """STCountNet with 4200 hidden neurons: each output neuron reads 4200 spikes, more than the 4096
    input axons of a Loihi 2 core (a user who widened the tutorial's hidden layer)."""

    def __init__(self, hidden: int = 4200, **kwargs) -> None:
        super().__init__(hidden=hidden, **kwargs)


class STHiddenNet(nn.Module):
    """snntorch tutorial 7's form: Leaky(init_hidden=True) in nn.Sequential, the last with output=True,
    looped over time in forward after utils.reset, the spike record stacked."""

    def __init__(self, beta: float = 0.9, num_steps: int = T) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.net = nn.Sequential(
            nn.Flatten(),
            nn.Linear(64, 32),
            snntorch.Leaky(beta=beta, init_hidden=True),
            nn.Linear(32, 10),
            snntorch.Leaky(beta=beta, init_hidden=True, output=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        utils.reset(self.net)
        spk_rec = []
        for _ in range(self.num_steps):
            spk_out, _mem_out = self.net(x)
            spk_rec.append(spk_out)
        return torch.stack(spk_rec)


class STSynapticNet(nn.Module):
    """snntorch tutorial 3's neuron, Synaptic (a decaying input current), called with explicit current
    and membrane in the time loop, the output spikes stacked and summed over time."""

    def __init__(self, hidden: int = 48, alpha: float = 0.8, beta: float = 0.9, num_steps: int = T) -> None:
        super().__init__()
        self.num_steps = num_steps
        self.fc1 = nn.Linear(64, hidden)
        self.lif1 = snntorch.Synaptic(alpha=alpha, beta=beta)
        self.fc2 = nn.Linear(hidden, 10)
        self.lif2 = snntorch.Synaptic(alpha=alpha, beta=beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        syn1, mem1 = self.lif1.init_synaptic()
        syn2, mem2 = self.lif2.init_synaptic()
        spk2_rec = []
        for _ in range(self.num_steps):
            spk1, syn1, mem1 = self.lif1(self.fc1(x.flatten(1)), syn1, mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spk2_rec.append(spk2)
        return torch.stack(spk2_rec, dim=0).sum(0)


class STDeadHidden(STCountNet):
    """STCountNet with hand-set thresholds: the hidden layer's (50) is too high for it ever to spike,
    the output layer's (0.1) low enough for the output biases alone to fire it, so the output is the
    same whatever the input; trained, it answers one class."""

    def __init__(self, hidden: int = 48, beta: float = 0.9, num_steps: int = T) -> None:
        super().__init__(hidden=hidden, beta=beta, num_steps=num_steps)
        self.lif1 = snntorch.Leaky(beta=beta, threshold=50.0)
        self.lif2 = snntorch.Leaky(beta=beta, threshold=0.1)


class STTutorialCSNN(nn.Module):
    """snntorch tutorial 6's CSNN on 8x8 digits: Conv2d -> MaxPool2d -> Leaky twice, Linear -> Leaky,
    Leaky(init_hidden=True) in nn.Sequential, subtract reset (the default), the spike record stacked.
    The pool takes the maximum of analog currents before the neuron: no chip has that operation."""

    def __init__(self, beta: float = 0.5, num_steps: int = 8, channels: tuple[int, int] = (8, 16)) -> None:
        super().__init__()
        self.num_steps = num_steps
        c1, c2 = channels
        grad = snntorch.surrogate.fast_sigmoid(slope=25)
        self.net = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1),
            nn.MaxPool2d(2),
            snntorch.Leaky(beta=beta, spike_grad=grad, init_hidden=True),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.MaxPool2d(2),
            snntorch.Leaky(beta=beta, spike_grad=grad, init_hidden=True),
            nn.Flatten(),
            nn.Linear(c2 * 2 * 2, 10),
            snntorch.Leaky(beta=beta, spike_grad=grad, init_hidden=True, output=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 8, 8)
        utils.reset(self.net)
        spk_rec = []
        for _ in range(self.num_steps):
            spk_out, _mem_out = self.net(x)
            spk_rec.append(spk_out)
        return torch.stack(spk_rec)
