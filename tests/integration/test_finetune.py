"""`snncc finetune` as an snntorch user meets it: tutorial 6's CSNN (Conv2d -> MaxPool2d -> Leaky, subtract
reset), trained on the digits in seconds and saved with torch.save(state_dict), which loihi cannot run
(max pooling of currents, soft reset, initial potential), fine-tuned by the CLI and compiled from the
file it wrote.  Goal (issue 26): deployed within 1 pp of the trained model's float accuracy.

Oracles: snntorch itself (the trained model's accuracy), a real compile of the written model.nir."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc.cli import main

pytestmark = pytest.mark.slow  # trains an snntorch CSNN and fine-tunes it

HERE = Path(__file__).resolve().parent
ARCH = f"{HERE / 'user_models.py'}:STTutorialCSNN"


@pytest.fixture(scope="module")
def csnn(tmp_path_factory, digits_split) -> tuple[Path, Path, Path, float]:
    """(state dict, train.npz, test.npz as flat rows, snntorch's own test accuracy)."""
    import snntorch.functional as SF

    sys.path.insert(0, str(HERE))
    from user_models import STTutorialCSNN

    x_train, y_train, x_test, y_test = digits_split
    torch.manual_seed(0)
    net = STTutorialCSNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.tensor(x_train), torch.tensor(y_train)
    for _ in range(6):
        for start in range(0, len(x), 64):
            optimizer.zero_grad()
            SF.ce_rate_loss()(net(x[start : start + 64]), y[start : start + 64]).backward()
            optimizer.step()
    with torch.no_grad():
        accuracy = float((net(torch.tensor(x_test)).sum(0).argmax(1).numpy() == y_test).mean())
    folder = tmp_path_factory.mktemp("csnn")
    torch.save(net.state_dict(), folder / "csnn.pt")  # as snntorch users save (Leaky cannot be pickled whole)
    np.savez(folder / "train.npz", x=x_train.reshape(len(x_train), -1), y=y_train)
    np.savez(folder / "test.npz", x=x_test.reshape(len(x_test), -1), y=y_test)
    return folder / "csnn.pt", folder / "train.npz", folder / "test.npz", accuracy


def test_finetuned_csnn_deploys_on_loihi_within_a_point_of_its_float_accuracy(csnn, tmp_path, capsys):
    model, train, test, snntorch_accuracy = csnn
    steps = ["--arch", f"{HERE / 'user_models.py'}:STTutorialCSNN"]
    out = tmp_path / "ft"
    argv = ["finetune", str(model), *steps, "--target", "loihi", "--data", str(train), "--test", str(test)]
    assert main([*argv, "--out", str(out), "--seconds", "8", "--epochs", "4", "-q"]) == 0
    report = json.loads((out / "finetune.json").read_text())
    a = report["accuracy"]
    print(capsys.readouterr().out, f"snntorch {snntorch_accuracy:.4f}")
    assert snntorch_accuracy > 0.7 and a["float_before"] == pytest.approx(snntorch_accuracy, abs=1e-9)
    assert set(report["approximations"]) == {"maxpool-after-neuron", "soft-reset-as-hard", "drop-initial-potential"}
    compiled = tmp_path / "deployed"
    argv = ["compile", str(out / "model.nir"), "--target", "loihi", "--data", str(test), "--calib", str(train)]
    assert main([*argv, "--out", str(compiled), "-q"]) == 0  # no --arch, no --allow-pickle: a NIR file
    v = json.loads((compiled / "report.json").read_text())["verification"]
    assert v["deployed_accuracy"] == pytest.approx(a["deployed"], abs=1e-9)
    assert v["deployed_accuracy"] >= snntorch_accuracy - 0.01


def test_finetune_without_labels_is_refused_before_any_output(csnn, tmp_path, capsys):
    model, train, _, _ = csnn
    unlabelled = tmp_path / "x_only.npz"
    np.savez(unlabelled, x=np.load(train)["x"])
    argv = ["finetune", str(model), "--arch", f"{HERE / 'user_models.py'}:STTutorialCSNN", "--target", "loihi"]
    assert main([*argv, "--data", str(unlabelled), "--out", str(tmp_path / "ft"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "error[FTN001]" in err and "labels" in err and "Traceback" not in err
    assert not (tmp_path / "ft").exists()


def test_a_costly_approximation_says_so_and_points_at_finetune(csnn, tmp_path, capsys):
    model, train, test, _ = csnn
    argv = ["compile", str(model), "--arch", ARCH, "--target", "loihi2", "--data", str(test), "--calib", str(train)]
    argv += ["--approximate", "maxpool-as-avgpool", "--min-agreement", "0", "--out", str(tmp_path / "avg"), "-q"]
    assert main(argv) == 1  # the verdict fails: the approximation costs far more than --max-accuracy-drop
    err = capsys.readouterr().err
    assert "warning[VER010]" in err and "maxpool-as-avgpool cost" in err and "snncc finetune" in err
    assert "VER010" in (tmp_path / "avg" / "report.md").read_text()
