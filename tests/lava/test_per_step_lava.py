"""Per-step input (spike trains) runs bit-identically in Lava and in the reference simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snncc.compile import CompileOptions, lava_check, preflight
from snncc.options import DataOptions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.lava
def test_spike_trains_are_bit_exact_in_lava(tmp_path):
    x = np.load(ROOT / "examples" / "digits" / "test_data.npz")["x"][:3]
    trains = (np.random.default_rng(1).random((3, 8, 1, 8, 8)) < x[:, None]).astype(np.float32)
    np.savez(tmp_path / "trains.npz", x=trains)
    d = preflight(
        ROOT / "examples" / "digits" / "model.pt", CompileOptions(data=DataOptions(file=tmp_path / "trains.npz"))
    )
    assert d.dataset.x.shape[1:] == (8, 1, 8, 8)
    lava = lava_check(d.int_graph, {d.input_name: trains})
    assert lava["bit_exact"], lava.get("first_mismatch")
    assert lava["samples"] == 3
