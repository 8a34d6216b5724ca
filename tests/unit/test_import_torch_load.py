"""Safe model loading: allowlisted classes only, and a distinct, explained error for each bad file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.errors import ModelLoadError
from snncc.importers.torch import load_torch_model


class CreatesFile:
    """A pickle payload: unpickling calls open(target, "w"), which creates the file."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


class UserBlock(nn.Module):
    """An importable user class that is not on the allowlist."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(2, 2)

    def forward(self, x):
        return self.fc(x)


def load_error(path, **kw) -> ModelLoadError:
    with pytest.raises(ModelLoadError) as err:
        load_torch_model(path, **kw)
    return err.value


def test_snn_saved_whole_loads_without_pickle(tmp_path):
    model = snn.SNN(
        nn.Sequential(
            nn.Conv2d(1, 2, 3),
            nn.BatchNorm2d(2),
            snn.LIF(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Dropout(),
            nn.Linear(2, 3),
            snn.IF(v_reset=None),
            nn.Linear(3, 2),
            snn.Integrator(),
        ),
        steps=3,
    )
    model.eval()
    torch.save(model, tmp_path / "model.pt")
    loaded = load_torch_model(tmp_path / "model.pt")
    x = torch.rand(4, 1, 4, 4)
    assert isinstance(loaded, snn.SNN) and torch.equal(loaded(x), model(x))
    globally_safe = torch.serialization.get_safe_globals()
    assert snn.SNN not in globally_safe and nn.Linear not in globally_safe  # the allowlist was for this load only


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    target = tmp_path / "created_by_pickle"
    torch.save(CreatesFile(str(target)), tmp_path / "evil.pt")
    err = load_error(tmp_path / "evil.pt")
    assert err.code == "LOD002"
    assert "io.open" in err.diagnostics[0].message and "execute" in err.diagnostics[0].message
    assert "--allow-pickle" in err.diagnostics[0].hint and "state_dict" in err.diagnostics[0].hint
    assert not target.exists()
    # the payload is real: an unrestricted load runs it
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert target.exists()


def test_unlisted_class_needs_allow_pickle(tmp_path):
    torch.save(UserBlock(), tmp_path / "user.pt")
    err = load_error(tmp_path / "user.pt")
    assert err.code == "LOD002" and "UserBlock" in err.diagnostics[0].message
    assert isinstance(load_torch_model(tmp_path / "user.pt", allow_pickle=True), UserBlock)


class SpikingjellyInUserClass(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        from spikingjelly.activation_based import layer, neuron

        self.body = nn.Sequential(layer.Linear(4, 2), neuron.IFNode())


def test_the_refusal_names_only_the_classes_that_are_not_allowlisted(tmp_path):
    torch.save(SpikingjellyInUserClass(), tmp_path / "wrapped.pt")
    message = load_error(tmp_path / "wrapped.pt").diagnostics[0].message
    assert "SpikingjellyInUserClass" in message
    assert "spikingjelly" not in message.replace("SpikingjellyInUserClass", "")  # its layers are allowlisted


@pytest.mark.slow  # runs Python in a subprocess
def test_class_defined_in_training_script(tmp_path):
    script = textwrap.dedent(
        """
        import sys, torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(2, 2)
        torch.save(Net(), sys.argv[1])
        """
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "main.pt")], check=True)
    for allow in (False, True):
        err = load_error(tmp_path / "main.pt", allow_pickle=allow)
        assert err.code == "LOD005" and "__main__" in err.diagnostics[0].message
        assert "importable module" in err.diagnostics[0].hint


def test_state_dict_and_checkpoint_dict(tmp_path):
    body = nn.Sequential(nn.Linear(2, 2), snn.LIF())
    torch.save(body.state_dict(), tmp_path / "sd.pt")
    torch.save({"model": body.state_dict(), "epoch": 3}, tmp_path / "ckpt.pt")
    for name in ("sd.pt", "ckpt.pt"):
        err = load_error(tmp_path / name)
        assert err.code == "LOD006" and "architecture" in err.render()


def test_missing_truncated_corrupt_and_non_module_files(tmp_path):
    assert load_error(tmp_path / "absent.pt").code == "LOD003"
    assert load_error(tmp_path).code == "LOD003"
    torch.save(nn.Sequential(nn.Linear(4, 4)), tmp_path / "whole.pt")
    data = (tmp_path / "whole.pt").read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    (tmp_path / "garbage.pt").write_bytes(b"this is not a model file at all")
    for name in ("truncated.pt", "garbage.pt"):
        for allow in (False, True):
            assert load_error(tmp_path / name, allow_pickle=allow).code == "LOD004"
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    err = load_error(tmp_path / "tensor.pt")
    assert err.code == "LOD007" and "Tensor" in err.diagnostics[0].message
