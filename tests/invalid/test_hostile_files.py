"""Hostile input files, run as a user would: nothing outside the inputs reaches the output, no
traceback, exit 2 with a code, bounded memory.

Each case crafts its file in a temporary folder (an HDF5 dataset stored in /etc/passwd, a tiny
pickle that calls a layer constructor, an .npz member declaring terabytes, a YAML alias bomb,
layer names with terminal escapes) and runs the real command line in-process.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.cli import main

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "examples" / "digits" / "model.pt"
LOIHI = REPO / "targets" / "loihi.yaml"
SECRET = "root:x:0:0"  # the first bytes of /etc/passwd
NIR_OPTIONS = ("--dt", "1", "--steps", "4", "--readout", "mean")


def run(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def assert_refused(args: list[str], capsys, tmp: Path, code: str, fragment: str = "") -> str:
    status, err = run(args, capsys)
    assert status == 2, err
    assert f"error[{code}]" in err, err
    assert fragment in err, err
    assert "Traceback" not in err
    assert not (tmp / "out").exists()
    return err


def compile_args(model: Path, tmp: Path, *extra: str) -> list[str]:
    return ["compile", str(model), "--out", str(tmp / "out"), "-q", *extra]


# --- NIR / HDF5: nothing outside the file -------------------------------------------------------


def nir_mlp(path: Path, name: str = "lif") -> Path:
    """Input -> Affine "fc" -> IF ``name`` -> Output."""
    import nir

    nodes = {
        "input": nir.Input(input_type=np.array([64])),
        "fc": nir.Affine(weight=np.ones((10, 64), dtype=np.float32) * 0.1, bias=np.zeros(10, dtype=np.float32)),
        name: nir.IF(r=np.ones(10, dtype=np.float32), v_threshold=np.ones(10, dtype=np.float32)),
        "output": nir.Output(output_type=np.array([10])),
    }
    edges = [("input", "fc"), ("fc", name), (name, "output")]
    nir.write(str(path), nir.NIRGraph(nodes=nodes, edges=edges))
    return path


def replace_weight(path: Path, make) -> Path:
    with h5py.File(path, "r+") as f:
        group = f["node/nodes/fc"]
        del group["weight"]
        make(group)
    return path


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs a local file to point at")
@pytest.mark.parametrize(
    "make",
    [
        lambda g: g.create_dataset("weight", shape=(10, 64), dtype="u1", external=[("/etc/passwd", 0, 640)]),
        lambda g: g.__setitem__("weight", h5py.ExternalLink("/etc/passwd.h5", "/w")),
        lambda g: g.__setitem__("weight", h5py.SoftLink("/node/nodes/lif/r")),
    ],
    ids=["external storage", "external link", "soft link"],
)
def test_a_nir_file_cannot_read_other_files(make, tmp_path, capsys):
    model = replace_weight(nir_mlp(tmp_path / "m.nir"), make)
    err = assert_refused(compile_args(model, tmp_path, *NIR_OPTIONS), capsys, tmp_path, "LOD230", "weight")
    assert SECRET not in err


def test_a_virtual_dataset_is_refused(tmp_path, capsys):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.ones((10, 64))
    layout = h5py.VirtualLayout(shape=(10, 64), dtype="f8")
    layout[:] = h5py.VirtualSource(str(other), "w", shape=(10, 64))
    model = replace_weight(nir_mlp(tmp_path / "m.nir"), lambda g: g.create_virtual_dataset("weight", layout))
    assert_refused(compile_args(model, tmp_path, *NIR_OPTIONS), capsys, tmp_path, "LOD230", "virtual")


def test_a_compressed_nir_dataset_declaring_terabytes_is_refused_before_reading(tmp_path, capsys):
    def huge(group):
        group.create_dataset("weight", shape=(10, 10**12), dtype="f4", chunks=(1, 1024), compression="gzip")

    model = replace_weight(nir_mlp(tmp_path / "m.nir"), huge)
    assert model.stat().st_size < 100_000
    assert_refused(compile_args(model, tmp_path, *NIR_OPTIONS), capsys, tmp_path, "LIM001", "--max-elements")


def test_a_nir_bias_of_the_wrong_shape_is_a_coded_error(tmp_path, capsys):
    model = nir_mlp(tmp_path / "m.nir")
    with h5py.File(model, "r+") as f:
        del f["node/nodes/fc/bias"]
        f["node/nodes/fc/bias"] = np.full(7, 0.1, dtype=np.float32)
    assert_refused(compile_args(model, tmp_path, *NIR_OPTIONS), capsys, tmp_path, "GRF009", "bias of shape (7,)")


# --- names: no terminal or Markdown injection ---------------------------------------------------


def test_a_layer_name_with_terminal_escapes_is_refused_and_printed_escaped(tmp_path, capsys):
    model = nir_mlp(tmp_path / "m.nir", name="lif\x1b[2J\rPASS\n")
    err = assert_refused(compile_args(model, tmp_path, *NIR_OPTIONS), capsys, tmp_path, "GRF008")
    assert "\x1b" not in err and "\r" not in err
    assert "\\x1b[2J\\rPASS\\n" in err


def test_markdown_special_characters_in_names_stay_inside_their_table_cell(tmp_path, capsys):
    model = nir_mlp(tmp_path / "m|x.nir", name="lif|`<b>`")
    assert main(compile_args(model, tmp_path, *NIR_OPTIONS, "--samples", "8")) in (0, 1)
    report = (tmp_path / "out" / "report.md").read_text()
    assert "lif\\|\\`\\<b\\>\\`" in report
    assert "<b>" not in report
    assert "lif|" not in report.replace("\\|", "")  # every | of the name escaped: the table keeps its columns


# --- torch files: no memory bombs ---------------------------------------------------------------


def constructor_pickle(path: Path, calls: int = 3) -> Path:
    """A torch archive whose pickle REDUCEs the allowlisted nn.Linear(20000, 20000), 1.6 GB each."""
    one = b"c" + b"torch.nn.modules.linear\nLinear\n" + b"(M\x20\x4eM\x20\x4etR"
    torch.save([], path)
    with zipfile.ZipFile(path) as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            is_pickle = name.endswith("/data.pkl")
            archive.writestr(name, b"\x80\x02](" + one * calls + b"e." if is_pickle else data)
    return path


def test_a_tiny_pickle_calling_layer_constructors_is_refused_in_bounded_memory(tmp_path):
    model = constructor_pickle(tmp_path / "m.pt")
    assert model.stat().st_size < 2000
    # a separate process, so that its peak memory can be measured
    script = (
        "import sys; from snncc.cli import main; "
        f"code = main(['compile', {str(model)!r}, '--out', {str(tmp_path / 'out')!r}, '-q']); "
        # VmHWM: this program's own peak; ru_maxrss would also count the forked copy of pytest before exec
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:'))); sys.exit(code)"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "error[LOD016]" in done.stderr or "error[LIM001]" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert int(done.stdout.split()[-1]) < 1_500_000  # kB: 4.9 GB before
    assert not (tmp_path / "out").exists()


def test_a_zero_stride_tensor_declaring_a_trillion_elements_is_refused(tmp_path, capsys):
    body = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF())
    weight = torch.zeros(1).as_strided((10**6, 10**6), (0, 0))
    body[1].weight = nn.Parameter(weight, requires_grad=False)
    torch.save(snn.SNN(body, steps=4), tmp_path / "m.pt")
    assert (tmp_path / "m.pt").stat().st_size < 100_000
    assert_refused(compile_args(tmp_path / "m.pt", tmp_path), capsys, tmp_path, "LIM001", "--max-elements")


def test_a_model_with_a_billion_steps_is_refused_before_simulating(tmp_path, capsys):
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4)
    model.steps = 10**9
    torch.save(model, tmp_path / "m.pt")
    assert_refused(compile_args(tmp_path / "m.pt", tmp_path), capsys, tmp_path, "LIM002", "--max-steps")


def test_the_limits_can_be_raised(tmp_path, capsys):
    assert_refused(compile_args(DIGITS_MODEL, tmp_path, "--max-elements", "1000"), capsys, tmp_path, "LIM001")
    assert main(compile_args(DIGITS_MODEL, tmp_path, "--samples", "8", "--max-elements", "100000")) == 0


# --- data and artifacts: only the members used are read -----------------------------------------


def npz_with_bomb(path: Path, members: dict[str, np.ndarray]) -> Path:
    """An .npz whose member 'unused' declares 8 TiB in its header (the data is a few zeros)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in members.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, array)
            zf.writestr(f"{name}.npy", buf.getvalue())
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**40,)})
        zf.writestr("unused.npy", header.getvalue() + bytes(4096))
    return path


