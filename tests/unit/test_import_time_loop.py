"""A forward that loops snncc.nn neurons over time by hand imports as the model it is.

The oracle is the torch model itself: FloatSim of the imported graph must give its outputs and
spikes exactly (check_equivalent), with the steps and readout read from the loop.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from test_import_torch import check_equivalent, scaled
from torch import nn

import snncc.nn as snn
from snncc.errors import ImportFailed
from snncc.importers.torch import import_torch

STEPS = 5


class LoopNet(nn.Module):
    """conv -> LIF -> pool -> flatten -> linear -> IF -> linear, looped in forward; ``combine`` says how."""

    def __init__(self, combine: str, steps: int = STEPS) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.lif = snn.LIF(tau=2.0)
        self.pool = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(12, 8)
        self.neuron = snn.IF(v_reset=None)
        self.fc2 = nn.Linear(8, 4)
        self.combine, self.steps = combine, steps

    def step(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.lif(self.conv(x)))
        return self.fc2(self.neuron(self.fc1(h.flatten(1))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        snn.reset_neurons(self)
        if self.combine in ("mean", "sum"):
            out = 0
            for _ in range(self.steps):
                out = out + self.step(x)
            return out / self.steps if self.combine == "mean" else out
        if self.combine == "last":
            for _ in range(self.steps):
                out = self.step(x)
            return out
        return torch.stack([self.step(x) for _ in range(self.steps)]).mean(0)  # "stack-mean"


@pytest.mark.parametrize("combine", ["mean", "sum", "last", "stack-mean"])
def test_hand_written_loop_imports_exactly(combine):
    model = scaled(LoopNet(combine), 4.0, seed=3)
    graph = check_equivalent(model, (1, 4, 4))  # outputs equal: steps and readout were read right
    assert graph.meta.steps == STEPS
    assert "time loop" in graph.meta.note("time_loop")


def test_steps_and_readout_given_on_the_command_line_override_the_loop():
    model = scaled(LoopNet("mean"), 4.0, seed=3)
    graph = import_torch(model, (1, 4, 4), steps=7)
    assert graph.meta.steps == 7 and "overriding" in graph.meta.note("steps")


class PerStepInput(LoopNet):
    """x holds one frame per step: not direct input, refused with the step named."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        snn.reset_neurons(self)
        out = 0
        for t in range(self.steps):
            out = out + self.step(x * (t + 1))
        return out


class UnevenLoop(LoopNet):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        snn.reset_neurons(self)
        h = self.lif(self.conv(x))  # one extra step of the first layer
        out = 0
        for _ in range(self.steps):
            out = out + self.step(x)
        return out + 0 * h.sum()


@pytest.mark.parametrize(("cls", "words"), [(PerStepInput, "step 2"), (UnevenLoop, "runs 6 times")])
def test_loops_snncc_cannot_fold_are_refused_with_the_reason(cls, words):
    with pytest.raises(ImportFailed) as info:
        import_torch(cls("mean"), (1, 4, 4))
    assert len(info.value.diagnostics) <= 2, info.value.render()  # one reason, not one line per unrolled call
    assert words in info.value.render()


@pytest.mark.slow  # runs the CLI in subprocesses
def test_cli_compiles_a_hand_looped_state_dict_and_a_whole_pickle_next_to_its_module(tmp_path):
    """What a user does: mynet.py beside the checkpoints, snncc run from that folder."""
    (tmp_path / "mynet.py").write_text(
        textwrap.dedent(
            """
            import torch
            from torch import nn
            import snncc.nn as snn

            class Net(nn.Module):
                def __init__(self, steps: int = 4):
                    super().__init__()
                    self.fc1, self.lif, self.fc2 = nn.Linear(64, 16), snn.LIF(tau=2.0), nn.Linear(16, 10)
                    self.steps = steps

                def forward(self, x):
                    snn.reset_neurons(self)
                    out = 0
                    for _ in range(self.steps):
                        out = out + self.fc2(self.lif(self.fc1(x.flatten(1))))
                    return out / self.steps
            """
        )
    )
    save = "import torch, mynet; m = mynet.Net().eval(); torch.save(m.state_dict(), 'sd.pt'); torch.save(m, 'whole.pt')"
    subprocess.run([sys.executable, "-c", save], cwd=tmp_path, check=True)
    # the console script, not python -m: only python -m puts the working directory on sys.path
    snncc = [str(Path(sys.executable).with_name("snncc"))]
    runs = {
        "sd": [*snncc, "check", "sd.pt", "--arch", "mynet.py:Net", "--target", "loihi"],
        "whole": [*snncc, "check", "whole.pt", "--allow-pickle", "--target", "loihi"],
        "refused": [*snncc, "check", "whole.pt", "--target", "loihi"],
    }
    done = {k: subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True) for k, cmd in runs.items()}
    assert done["sd"].returncode == 0, done["sd"].stderr
    assert done["whole"].returncode == 0, done["whole"].stderr
    assert done["refused"].returncode == 2 and "LOD002" in done["refused"].stderr
    assert "Traceback" not in done["refused"].stderr
