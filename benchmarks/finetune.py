"""Issue 26's goal for `snncc finetune`: snntorch's tutorial CSNN (Conv2d -> MaxPool2d -> Leaky, subtract
reset), trained on the digits, fine-tuned for loihi in at most 2 minutes of CPU, deploys within 1 pp of
its original float accuracy.

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/finetune.py [--seeds 0 1 2] [--target loihi]

Per seed it trains tests/integration/user_models.py's STTutorialCSNN as tutorial 6 trains it (Adam
1e-2, snntorch's ce_rate_loss, 12 epochs on the 1347 training digits), saves it as snntorch users do
(torch.save(net.state_dict())), then runs, each as the command a user types, in a child process:
`snncc compile --approximate maxpool-after-neuron` (no retraining; on loihi with the reset
approximations it also needs), `snncc finetune`, and `snncc compile` of the fine-tuned model.nir.
All accuracies are on the 450 held-out digits (--test / --data), never trained or calibrated on.
CPU time is the child's user + system time (getrusage), robust to a shared machine; wall time is
printed beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "examples" / "digits"))

ARCH = f"{REPO / 'tests' / 'integration' / 'user_models.py'}:STTutorialCSNN"
CPU_GOAL_S = 120.0
GOAL_PP = 1.0


def train_tutorial_csnn(seed: int, folder: Path) -> tuple[Path, Path, Path]:
    """Tutorial 6's recipe on the digits; returns (state dict, train.npz, test.npz), data as flat rows."""
    import snntorch.functional as SF
    from train import load_split
    from user_models import STTutorialCSNN

    x_train, y_train, x_test, y_test = load_split()
    torch.manual_seed(seed)
    net = STTutorialCSNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = SF.ce_rate_loss()
    x, y = torch.tensor(x_train), torch.tensor(y_train)
    for _ in range(12):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            i = order[start : start + 64]
            optimizer.zero_grad()
            loss_fn(net(x[i]), y[i]).backward()
            optimizer.step()
    torch.save(net.state_dict(), folder / "csnn.pt")
    np.savez(folder / "train.npz", x=x_train.reshape(len(x_train), -1), y=y_train)
    np.savez(folder / "test.npz", x=x_test.reshape(len(x_test), -1), y=y_test)
    return folder / "csnn.pt", folder / "train.npz", folder / "test.npz"


def snncc(*argv: str) -> tuple[dict, float, float]:
    """Run the snncc CLI in a child process: (its --json output, CPU seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "snncc.cli", *argv, "--json", "-q"], capture_output=True, text=True, check=False
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"snncc {' '.join(argv)} failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return json.loads(done.stdout), cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--target", default="loihi")
    parser.add_argument("--seconds", type=float, default=90.0, help="finetune's training budget (CPU seconds)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    resets = ["--approximate", "soft-reset-as-hard", "--approximate", "drop-initial-potential"]
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model, train, test = train_tutorial_csnn(seed, folder)
            common = ["--target", args.target, "--arch", ARCH]
            approx = [
                "--approximate",
                "maxpool-after-neuron",
                *(resets if args.target in ("loihi", "nahuku32") else []),
            ]
            no_retrain, _, _ = snncc(
                "compile", str(model), *common, "--data", str(test), "--calib", str(train),
                "--out", str(folder / "approx"), *approx,
            )  # fmt: skip
            tuned, cpu, wall = snncc(
                "finetune", str(model), *common, "--data", str(train), "--test", str(test),
                "--out", str(folder / "ft"), "--seconds", str(args.seconds),
            )  # fmt: skip
            deployed, _, _ = snncc(
                "compile", str(folder / "ft" / "model.nir"), "--target", args.target, "--data", str(test),
                "--calib", str(train), "--out", str(folder / "deployed"),
            )  # fmt: skip
        a = tuned["accuracy"]
        row = {
            "seed": seed,
            "float": a["float_before"],
            "approx_deployed": no_retrain["deployed_accuracy"],
            "form_before": a["deployable_form_before"],
            "float_after": a["float_after"],
            "deployed": deployed["deployed_accuracy"],
            "cpu_s": cpu,
            "wall_s": wall,
            "epochs": tuned["training"]["epochs"],
        }
        rows.append(row)
        print(
            f"seed {seed}: float {100 * row['float']:.2f} %, --approximate (no retraining) deployed "
            f"{100 * row['approx_deployed']:.2f} %, deployable form {100 * row['form_before']:.2f} %, "
            f"fine-tuned float {100 * row['float_after']:.2f} %, deployed {100 * row['deployed']:.2f} % "
            f"({row['epochs']} epochs; finetune {cpu:.1f} s CPU, {wall:.1f} s wall)",
            flush=True,
        )
    met = all(r["deployed"] >= r["float"] - GOAL_PP / 100 and r["cpu_s"] <= CPU_GOAL_S for r in rows)
    print(
        f"goal (deployed within {GOAL_PP} pp of float, finetune <= {CPU_GOAL_S:.0f} s CPU): {'met' if met else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
