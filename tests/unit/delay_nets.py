"""Networks with synaptic delays, built the way their users build them: a NIR graph with nir.Delay
(nir's own API), and a lava-dl netx file laid out as slayer's ``export_hdf5`` writes a dense block
with axonal delays (lava-dl slayer/block/base.py: ``delay`` = floor of each output neuron's delay)."""

from __future__ import annotations

import itertools
from pathlib import Path

import h5py
import nir
import numpy as np

DT = 1e-3
DELAYS = np.array([0, 1, 2, 3, 5, 9])  # steps, one per neuron of the first layer


def if_node(n: int) -> nir.IF:
    """IF with r = 1/dt: each step adds the input to v (forward Euler); spikes on v > 1, reset to 0."""
    return nir.IF(r=np.full(n, 1 / DT), v_threshold=np.ones(n), v_reset=np.zeros(n))


def weights(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(0.3, 0.4, (6, 8)), rng.normal(0.3, 0.5, (3, 6))


def delayed_nir(delays_s: np.ndarray | None = None, seed: int = 3) -> nir.NIRGraph:
    """input (8) → Affine → IF (6) → Delay (per neuron) → Affine → IF (3) → output."""
    w1, w2 = weights(seed)
    nodes = {
        "in": nir.Input({"input": np.array([8])}),
        "fc1": nir.Affine(w1, np.zeros(6)),
        "n1": if_node(6),
        "d": nir.Delay(DELAYS * DT if delays_s is None else delays_s),
        "fc2": nir.Affine(w2, np.zeros(3)),
        "n2": if_node(3),
        "out": nir.Output({"output": np.array([3])}),
    }
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(nodes)), type_check=False)


def by_hand(x: np.ndarray, steps: int, delays: np.ndarray = DELAYS, seed: int = 3) -> np.ndarray:
    """The NIR graph's output spike counts, written out: IF layers in aligned time, the second reading
    the first's spikes of d_i steps before (none before the first step)."""
    w1, w2 = weights(seed)
    v1, v2 = np.zeros((len(x), 6)), np.zeros((len(x), 3))
    history, counts = [], np.zeros((len(x), 3))
    for t in range(steps):
        v1 = v1 + x @ w1.T
        s1 = v1 > 1
        v1[s1] = 0
        history.append(s1.astype(float))
        late = np.stack([history[t - d][:, i] if t >= d else np.zeros(len(x)) for i, d in enumerate(delays)], 1)
        v2 = v2 + late @ w2.T
        s2 = v2 > 1
        v2[s2] = 0
        counts += s2
    return counts


def slayer_dense_with_delay(path: Path, w1: np.ndarray, w2: np.ndarray, delay: np.ndarray, vth: int = 80) -> Path:
    """A netx file as slayer's export writes it: input block, then two CUBA dense blocks, the second
    with a ``delay`` dataset (one per output neuron, as slayer's axonal delay exports)."""

    def neuron(group: h5py.Group) -> None:
        group.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
        for key, value in (("iDecay", 4096), ("vDecay", 0), ("vThMant", vth), ("refDelay", 1)):
            group.create_dataset(key, data=np.int64(value))
        group.create_dataset("gradedSpike", data=False)

    def kind(group: h5py.Group, name: str) -> None:
        group.create_dataset("type", data=np.array([name.encode()], dtype="S10"))

    with h5py.File(path, "w") as f:
        layers = f.create_group("layer")
        first = layers.create_group("0")
        kind(first, "input")
        first.create_dataset("shape", data=np.array([w1.shape[1]]))
        for i, w in enumerate((w1, w2), start=1):
            block = layers.create_group(str(i))
            kind(block, "dense")
            block.create_dataset("shape", data=np.array([w.shape[0], 1, 1]))
            block.create_dataset("inFeatures", data=np.int64(w.shape[1]))
            block.create_dataset("outFeatures", data=np.int64(w.shape[0]))
            block.create_dataset("weight", data=w.astype(np.float32))
            if i == 2:
                block.create_dataset("delay", data=delay.astype(np.float32))
            neuron(block.create_group("neuron"))
    return path
