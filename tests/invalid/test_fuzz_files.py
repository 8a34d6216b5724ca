"""A fuzzer over every file snncc reads: each test mutates a valid file (hypothesis) and runs the
real command line on it, in-process with the address space bounded.

Whatever the mutation, the run either works (exit 0 or 1, one JSON object) or is refused: exit 2,
one {"error": ...} object on stdout naming a code, `error[CODE]` on stderr, no traceback, no output
directory or temporary sibling left, and never out of memory (LIM004: the 2 GB bound was hit).

The budget is small and fixed in CI (SNNCC_FUZZ_EXAMPLES examples per file type, default 5, with
the "ci" hypothesis profile derandomized: tests/conftest.py).  A longer run, random each time:

    SNNCC_FUZZ_EXAMPLES=300 HYPOTHESIS_PROFILE=dev .venv/bin/python -m pytest tests/invalid/test_fuzz_files.py
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx_models import onnx_conv

from snncc.cli import main
from snncc.errors import SnnccError
from snncc.limits import address_space_bounded

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "examples" / "digits" / "model.pt"
DIGITS_DATA = REPO / "examples" / "digits" / "test_data.npz"
EXAMPLES = int(os.environ.get("SNNCC_FUZZ_EXAMPLES", "5"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMORY = 2 << 30  # bytes of address space a run may add
CODE = re.compile(r"^[A-Z]{3}\d{3}$")


def assert_handled_cleanly(args: list, out: Path | None, capsys) -> int:
    """Run snncc with --json and check the contract above; the exit status."""
    capsys.readouterr()
    with address_space_bounded(MEMORY):
        status = main([*map(str, args), "--json"])
    stdout, stderr = capsys.readouterr()
    assert status in (0, 1, 2), stderr  # 3 is a bug: its traceback is in stderr
    assert "Traceback" not in stderr, stderr
    doc = json.loads(stdout)  # exactly one object
    assert isinstance(doc, dict), stdout
    if status == 2:
        code = doc["error"]["code"]
        assert CODE.match(code) and f"error[{code}]" in stderr, stderr
        assert code != "LIM004", stderr  # ran out of the bounded memory
        if out is not None:
            assert not out.exists() and not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
    return status


# --- mutations ------------------------------------------------------------------------------------

INTERESTING = [0, -1, 1, 2**31, -(2**63), 2**64, 1e308, -1e-308, "", "x" * 300, None, True, [], {}, [[[[1]]]]]


@st.composite
def byte_edits(draw) -> Callable[[bytes], bytes]:
    """A few flips, overwrites, truncations or insertions at random places."""
    edits = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "zero", "ff", "cut", "insert"]),
                st.floats(0, 1),
                st.binary(min_size=1, max_size=8),
            ),
            min_size=1,
            max_size=4,
        )
    )

    def apply(data: bytes) -> bytes:
        b = bytearray(data)
        for kind, where, extra in edits:
            i = min(int(where * len(b)), max(len(b) - 1, 0))
            if not b:
                break
            if kind == "flip":
                b[i] ^= 1 << (extra[0] % 8)
            elif kind == "zero":
                b[i] = 0
            elif kind == "ff":
                b[i : i + len(extra)] = b"\xff" * len(extra)
            elif kind == "cut":
                del b[i:]
            else:
                b[i:i] = extra
        return bytes(b)

    return apply


def paths_of(value, prefix=()):
    """Every (path, leaf) of a JSON-like document."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths_of(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths_of(v, (*prefix, i))
    yield prefix, value


@st.composite
def value_edits(draw) -> Callable[[object], object]:
    """Replace a few values of a parsed document (JSON, YAML) with interesting ones."""
    picks = draw(st.lists(st.tuples(st.floats(0, 1), st.sampled_from(INTERESTING)), min_size=1, max_size=3))

    def apply(doc):
        for where, new in picks:
            places = [p for p, _ in paths_of(doc) if p]
            path = places[min(int(where * len(places)), len(places) - 1)]
            parent = doc
            for key in path[:-1]:
                parent = parent[key]
            parent[path[-1]] = copy.deepcopy(new)  # never one list inside itself
        return doc

    return apply


ARRAYS = st.sampled_from(
    [
        np.zeros((0,)),
        np.full((3, 64), np.nan),
        np.ones((2, 1, 8, 8), np.bool_),
        np.array([2**40], np.int64),
        np.ones((1, 1, 1, 1, 1, 1), np.float32),
        np.array(["a", "b"]),
        np.ones((4, 64), np.complex64),
        np.full((2, 10), 127, np.int8),
    ]
)


