"""Random xylo-family integer graphs (ir/SPEC.md §6) shaped as one Xylo core can run them."""

from __future__ import annotations

import numpy as np

from snncc.ir import XYLO, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntXyloLIF, Output, Stage


def xylo_graph(
    rng: np.random.Generator,
    channels: int,
    hidden: list[int],
    outputs: int,
    steps: int,
    recurrent: bool = True,
    weight_scale: int = 128,
    readout: str = "spike_count",
):
    """input -> hidden layers in a chain (the first ones recurrent if asked) -> output layer."""
    shifts = rng.integers(0, 8, size=3)  # one weight_bit_shift per Xylo matrix (input, hidden, readout)

    def weights(out: int, inp: int, density: float = 0.7) -> Const:
        w = rng.integers(-weight_scale, weight_scale, size=(out, inp)) * (rng.random((out, inp)) < density)
        return Const(np.clip(w, -128, 127).astype(np.int32))

    def layer(n: int, max_spikes: int, with_bias: bool) -> IntXyloLIF:
        bias = rng.integers(-300, 300, size=n) if with_bias else np.zeros(n)
        return IntXyloLIF(
            shape=(n,),
            dash_syn=int(rng.integers(0, 16)),
            dash_mem=int(rng.integers(0, 16)),
            vth=int(rng.integers(1, 1 << 15) if rng.random() < 0.2 else rng.integers(1, 4000)),
            bias=Const(bias.astype(np.int32)),
            max_spikes=max_spikes,
        )

    b = GraphBuilder()
    b.add("x", IntInput(shape=(channels,), bits=4, encoding="events"))
    src, src_n = "x", channels
    for k, n in enumerate(hidden):
        exp = int(shifts[0] if k == 0 else shifts[1])
        b.add(f"fc{k}", IntDense(shape=(n,), weight=weights(n, src_n), weight_exp=exp), [src])
        b.add(f"h{k}", layer(n, 31, with_bias=k == 0), [f"fc{k}"])
        if recurrent and k == 0:
            b.add(f"rec{k}", IntDense(shape=(n,), weight=weights(n, n, 0.3), weight_exp=int(shifts[1])), [f"h{k}"])
            b.connect(f"rec{k}", f"h{k}")
        src, src_n = f"h{k}", n
    b.add("fc_out", IntDense(shape=(outputs,), weight=weights(outputs, src_n), weight_exp=int(shifts[2])), [src])
    b.add("o", layer(outputs, 1, with_bias=False), ["fc_out"])
    b.add("out", Output(shape=(outputs,), readout=readout), ["o"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=XYLO))


def random_events(rng: np.random.Generator, batch: int, steps: int, channels: int, rate: float = 0.4) -> np.ndarray:
    """Per-step input events, 0..15 per channel (Xylo's limit), sparse like spike trains."""
    x = rng.integers(0, 16, size=(batch, steps, channels)) * (rng.random((batch, steps, channels)) < rate)
    return x.astype(np.int64)
