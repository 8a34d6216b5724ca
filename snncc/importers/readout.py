"""The output node of an imported SNN: its reduction of the per-step outputs over time, at IR level.

An SNN's readout (mean, sum, last or every step of its outputs) becomes an Output node reading
either the last neuron layer's spikes (scaled by their amplitude) or, after a synapse chain, a
non-spiking readout neuron that integrates (beta 1) or holds (beta 0) the per-step values.
Shared by every importer that builds a chain of IR ops: torch (and the frameworks it reads), NIR
and ANN conversion.
"""

from __future__ import annotations

from snncc.ir import LIF, GraphBuilder, Op, Output

# what snncc.nn.SNN(readout=...) and --readout name; here, not in snncc.nn, so that the NIR importer
# needs no torch
READOUTS = ("mean", "sum", "last", "steps")


def add_readout(builder: GraphBuilder, chain: list[tuple[str, Op]], readout: str, steps: int) -> Output:
    """Append the output node (and a non-spiking readout neuron where needed) for the SNN's readout.

    chain: the (name, op) nodes after the input, in order.  Returns the Output op added.
    """
    neurons = [i for i, (_, op) in enumerate(chain) if op.IS_NEURON]
    last_name, last_op = chain[-1]
    trailing = chain[neurons[-1] + 1 :] if neurons else chain
    weighted = [op for _, op in trailing if not op.IS_RESHAPE]
    if neurons and not weighted:
        # the body ends in a neuron (a trailing flatten keeps the values in C order)
        name, op = chain[neurons[-1]]
        out = _neuron_readout(builder, name, op, readout, steps)
    else:
        # per-step values of a synapse chain: integrate them (beta 1) or keep the last (beta 0)
        readout_name = builder.add(
            f"{last_name}.readout",
            LIF(shape=last_op.shape, beta=0.0 if readout in ("last", "steps") else 1.0, spiking=False),
            [last_name],
        )
        kind = "v_steps" if readout == "steps" else "v_last"
        out = Output(shape=last_op.shape, readout=kind, scale=1.0 / steps if readout == "mean" else 1.0)
        builder.add("output", out, [readout_name])
    return out


def _neuron_readout(builder: GraphBuilder, name: str, op: LIF, readout: str, steps: int) -> Output:
    if not op.spiking:  # Integrator: its output is v
        out = {
            "mean": Output(shape=op.shape, readout="v_mean", scale=1.0),
            "sum": Output(shape=op.shape, readout="v_mean", scale=float(steps)),
            "last": Output(shape=op.shape, readout="v_last", scale=1.0),
            "steps": Output(shape=op.shape, readout="v_steps", scale=1.0),
        }[readout]
        builder.add("output", out, [name])
        return out
    if readout == "last":  # s_T: a non-spiking neuron that holds only this step's input
        held = builder.add(f"{name}.readout", LIF(shape=op.shape, beta=0.0, spiking=False), [name])
        out = Output(shape=op.shape, readout="v_last", scale=1.0)
        builder.add("output", out, [held])
        return out
    # a spike's value is the layer's amplitude (e.g. DSR's threshold)
    if readout == "steps":
        out = Output(shape=op.shape, readout="spike_steps", scale=op.amplitude)
    else:
        scale = op.amplitude / steps if readout == "mean" else op.amplitude
        out = Output(shape=op.shape, readout="spike_count", scale=scale)
    builder.add("output", out, [name])
    return out