def test_an_unused_npz_member_declaring_terabytes_is_never_read(tmp_path, capsys):
    digits = np.load(REPO / "examples" / "digits" / "test_data.npz")
    data = npz_with_bomb(tmp_path / "d.npz", {"x": digits["x"][:8], "y": digits["y"][:8]})
    assert main(compile_args(DIGITS_MODEL, tmp_path, "--data", str(data))) == 0


def test_an_x_declaring_terabytes_is_refused_before_reading(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "d.npz", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**20, 2**20)})
        zf.writestr("x.npy", header.getvalue() + bytes(4096))
    assert_refused(
        compile_args(DIGITS_MODEL, tmp_path, "--data", str(tmp_path / "d.npz")), capsys, tmp_path, "LIM001", "'x'"
    )


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifact") / "digits"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "-q", "--samples", "8"]) == 0
    return out


def edited_copy(artifact: Path, tmp: Path, edit) -> Path:
    import shutil

    copy = tmp / "artifact"
    shutil.copytree(artifact, copy)
    doc = json.loads((copy / "graph.json").read_text())
    text = edit(doc)
    (copy / "graph.json").write_text(text if isinstance(text, str) else json.dumps(doc))
    return copy


def set_vth(doc: dict, value) -> None:
    next(n for n in doc["nodes"] if n["op"] == "int_lif")["fields"]["vth"] = value


