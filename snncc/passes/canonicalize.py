"""FLOAT -> CANONICAL: one bias-free synapse op in front of every neuron layer.

What it does (each step exact in real arithmetic, SPEC.md §2 lif):
- folds batch norm and fuses every chain of linear ops between two neuron layers
  (or the input and a neuron layer) into one Dense or Conv2d (linear_chain.py);
- inserts an identity synapse where a neuron reads another neuron or the input directly;
- moves synapse biases and the neuron's input gain into the neuron (gain becomes 1); a bias b into
  a decaying current (0 < alpha < 1) becomes its steady state in the voltage, gain·b/(1 − alpha),
  plus an initial current −gain·b/(1 − alpha) that decays as the current does (SPEC.md §lif);
- shifts a hard reset to v_reset != 0 to a reset to 0;
- folds a spike amplitude != 1 into the weights of every synapse reading the layer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import LIF, Const, Conv2d, Dense, Graph, GraphBuilder, MaxPool2d, Op, Stage

from .approximate import MAXPOOL_AFTER_NEURON, MAXPOOL_COST
from .linear_chain import FusedSynapse, fuse_chain


@dataclass(frozen=True)
class _Pending:
    """What a float node computes: a source (input or neuron) followed by linear ops."""

    source: str
    chain: tuple[tuple[str, Op], ...] = ()


def canonicalize(graph: Graph) -> Graph:
    _refuse_max_pooling(graph)
    builder = GraphBuilder()
    # what each node computes, known before any neuron is added: a recurrent synapse chain starts at
    # its own layer, which it feeds again (SPEC.md §1)
    # (a delay, the axon delay of the synapses that read it, is a source too)
    pending: dict[str, _Pending] = {
        n: _Pending(n) for n, op in graph.nodes if op.IS_INPUT or op.IS_NEURON or op.HAS_STATE
    }
    for name in graph.topo_order():
        if name not in pending and not graph[name].IS_OUTPUT:
            src = pending[graph.predecessors(name)[0]]
            pending[name] = _Pending(src.source, (*src.chain, (name, graph[name])))
    shapes: dict[str, tuple[int, ...]] = {}  # neuron -> canonical shape
    for name in graph.topo_order():
        op = graph[name]
        preds = graph.predecessors(name)
        if op.IS_INPUT:
            builder.add(name, op)
        elif op.IS_NEURON:
            shapes[name] = _add_neuron(builder, graph, name, op, [pending[p] for p in preds])
        elif op.HAS_STATE:  # a delay line
            builder.add(name, op, [_delayed_source(name, pending[preds[0]], graph)])
        elif op.IS_OUTPUT:
            src = pending[preds[0]]
            if src.chain or not graph[src.source].IS_NEURON:
                raise ImportFailed(
                    "an output must read a neuron layer",
                    code="IMT012",
                    node=name,
                    hint="end the model with a neuron or integrator layer",
                )
            builder.add(name, dataclasses.replace(op, shape=shapes[src.source]), [src.source])
    return builder.build(dataclasses.replace(graph.meta, stage=Stage.CANONICAL))


def _delayed_source(name: str, src: _Pending, graph: Graph) -> str:
    """A delay delays the spikes of a neuron layer or the input itself, as a chip's axons do (SPEC.md §delay)."""
    if any(not op.IS_RESHAPE for _, op in src.chain) or graph[src.source].HAS_STATE:
        raise ImportFailed(
            f"a delay after {graph[src.chain[-1][0]].OP if src.chain else 'a delay'}: only the outputs of a neuron "
            "layer or of the input can be delayed",
            code="IMT211",
            node=name,
            hint="put the delay right after the neuron layer (an axon delay), before the weights",
        )
    return src.source


def _refuse_max_pooling(graph: Graph) -> None:
    pools = [name for name, _ in graph.of_type(MaxPool2d)]
    if pools:
        raise ImportFailed(
            diagnostics=[
                Diagnostic(
                    "error",
                    "IMT003",
                    "max pooling of analog values has no chip form (synapses sum; nothing takes a maximum)",
                    node=name,
                    hint=f"accept --approximate {MAXPOOL_AFTER_NEURON} (the pool moved after the neuron; measured "
                    f"on user CSNNs: {MAXPOOL_COST[MAXPOOL_AFTER_NEURON]}; verification compares it with the real "
                    "max pooling), "
                    "or run `snncc finetune MODEL --target T --data TRAIN.npz --out DIR` to adapt the trained "
                    "model to that form, or retrain with the pool after the neuron (exact)",
                )
                for name in pools
            ]
        )


