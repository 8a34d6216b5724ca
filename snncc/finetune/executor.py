"""A differentiable torch executor of a CANONICAL graph (input, dense, conv2d, lif, output): SPEC.md §2's
equations in aligned time, as floatsim runs them, with a surrogate gradient at every spike.

Trainable: the synapse weights and the neurons' biases (per neuron).  Thresholds, decays and initial
potentials stay as the graph has them; structural synapses (sum pooling into an OR neuron, identity
relays: weights all 1) stay fixed, so those layers keep computing exactly what they are for.
``forward`` can take each tensor's value on the target's integer grid (snncc.finetune.grid): the
forward pass then runs the deployed values and the gradient reaches the float ones (straight through).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from snncc.errors import FinetuneError
from snncc.ir import CLIF, LIF, Const, Conv2d, Dense, Graph, Input, Output

SURROGATE_SLOPE = 5.0  # per unit of threshold: the fast sigmoid's width relative to each layer's threshold


class _Spike(torch.autograd.Function):
    """Forward: the exact spike test (h > 0, or h >= 0); backward: a fast sigmoid's derivative."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, strict: bool, slope: float) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.slope = slope
        return (x > 0 if strict else x >= 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad / (ctx.slope * x.abs() + 1.0) ** 2, None, None


def structural(op: Dense | Conv2d) -> bool:
    """A synapse that pools or copies spikes (all weights 1): part of the form, not of what was learned."""
    return bool(np.all(op.weight.array == 1.0))


class GraphModule(nn.Module):
    """``graph`` (CANONICAL) as a torch module: ``forward(x)`` -> the output readout (batch, *shape)."""

    def __init__(self, graph: Graph) -> None:
        super().__init__()
        clif = [n for n, op in graph.of_type(CLIF)]
        if clif:
            raise FinetuneError(
                f"CLIF layers cannot be fine-tuned: {', '.join(clif)}",
                code="FTN003",
                hint="deploy CLIF on loihi2 as it is, or accept --approximate clif-as-hard-reset with compile",
            )
        self.graph = graph
        self.order = graph.topo_order()
        self.weights = nn.ParameterDict()
        self.biases = nn.ParameterDict()
        self.key = {name: name.replace(".", "/") for name, _ in graph}  # ParameterDict keys cannot hold '.'
        for name, op in graph:
            if op.IS_SYNAPSE:
                w = nn.Parameter(torch.tensor(op.weight.array, dtype=torch.float32))
                w.requires_grad_(not structural(op))
                self.weights[self.key[name]] = w
            elif op.IS_NEURON:
                bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape)
                b = nn.Parameter(torch.tensor(np.array(bias), dtype=torch.float32))
                b.requires_grad_(not self._fed_structurally(name))
                self.biases[self.key[name]] = b

    def _fed_structurally(self, layer: str) -> bool:
        preds = [self.graph[p] for p in self.graph.predecessors(layer)]
        return all(p.IS_SYNAPSE and structural(p) for p in preds)

    def forward(self, x: torch.Tensor, grid: dict[str, dict[str, torch.Tensor]] | None = None) -> torch.Tensor:
        """``x``: (batch, *input shape) or (batch, T, *input shape).  ``grid``: layer -> the integer
        grid's values of 'weight', 'bias', 'threshold', 'beta', 'alpha' (snncc.finetune.grid)."""
        g, grid = self.graph, grid or {}
        steps, batch = g.meta.steps, x.shape[0]
        per_step = x.dim() == len(g.of_type(Input)[0][1].shape) + 2
        state: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        out_prev: dict[str, torch.Tensor] = {}
        (out_name, out_op), *_ = g.of_type(Output)
        readings = []
        for t in range(steps):
            values: dict[str, torch.Tensor] = {}
            for name in self.order:
                op = g[name]
                if op.IS_INPUT:
                    values[name] = x[:, t] if per_step else x
                elif op.IS_SYNAPSE:
                    src = g.predecessors(name)[0]
                    if g.is_recurrent(src, name):
                        inp = out_prev.get(src)
                        if inp is None:
                            inp = torch.zeros(batch, *g[src].shape, dtype=x.dtype)
                    else:
                        inp = values[src]
                    values[name] = self._synapse(name, op, inp, grid.get(name, {}))
                elif op.IS_NEURON:
                    total = sum(values[p] for p in g.predecessors(name) if p in values)
                    total = total.reshape(batch, *op.shape)
                    s, state[name] = self._neuron(name, op, total, state.get(name), grid.get(name, {}))
                    values[name] = s
            out_prev = {n: values[n] for n, _ in g.of_type(LIF)}
            src = g.predecessors(out_name)[0]
            readings.append(values[src] if out_op.readout.startswith("spike") else state[src][1])
        stacked = torch.stack(readings, 1) * out_op.scale
        if out_op.readout in ("spike_count",):
            return stacked.sum(1)
        if out_op.readout == "v_mean":
            return stacked.mean(1)
        if out_op.readout == "v_last":
            return stacked[:, -1]
        return stacked  # per-step readouts: (batch, T, *shape)

    def _synapse(self, name: str, op: Dense | Conv2d, x: torch.Tensor, grid: dict[str, torch.Tensor]) -> torch.Tensor:
        w = _straight_through(self.weights[self.key[name]], grid.get("weight"))
        if not op.is_conv:
            return x.reshape(x.shape[0], -1) @ w.T
        return torch.nn.functional.conv2d(x, w, None, op.stride, op.padding, op.dilation, op.groups)

    def _neuron(self, name: str, op: LIF, x: torch.Tensor, state, grid: dict[str, torch.Tensor]):
        bias = _straight_through(self.biases[self.key[name]], grid.get("bias"))
        beta = grid.get("beta", op.beta)
        alpha = grid.get("alpha", op.alpha)
        theta = grid.get("threshold", op.threshold)
        if state is None:
            shape = (x.shape[0], *op.shape)
            i0 = op.i_init.array if op.i_init is not None else 0.0
            v0 = grid.get("v_init", op.v_init.array if op.v_init is not None else 0.0)
            state = (_full(i0, shape, x.dtype), _full(v0, shape, x.dtype))
        i_prev, v_prev = state
        i = alpha * i_prev + op.gain * x
        h = beta * v_prev + i + bias
        if op.v_floor is not None:
            h = torch.clamp(h, min=op.v_floor)
        if not op.spiking:
            return torch.zeros_like(h), (i, h)
        s = _Spike.apply(h - theta, op.fire == ">", SURROGATE_SLOPE / op.threshold)
        v = h * (1 - s) + s * op.v_reset if op.reset == "zero" else h - s * theta
        return s * op.amplitude, (i, v)

    def to_graph(self, grid: dict[str, dict[str, np.ndarray]] | None = None) -> Graph:
        """The graph with the current values (``grid``: those on the integer grid instead)."""
        grid = grid or {}
        changes = {}
        for name, op in self.graph:
            on_grid = grid.get(name, {})
            if op.IS_SYNAPSE:
                w = on_grid.get("weight", self.weights[self.key[name]].detach().double().numpy())
                changes[name] = dataclasses.replace(op, weight=Const(np.asarray(w, dtype=np.float64)))
            elif op.IS_NEURON:
                b = on_grid.get("bias", self.biases[self.key[name]].detach().double().numpy())
                fields = {"bias": Const(np.asarray(b, dtype=np.float64))}
                for key in ("threshold", "beta", "alpha"):
                    if key in on_grid:
                        fields[key] = float(on_grid[key])
                if "v_init" in on_grid:
                    fields["v_init"] = Const(np.asarray(on_grid["v_init"], dtype=np.float64))
                changes[name] = dataclasses.replace(op, **fields)
        return self.graph.replace_nodes(**changes)


def _straight_through(value: torch.Tensor, on_grid: torch.Tensor | None) -> torch.Tensor:
    """The grid's value forward, the float value's gradient backward."""
    return value if on_grid is None else value + (on_grid - value).detach()


def _full(value, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.broadcast_to(torch.as_tensor(np.array(value), dtype=dtype), shape).clone()