@pytest.mark.parametrize(
    ("edit", "code"),
    [
        (lambda d: set_vth(d, "lots"), "GRF064"),
        (lambda d: set_vth(d, 10**400), "GRF064"),
        (lambda d: d["meta"].__setitem__("steps", 10**12), "LIM002"),
        (lambda d: "[" * 100_000 + "]" * 100_000, "GRF062"),
    ],
    ids=["vth lots", "vth 10^400", "a trillion steps", "nested 100000 deep"],
)
def test_a_hostile_artifact_is_refused(edit, code, artifact, tmp_path, capsys):
    copy = edited_copy(artifact, tmp_path, edit)
    assert_refused(["simulate", str(copy), "-q"], capsys, tmp_path, code)


# --- target files -------------------------------------------------------------------------------


def target_with(tmp: Path, old: str, new: str) -> Path:
    text = LOIHI.read_text()
    assert old in text
    path = tmp / "t.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


BILLION_LAUGHS = "".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n',
        *(f"{b}: &{b} [{','.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)),
    ]
)


@pytest.mark.parametrize(
    ("change", "code", "fragment"),
    [
        (("weight_bits: {value: 8,", "weight_bits: {value: 80,"), "TGT008", "numerics.weight_bits: 80"),
        (("weight_exp_min: {value: -8,", "weight_exp_min: {value: -4000,"), "TGT008", "weight_exp_min"),
        (("weight_exp_max: {value: 7,", "weight_exp_max: {value: 4000,"), "TGT008", "weight_exp_max"),
        (("synop_pj: {value: 23.6,", "synop_pj: {value: 1.0e+308,"), "TGT008", "energy.synop_pj"),
        (("name: loihi", "? [a, b]\n: 1\nname: loihi"), "TGT004", "plain value"),
        (("name: loihi", BILLION_LAUGHS + "name: loihi"), "TGT004", "aliases"),
    ],
    ids=["weight_bits 80", "weight_exp -4000", "weight_exp 4000", "energy 1e308", "unhashable key", "alias bomb"],
)
def test_a_hostile_target_file_is_refused(change, code, fragment, tmp_path, capsys):
    target = target_with(tmp_path, *change)
    assert_refused(compile_args(DIGITS_MODEL, tmp_path, "--target", str(target)), capsys, tmp_path, code, fragment)