@st.composite
def npz_edits(draw) -> Callable[[Path], None]:
    """Replace one member of an .npz with an interesting array, or edit the file's bytes."""
    if draw(st.booleans()):
        edit = draw(byte_edits())
        return lambda path: path.write_bytes(edit(path.read_bytes()))
    where, array = draw(st.floats(0, 1)), draw(ARRAYS)

    def apply(path: Path) -> None:
        arrays = dict(np.load(path))
        key = sorted(arrays)[min(int(where * len(arrays)), len(arrays) - 1)]
        arrays[key] = array
        np.savez(path, **arrays)

    return apply


# --- the files --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fuzz") / "digits"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "--samples", "4", "-q"]) == 0
    return out


def fresh() -> Path:
    return Path(tempfile.mkdtemp(prefix="snncc-fuzz-"))


@FUZZ
@given(edit=value_edits())
def test_mutated_graph_json(edit, artifact, capsys):
    folder = fresh()
    try:
        copy = shutil.copytree(artifact, folder / "a")
        doc = edit(json.loads((copy / "graph.json").read_text()))
        (copy / "graph.json").write_text(json.dumps(doc))
        assert_handled_cleanly(["simulate", copy, "--samples", "2"], None, capsys)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(edit=npz_edits())
def test_mutated_graph_npz(edit, artifact, capsys):
    folder = fresh()
    try:
        copy = shutil.copytree(artifact, folder / "a")
        edit(copy / "graph.npz")
        assert_handled_cleanly(["simulate", copy, "--samples", "2"], None, capsys)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(edit=npz_edits())
def test_mutated_data_npz(edit, artifact, capsys):
    folder = fresh()
    try:
        data = Path(shutil.copy(DIGITS_DATA, folder / "data.npz"))
        edit(data)
        assert_handled_cleanly(["simulate", artifact, "--data", data, "--samples", "2"], None, capsys)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(edit=byte_edits(), member=st.sampled_from(["x", "y"]))
def test_mutated_data_npy_folder(edit, member, artifact, capsys):
    folder = fresh()
    try:
        data = folder / "data"
        data.mkdir()
        with np.load(DIGITS_DATA) as arrays:
            np.save(data / "x.npy", arrays["x"][:8])
            np.save(data / "y.npy", arrays["y"][:8])
        npy = data / f"{member}.npy"
        npy.write_bytes(edit(npy.read_bytes()[:256]) + npy.read_bytes()[256:])  # the header, mostly
        assert_handled_cleanly(["simulate", artifact, "--data", data, "--samples", "2"], None, capsys)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(edit=value_edits(), name=st.sampled_from(["loihi", "xylo"]))
def test_mutated_target_yaml(edit, name, capsys):
    folder = fresh()
    try:
        spec = edit(yaml.safe_load((REPO / "targets" / f"{name}.yaml").read_text()))
        (folder / "t.yaml").write_text(yaml.safe_dump(spec))
        assert_handled_cleanly(["check", DIGITS_MODEL, "--target", folder / "t.yaml"], None, capsys)
    finally:
        shutil.rmtree(folder)


@FUZZ
@given(edit=byte_edits(), member=st.sampled_from(["data.pkl", "data/", "version", None]))
def test_mutated_torch_archive(edit, member, capsys):
    """A torch.save zip: one member's bytes edited (None: the archive's own bytes)."""
    folder = fresh()
    try:
        model = folder / "m.pt"
        if member is None:
            model.write_bytes(edit(DIGITS_MODEL.read_bytes()))
        else:
            with zipfile.ZipFile(DIGITS_MODEL) as src, zipfile.ZipFile(model, "w") as dst:
                for info in src.infolist():
                    data = src.read(info)
                    dst.writestr(info, edit(data) if member in info.filename else data)
        assert_handled_cleanly(["compile", model, "--out", folder / "out", "--samples", "2"], folder / "out", capsys)
    finally:
        shutil.rmtree(folder)


def nir_file(path: Path) -> Path:
    import nir

    nodes = {
        "input": nir.Input(input_type=np.array([64])),
        "fc": nir.Affine(weight=np.ones((10, 64), dtype=np.float32) * 0.1, bias=np.zeros(10, dtype=np.float32)),
        "lif": nir.IF(r=np.ones(10, dtype=np.float32), v_threshold=np.ones(10, dtype=np.float32)),
        "output": nir.Output(output_type=np.array([10])),
    }
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")]))
    return path


@st.composite
def hdf5_edits(draw) -> Callable[[Path], None]:
    """Replace one dataset of an HDF5 file with an interesting array, or edit the file's bytes."""
    if draw(st.booleans()):
        edit = draw(byte_edits())
        return lambda path: path.write_bytes(edit(path.read_bytes()))
    where, array = draw(st.floats(0, 1)), draw(ARRAYS)

    def apply(path: Path) -> None:
        with h5py.File(path, "r+") as f:
            names: list[str] = []
            f.visititems(lambda name, obj: names.append(name) if isinstance(obj, h5py.Dataset) else None)
            name = sorted(names)[min(int(where * len(names)), len(names) - 1)]
            del f[name]
            f[name] = array if array.dtype.kind != "U" else array.astype("S")

    return apply


