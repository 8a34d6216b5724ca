"""spikingjelly and snntorch models, trained on the digits and saved as users save them, compiled for Loihi.

Each model is trained for a few seconds on the training split of scikit-learn's 8x8 digits (the
bundled test data is the held-out split), saved whole (torch.save(model)) and as a state dict,
then compiled through the CLI entry point on the 450 held-out digits: the whole model with
--allow-pickle (its class lives in a test module), the state dict with --arch (a module path and
a file path).  snntorch models are saved as state dicts only: torch.save of a whole Leaky fails
(its default surrogate is a closure).  Deployed accuracy must stay within 3 points of the float
model's; bad inputs exit with code 2 and a clear message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from framework_models import SJConvNet, STNet, STNetSubtract
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from spikingjelly.activation_based import functional
from torch import nn

from snncc.cli import main
from snncc.options import ModelOptions

pytestmark = pytest.mark.slow  # trains spikingjelly and snntorch models, saves them as users do, compiles each

HERE = Path(__file__).resolve().parent
MODELS_FILE = HERE / "framework_models.py"


def digits_split() -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """The training split the bundled test data was held out from (examples/digits/train.py)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target.astype(np.int64), test_size=0.25, stratify=digits.target, random_state=0
    )
    return torch.from_numpy(x_train), torch.from_numpy(y_train), x_test, y_test


def train(model: nn.Module, logits, epochs: int, lr: float) -> nn.Module:
    torch.manual_seed(0)
    x, y, _, _ = digits_split()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        model.train()
        permutation = torch.randperm(len(x), generator=order)
        for start in range(0, len(x), 64):
            idx = permutation[start : start + 64]
            optimizer.zero_grad()
            nn.functional.cross_entropy(logits(model, x[idx]), y[idx]).backward()
            optimizer.step()
            functional.reset_net(model)
    return model.eval()


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    """Each framework's model trained once and saved whole and as a state dict."""
    folder = tmp_path_factory.mktemp("frameworks")
    torch.manual_seed(0)
    sj = train(SJConvNet(), lambda m, x: 8 * m(x), epochs=2, lr=2e-2)
    torch.manual_seed(0)
    st = train(STNet(), lambda m, x: 2 * m(x)[0].sum(0), epochs=2, lr=1e-2)
    torch.manual_seed(0)
    st_soft = train(STNetSubtract(), lambda m, x: 2 * m(x)[0].sum(0), epochs=2, lr=1e-2)
    paths = {
        "sj-whole": folder / "sj_whole.pt",
        "sj-state": folder / "sj_state.pt",
        "st-state": folder / "st_state.pt",
        "st-checkpoint": folder / "st_checkpoint.pt",
        "st-soft-state": folder / "st_soft_state.pt",
    }
    torch.save(sj, paths["sj-whole"])
    torch.save(sj.state_dict(), paths["sj-state"])
    torch.save(st.state_dict(), paths["st-state"])
    torch.save({"epoch": 2, "state_dict": st.state_dict()}, paths["st-checkpoint"])
    torch.save(st_soft.state_dict(), paths["st-soft-state"])
    return paths


def compile_cli(model: Path, out: Path, *options: str, target: str = "loihi") -> dict:
    code = main(["compile", str(model), "--target", target, "--out", str(out), "-q", *options])
    assert code == 0
    return json.loads((out / "report.json").read_text())["verification"]


def check_deployed(v: dict, layers: list[str]) -> None:
    print(f"float {v['float_accuracy']:.4f} deployed {v['deployed_accuracy']:.4f} agree {v['output_agreement']:.4f}")
    assert v["float_accuracy"] > 0.8
    assert abs(v["deployed_accuracy"] - v["float_accuracy"]) <= 0.03
    assert v["output_agreement"] >= 0.95
    assert [layer["layer"] for layer in v["layers"]] == layers


def test_spikingjelly_whole_model_with_allow_pickle(saved, tmp_path):
    v = compile_cli(saved["sj-whole"], tmp_path / "out", "--allow-pickle")
    check_deployed(v, ["net.1", "net.6"])


def test_spikingjelly_state_dict_with_arch_module(saved, tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))
    v = compile_cli(saved["sj-state"], tmp_path / "out", "--arch", "framework_models:SJConvNet")
    check_deployed(v, ["net.1", "net.6"])