def test_a_target_title_with_escapes_is_refused(tmp_path, capsys):
    target = target_with(tmp_path, "title: ", 'title: "\\e[31mred\\e[0m" #')
    err = assert_refused(
        compile_args(DIGITS_MODEL, tmp_path, "--target", str(target)), capsys, tmp_path, "TGT008", "title"
    )
    assert "\x1b" not in err


# --- ONNX: external weights stay in the model's folder ------------------------------------------


def onnx_with_external_weight(path: Path, location: str, dims: tuple[int, ...] = (10, 64)) -> Path:
    import onnx
    from onnx import TensorProto, helper

    weight = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=dims, data_location=TensorProto.EXTERNAL)
    weight.external_data.add(key="location", value=location)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])],
        [weight],
    )
    onnx.save(helper.make_model(graph), str(path))
    return path


def convert_args(model: Path, tmp: Path) -> list[str]:
    calib = tmp / "calib.npz"
    np.savez(calib, x=np.zeros((4, 64)))
    return ["convert", str(model), "--calib", str(calib), "--steps", "4", "--out", str(tmp / "out"), "-q"]


@pytest.mark.parametrize("location", ["../../../../../../etc/passwd", "/etc/passwd", "link.data"])
def test_an_onnx_model_cannot_read_weights_outside_its_folder(location, tmp_path, capsys):
    if location == "link.data":
        (tmp_path / "link.data").symlink_to("/etc/passwd")
    model = onnx_with_external_weight(tmp_path / "m.onnx", location)
    err = assert_refused(convert_args(model, tmp_path), capsys, tmp_path, "LOD103", location)
    assert SECRET not in err


def test_an_onnx_initializer_declaring_terabytes_is_refused(tmp_path, capsys):
    (tmp_path / "w.data").write_bytes(bytes(64))
    model = onnx_with_external_weight(tmp_path / "m.onnx", "w.data", dims=(10**6, 10**6))
    assert_refused(convert_args(model, tmp_path), capsys, tmp_path, "LIM001", "initializer 'w'")


def test_a_tiny_pickle_allocating_a_bytearray_is_refused(tmp_path, capsys):
    """bytearray is on torch's own allowlist: 10 GB from one REDUCE, bounded while unpickling."""
    call = b"cbuiltins\nbytearray\n(\x8a\x05" + (10**10).to_bytes(5, "little") + b"tR"  # bytearray(10**10)
    torch.save([], tmp_path / "m.pt")
    with zipfile.ZipFile(tmp_path / "m.pt") as archive:
        members = {info.filename: archive.read(info) for info in archive.infolist()}
    with zipfile.ZipFile(tmp_path / "m.pt", "w") as archive:
        for name, data in members.items():
            archive.writestr(name, b"\x80\x02](" + call + b"e." if name.endswith("/data.pkl") else data)
    assert_refused(compile_args(tmp_path / "m.pt", tmp_path), capsys, tmp_path, "LIM001", "--max-elements")


def test_too_many_steps_from_the_command_line_are_refused(tmp_path, capsys):
    assert_refused(compile_args(DIGITS_MODEL, tmp_path, "--steps", "100000"), capsys, tmp_path, "LIM002", "--max-steps")