@FUZZ
@given(edit=hdf5_edits())
def test_mutated_nir_file(edit, capsys):
    folder = fresh()
    try:
        model = nir_file(folder / "m.nir")
        edit(model)
        args = ["compile", model, "--dt", "1", "--steps", "4", "--readout", "mean", "--out", folder / "out"]
        assert_handled_cleanly([*args, "--samples", "2"], folder / "out", capsys)
    finally:
        shutil.rmtree(folder)


def netx_file(path: Path) -> Path:
    from snncc.exporters.netx import write_netx
    from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage

    z = Const(np.zeros(10, dtype=np.int32))
    b = GraphBuilder()
    b.add("x", IntInput(shape=(16,), bits=4, encoding="graded"))
    fc = b.add("fc", IntDense(shape=(10,), weight=Const(np.ones((10, 16), np.int32))), ["x"])
    b.add("o", IntLIF(shape=(10,), du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z), [fc])
    b.add("out", Output(shape=(10,), readout="spike_count"), ["o"])
    return write_netx(b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI)), path)


@FUZZ
@given(edit=hdf5_edits())
def test_mutated_netx_file(edit):
    """netx files have no command of their own yet: read_netx must fail only with snncc's errors."""
    from snncc.backends.refsim import RefSim
    from snncc.importers.netx import read_netx

    folder = fresh()
    try:
        path = netx_file(folder / "m.net")
        edit(path)
        with address_space_bounded(MEMORY):
            try:
                graph = read_netx(path, steps=4)
                RefSim().run(graph, {"x": np.ones((2, *graph["x"].shape), np.int64)})
            except SnnccError as err:
                assert CODE.match(err.code) and err.code != "LIM004", err
    finally:
        shutil.rmtree(folder)


@st.composite
def onnx_edits(draw) -> Callable[[Path], None]:
    """Change one attribute's or one initializer's values, or edit the file's bytes."""
    if draw(st.booleans()):
        edit = draw(byte_edits())
        return lambda path: path.write_bytes(edit(path.read_bytes()))
    where, value = draw(st.floats(0, 1)), draw(st.sampled_from([0, -1, 2**31 - 1, 7]))
    dims = draw(st.sampled_from([[0], [2**31, 2**31], [1, 1, 1, 1, 1], [-1]]))

    def apply(path: Path) -> None:
        import onnx

        model = onnx.load(str(path))
        attrs = [a for n in model.graph.node for a in n.attribute if a.ints]
        if where < 0.5 and attrs:
            a = attrs[min(int(where * 2 * len(attrs)), len(attrs) - 1)]
            a.ints[:] = [value] * len(a.ints)
        else:
            init = model.graph.initializer[int(where * 10) % len(model.graph.initializer)]
            init.dims[:] = dims  # the raw data no longer fits the declared shape
        path.write_bytes(model.SerializeToString())

    return apply


@FUZZ
@given(edit=onnx_edits())
def test_mutated_onnx_file(edit, capsys):
    folder = fresh()
    try:
        model = onnx_conv(folder / "m.onnx")
        edit(model)
        np.savez(folder / "calib.npz", x=np.random.default_rng(0).random((8, 1, 6, 6)))
        args = ["convert", model, "--calib", folder / "calib.npz", "--steps", "4", "--out", folder / "out"]
        assert_handled_cleanly([*args, "--samples", "2"], folder / "out", capsys)
    finally:
        shutil.rmtree(folder)


def test_the_seeds_are_valid(artifact, capsys):
    """Each unmutated file runs, so that the fuzzer mutates working inputs."""
    folder = fresh()
    try:
        assert assert_handled_cleanly(["simulate", artifact, "--samples", "2"], None, capsys) in (0, 1)
        model = onnx_conv(folder / "m.onnx")
        np.savez(folder / "calib.npz", x=np.random.default_rng(0).random((8, 1, 6, 6)))
        args = ["convert", model, "--calib", folder / "calib.npz", "--steps", "4", "--out", folder / "out"]
        assert assert_handled_cleanly([*args, "--samples", "2"], folder / "out", capsys) in (0, 1)
        nir = nir_file(folder / "m.nir")
        args = ["compile", nir, "--dt", "1", "--steps", "4", "--readout", "mean", "--out", folder / "o2"]
        assert assert_handled_cleanly([*args, "--samples", "2"], folder / "o2", capsys) in (0, 1)
        from snncc.importers.netx import read_netx

        read_netx(netx_file(folder / "m.net"), steps=4)
    finally:
        shutil.rmtree(folder)
