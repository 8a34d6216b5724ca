"""Training checkpoints as users save them load with --arch: the state dict is found by the model's
own keys, plain data beside it (numpy scalars, argparse options) is read without --allow-pickle,
and no error sends the user to a flag that leads back to it."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc.cli import main
from snncc.errors import ModelLoadError
from snncc.importers.safe_load import load_torch_model

USER_MODELS = Path(__file__).resolve().parents[1] / "integration" / "user_models.py"
ARCH = f"{USER_MODELS}:SJLoopMLP"


@pytest.fixture(scope="module")
def net():
    """A spikingjelly model after one optimizer step (so the optimizer has state to save)."""
    import sys

    sys.path.insert(0, str(USER_MODELS.parent))
    import user_models

    torch.manual_seed(0)
    model = user_models.SJLoopMLP()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.rand(4, 64)).sum().backward()
    optimizer.step()
    return model, optimizer


def checkpoints(model, optimizer) -> dict[str, tuple[object, str]]:
    """name -> (what users save, the entry snncc must say it used)."""
    state = model.state_dict()
    return {
        # spikingjelly's tutorials: {'net', 'optimizer', 'lr_scheduler', 'epoch', 'max_test_acc'}
        "spikingjelly": (
            {
                "net": state,
                "optimizer": optimizer.state_dict(),
                "epoch": 7,
                "max_test_acc": np.float64(0.93),
                "args": argparse.Namespace(T=4, lr=1e-2, amp=False),
            },
            "['net']",
        ),
        "pytorch tutorial": (
            {"model_state_dict": state, "optimizer_state_dict": optimizer.state_dict(), "epoch": 2, "loss": 0.31},
            "['model_state_dict']",
        ),
        "state_dict": ({"state_dict": state}, "['state_dict']"),
        "model": ({"model": state, "epoch": np.int64(3)}, "['model']"),
        "lightning": (
            {
                "state_dict": {f"model.{k}": v for k, v in state.items()},
                "epoch": 4,
                "global_step": 120,
                "pytorch-lightning_version": "2.4.0",
                "hyper_parameters": {"lr": 0.01},
            },
            "['state_dict'], key prefix 'model.' removed",
        ),
    }


@pytest.mark.parametrize("form", ["spikingjelly", "pytorch tutorial", "state_dict", "model", "lightning"])
def test_a_checkpoint_loads_with_arch_alone_and_names_its_entry(net, tmp_path, form):
    model, optimizer = net
    saved, entry = checkpoints(model, optimizer)[form]
    path = tmp_path / "checkpoint.pth"
    torch.save(saved, path)
    notes = []
    loaded = load_torch_model(path, arch=ARCH, note=notes.append)
    assert notes == [f"loaded the state dict from checkpoint entry {entry}"]
    expected = model.state_dict()
    assert loaded.state_dict().keys() == expected.keys()
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in expected.items())
    # without --arch the file is read (plain data is allowlisted) and the error points to --arch
    with pytest.raises(ModelLoadError) as info:
        load_torch_model(path)
    assert info.value.diagnostics[0].code == "LOD006" and "--arch" in info.value.diagnostics[0].hint


def test_a_checkpoint_that_pickles_the_whole_model_needs_allow_pickle_and_then_loads(net, tmp_path, capsys):
    model, _ = net
    path = tmp_path / "whole.pth"
    torch.save({"net": model, "epoch": 3, "max_test_acc": np.float64(0.9)}, path)
    with pytest.raises(ModelLoadError) as info:
        load_torch_model(path, arch=ARCH)  # the user's class is not unpickled silently
    (d,) = info.value.diagnostics
    assert d.code == "LOD014" and "user_models.SJLoopMLP" in d.message and "--allow-pickle" in d.hint
    notes = []
    loaded = load_torch_model(path, arch=ARCH, allow_pickle=True, note=notes.append)  # the flag the hint names
    assert notes == ["loaded the state dict from checkpoint entry ['net'] (a whole pickled module)"]
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    alone = load_torch_model(path, allow_pickle=True, note=notes.append)  # or take the module itself
    assert type(alone).__name__ == "SJLoopMLP" and notes[-1] == "the model is the checkpoint's entry 'net'"


def test_a_checkpoint_whose_entries_do_not_fit_lists_the_differences(net, tmp_path):
    model, optimizer = net
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("net.3")}
    path = tmp_path / "partial.pth"
    torch.save({"net": state, "optimizer": optimizer.state_dict(), "epoch": 1}, path)
    with pytest.raises(ModelLoadError) as info:
        load_torch_model(path, arch=ARCH)
    (d,) = info.value.diagnostics
    assert d.code == "LOD015" and "net.3.weight" in d.message


def test_the_cli_reads_a_spikingjelly_checkpoint_with_arch_and_says_which_entry(net, tmp_path, capsys):
    model, optimizer = net
    saved, _ = checkpoints(model, optimizer)["spikingjelly"]
    path = tmp_path / "checkpoint_max.pth"
    torch.save(saved, path)
    code = main(["check", str(path), "--target", "loihi2", "--arch", ARCH])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "snncc: loaded the state dict from checkpoint entry ['net']" in err
    assert "IMT05" not in err  # the model's own T and readout, read from its loop
