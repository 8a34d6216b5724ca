"""Data files and output directories: bad ones get clear errors; output appears whole or not at all."""

from __future__ import annotations

import numpy as np
import pytest

from snncc.data import load_dataset
from snncc.errors import DataError, OutputError
from snncc.output_dir import atomic_output_dir


def write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize(
    ("arrays", "code"),
    [
        ({"y": np.zeros(3, dtype=np.int64)}, "DAT004"),  # no x
        ({"x": np.zeros((0, 4))}, "DAT006"),  # empty
        ({"x": np.array([[np.nan, 1.0]])}, "DAT007"),
        ({"x": np.zeros((3, 4)), "y": np.zeros(2, dtype=np.int64)}, "DAT009"),  # label count
        ({"x": np.zeros((3, 4)), "y": np.zeros(3)}, "DAT009"),  # float labels
        ({"x": np.zeros(3)}, "DAT005"),  # no sample axis
    ],
)
def test_bad_data_files(tmp_path, arrays, code):
    path = write(tmp_path / "d.npz", **arrays)
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert err.value.code == code
    assert str(path) in err.value.render()


def test_a_file_without_x_names_what_it_holds_and_the_rename(tmp_path):
    path = write(tmp_path / "d.npz", X=np.zeros((3, 4)), labels=np.zeros(3, dtype=np.int64))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    text = err.value.render()
    assert err.value.code == "DAT004" and "'X', 'labels'" in text and "numpy.savez(path, x=X, y=labels)" in text


def test_shape_mismatch_names_both_shapes(tmp_path):
    path = write(tmp_path / "d.npz", x=np.zeros((2, 1, 4, 4)))
    with pytest.raises(DataError) as err:
        load_dataset(path, input_shape=(1, 8, 8))
    assert err.value.code == "DAT008" and "(1, 4, 4)" in err.value.render() and "(1, 8, 8)" in err.value.render()


def test_per_step_inputs_are_taken_when_the_steps_are_known(tmp_path):
    spikes = (np.arange(5 * 4 * 3).reshape(5, 4, 3) % 2).astype(np.float32)  # (N, T, *input_shape)
    np.savez(tmp_path / "d.npz", x=spikes)
    assert load_dataset(tmp_path / "d.npz", input_shape=(3,), steps=4).x.shape == (5, 4, 3)
    with pytest.raises(DataError, match=r"one input per step, \(6, 3\)"):
        load_dataset(tmp_path / "d.npz", input_shape=(3,), steps=6)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path / "nope.npz")
    assert err.value.code == "DAT002"
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(DataError) as err:
        load_dataset(bad)
    assert err.value.code == "DAT003"


def test_pickled_object_arrays_are_not_loaded(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError) as err:
        load_dataset(path)
    assert err.value.code == "DAT003"


def test_good_file_round_trip(tmp_path):
    path = write(tmp_path / "d.npz", x=np.ones((3, 2), dtype=np.float32), y=np.array([0, 1, 2]))
    ds = load_dataset(path, input_shape=(2,))
    assert ds.x.dtype == np.float64 and ds.y.tolist() == [0, 1, 2] and len(ds.head(2)) == 2


def test_output_dir_appears_only_when_complete(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError), atomic_output_dir(out) as tmp:
        (tmp / "half.json").write_text("{")
        raise RuntimeError("compile failed")
    assert not out.exists() and list(tmp_path.iterdir()) == []
    with atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("{}")
    assert (out / "report.json").read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_existing_output_needs_force_and_is_replaced_whole(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(OutputError) as err, atomic_output_dir(out):
        pass
    assert err.value.code == "OUT002" and (out / "old.txt").exists()
    with atomic_output_dir(out, force=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in out.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_parent_that_cannot_hold_a_directory(tmp_path):
    parent = tmp_path / "a-file"
    parent.write_text("not a directory")
    with pytest.raises(OutputError) as err, atomic_output_dir(parent / "out"):
        pass
    assert err.value.code == "OUT004"