def test_snntorch_state_dict_with_arch_file(saved, tmp_path):
    v = compile_cli(saved["st-checkpoint"], tmp_path / "out", "--arch", f"{MODELS_FILE}:STNet")
    check_deployed(v, ["lif1", "lif2"])


def test_snntorch_subtract_reset_on_loihi2(saved, tmp_path):
    v = compile_cli(saved["st-soft-state"], tmp_path / "out", "--arch", f"{MODELS_FILE}:STNetSubtract", target="loihi2")
    check_deployed(v, ["lif1", "lif2"])


def test_float_model_is_the_framework_model(saved):
    """The float accuracy the report states is the trained model's own accuracy (same samples)."""
    from snncc.compile import CompileOptions, import_model

    _, _, x_test, y_test = digits_split()
    model = torch.load(saved["sj-whole"], weights_only=False)
    with torch.no_grad():
        expected = (model(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean()
    dataset, graph = import_model(saved["sj-whole"], CompileOptions(model=ModelOptions(allow_pickle=True)))
    from snncc.backends.floatsim import FloatSim
    from snncc.verify import predict

    trace = FloatSim().run(graph, {"input": dataset.x})
    got = (predict(trace.outputs["output"], "spike_count") == dataset.y).mean()
    assert got == pytest.approx(expected, abs=1 / len(y_test))


# --- bad inputs -------------------------------------------------------------------------------------


def run_error(capsys, *args: str) -> str:
    code = main(["check", *args, "-q"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_class_defined_in_the_training_script(tmp_path, capsys):
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(64, 10)

    main_module = sys.modules["__main__"]
    Net.__module__, Net.__qualname__ = "__main__", "Net"
    main_module.Net = Net  # as if defined in the training script
    try:
        torch.save(Net(), tmp_path / "main.pt")
    finally:
        del main_module.Net
    for extra in ((), ("--allow-pickle",)):
        err = run_error(capsys, str(tmp_path / "main.pt"), *extra)
        assert "LOD005" in err and "Net" in err and "__main__" in err
        assert "--arch" in err


@pytest.mark.parametrize(
    ("arch", "code", "words"),
    [
        ("no_such_module_xyz:Net", "LOD011", ["no module named 'no_such_module_xyz'"]),
        (f"{HERE / 'missing.py'}:Net", "LOD011", ["no such Python file"]),
        (f"{MODELS_FILE}:NoSuchClass", "LOD012", ["no 'NoSuchClass'", "SJConvNet"]),
        (f"{MODELS_FILE}:STEPS", "LOD012", ["not a class"]),
        (f"{MODELS_FILE}:SJNeedsArgs", "LOD013", ["needs arguments (T)"]),
        (f"{MODELS_FILE}:STNet", "LOD015", ["not in the file: fc1.weight", "entries STNet does not have"]),
        ("SJConvNet", "LOD010", ["MODULE:CLASS"]),
    ],
)
def test_bad_arch(saved, capsys, arch, code, words):
    err = run_error(capsys, str(saved["sj-state"]), "--arch", arch)
    assert code in err
    for word in words:
        assert word in err


def test_arch_with_a_whole_pickled_model(saved, capsys):
    err = run_error(capsys, str(saved["sj-whole"]), "--arch", f"{MODELS_FILE}:SJConvNet")
    assert "LOD014" in err and "drop --arch" in err


def test_state_dict_without_arch_says_to_pass_it(saved, capsys):
    err = run_error(capsys, str(saved["st-state"]))
    assert "LOD006" in err and "--arch" in err


def test_class_from_a_module_that_cannot_be_imported(tmp_path, capsys, monkeypatch):
    source = tmp_path / "src"
    source.mkdir()
    (source / "gone_net.py").write_text(
        "from torch import nn\n\nclass GoneNet(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(64, 10)\n"
    )
    with monkeypatch.context() as patch:
        patch.syspath_prepend(str(source))
        import gone_net

        torch.save(gone_net.GoneNet(), tmp_path / "gone.pt")
    del sys.modules["gone_net"]
    for extra in ((), ("--allow-pickle",)):
        err = run_error(capsys, str(tmp_path / "gone.pt"), *extra)
        assert "LOD008" in err and "class GoneNet from module gone_net" in err
        assert "--arch" in err and "PYTHONPATH" in err
