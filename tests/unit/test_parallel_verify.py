"""Verification gives the same result serially, over processes, over a Dask cluster, and streamed
from a memory-mapped data directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snncc.compile import CompileOptions, compile_model
from snncc.data import load_dataset
from snncc.options import DataOptions, ParallelOptions
from snncc.parallel import executor_for, ordered_map

pytestmark = pytest.mark.slow  # process pools and a Dask cluster

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "digits" / "model.pt"


def _square(x: int) -> int:
    return x * x


def test_ordered_map_keeps_order_with_a_bounded_window():
    with executor_for(workers=2) as pool:
        assert list(ordered_map(_square, range(10), pool, in_flight=3)) == [i * i for i in range(10)]
    assert list(ordered_map(_square, range(4), None, in_flight=1)) == [0, 1, 4, 9]


def _summary(result):
    v = result.comparison.verification
    trace = result.comparison.deployed_trace
    return (
        v.deployed_predictions.tolist(),
        v.float_predictions.tolist(),
        [(a.layer, a.spike_agreement, a.first_mismatch) for a in v.layers],
        {k: c.tolist() for k, c in trace.spike_counts.items()},
        {k: s.to_dict() for k, s in trace.stats.items()},
    )


@pytest.fixture(scope="module")
def serial():
    return compile_model(MODEL, CompileOptions(data=DataOptions(samples=96)))


def test_processes_give_the_serial_result(serial):
    parallel = compile_model(MODEL, CompileOptions(data=DataOptions(samples=96), parallel=ParallelOptions(workers=2)))
    assert _summary(parallel) == _summary(serial)


def test_dask_cluster_gives_the_serial_result(serial):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        result = compile_model(
            MODEL,
            CompileOptions(data=DataOptions(samples=96), parallel=ParallelOptions(dask_scheduler=c.scheduler_address)),
        )
    assert _summary(result) == _summary(serial)


def test_memory_mapped_data_directory_streams_and_matches(serial, tmp_path):
    bundled = np.load(ROOT / "examples" / "digits" / "test_data.npz")
    np.save(tmp_path / "x.npy", bundled["x"][:96])
    np.save(tmp_path / "y.npy", bundled["y"][:96])
    data = load_dataset(tmp_path)
    assert isinstance(data.x, np.memmap)  # not read into memory
    # the bundled compile calibrates on the bundled training samples: the same --calib scores all 96 the same
    calib = ROOT / "examples" / "digits" / "calib_data.npz"
    result = compile_model(MODEL, CompileOptions(data=DataOptions(file=tmp_path, calib=calib, samples=96)))
    assert _summary(result) == _summary(serial)