def _add_neuron(builder: GraphBuilder, graph: Graph, name: str, op: LIF, inputs: list[_Pending]) -> tuple[int, ...]:
    """Add the neuron and its synapses; returns the neuron's canonical shape."""
    bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape).astype(np.float64)
    current = np.zeros(op.shape)  # the initial current that synapse biases into a decaying current need
    synapse_names, synapses = [], []
    for src in inputs:
        source_op = graph[src.source]
        fused = _synapse_for(src, source_op, name, op.shape)
        spiking = graph[graph.carrier(src.source)]  # a delay carries its layer's spikes
        amplitude = spiking.amplitude if spiking.IS_NEURON else 1.0
        weight = fused.op.weight.array * (amplitude * op.gain)
        if fused.bias.any() and op.alpha == 1.0:
            raise ImportFailed(
                "a synapse bias into a current without decay (alpha = 1) grows without bound: no neuron "
                "bias or initial state reproduces it",
                code="IMT013",
                node=name,
                hint="remove the bias of the layer feeding this neuron, or give the current a decay",
            )
        # i_t = alpha·i_{t-1} + gain·b is i' + gain·b/(1 - alpha) with i' decaying from -gain·b/(1 - alpha)
        steady = op.gain * fused.bias.reshape(op.shape) / (1.0 - op.alpha)
        bias = bias + steady
        current = current - (steady if op.alpha else 0.0)
        synapse = dataclasses.replace(fused.op, weight=Const(weight))
        synapses.append(synapse)
        synapse_names.append(builder.add(fused.name, synapse, [src.source]))
    neuron = _shift_reset(name, op, bias)
    if current.any():
        start = np.broadcast_to(op.i_init.array if op.i_init is not None else 0.0, op.shape) + current
        neuron = dataclasses.replace(neuron, i_init=Const(start))
    conv_shapes = {syn.shape for syn in synapses if syn.is_conv}
    if len(conv_shapes) == 1 and conv_shapes != {tuple(op.shape)}:
        # a conv flattened straight into a neuron layer: give the layer the conv's (C, H, W) layout
        # (same neurons in the same C order), so every synapse op sees its own output shape
        neuron = _reshaped(neuron, conv_shapes.pop())
    builder.add(name, neuron, synapse_names)
    return neuron.shape


def _reshaped(op: LIF, shape: tuple[int, ...]) -> LIF:
    def fit(c: Const | None) -> Const | None:
        if c is None or c.array.ndim == 0:
            return c
        return Const(c.array.reshape(shape))

    return dataclasses.replace(op, shape=shape, bias=fit(op.bias), v_init=fit(op.v_init), i_init=fit(op.i_init))


def _synapse_for(src: _Pending, source_op: Op, neuron: str, shape: tuple[int, ...]) -> FusedSynapse:
    if any(not op.IS_RESHAPE for _, op in src.chain):  # a flatten alone moves no value
        return fuse_chain(list(src.chain), source_op.shape)
    # A neuron reading a neuron (or the input) directly: an identity synapse, named after the reader.
    ident = identity_synapse(source_op.shape, shape)
    return FusedSynapse(f"{neuron}.identity", ident, np.zeros(ident.shape))


def identity_synapse(source: tuple[int, ...], target: tuple[int, ...]) -> Dense | Conv2d:
    """Weight-1 one-to-one synapse: a 1x1 depthwise conv between equal (C, H, W) maps, else a unit matrix."""
    if len(source) == 3 and tuple(source) == tuple(target):
        c = source[0]
        return Conv2d(shape=tuple(target), weight=Const(np.ones((c, 1, 1, 1))), groups=c)
    n = int(np.prod(source))
    return Dense(shape=(n,), weight=Const(np.eye(n)))


def _shift_reset(name: str, op: LIF, bias: np.ndarray) -> LIF:
    """Move a hard reset to v_r onto 0: V' = V − v_r (SPEC.md §2 lif, canonicalization)."""
    v_r = op.v_reset if (op.spiking and op.reset == "zero") else 0.0
    v_init = np.broadcast_to(op.v_init.array if op.v_init is not None else 0.0, op.shape) - v_r
    return dataclasses.replace(
        op,
        gain=1.0,
        bias=Const(bias - (1.0 - op.beta) * v_r),
        threshold=op.threshold - v_r,
        v_init=Const(v_init),
        v_floor=None if op.v_floor is None else op.v_floor - v_r,
        v_reset=0.0,
        amplitude=1.0,
    )
