"""Deployable forms of max pooling before a neuron, measured without retraining (issue 26 item 2).

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/maxpool_forms.py [--seeds 0 1 2]

User-written models trained on the digits with the pool before the neuron: snntorch's tutorial CSNN
(Conv2d -> MaxPool2d -> Leaky, subtract reset; benchmarks/finetune.py's recipe, one per seed) and a
spikingjelly CSNN in the same order (Conv2d -> BatchNorm2d -> MaxPool2d -> IFNode, hard reset).  Each
form (snncc/passes/maxpool_forms.py) is compiled like `snncc compile --approximate`: calibrated on 256
training digits, scored on the 450 held-out ones, on loihi2 (soft reset and initial potential exist)
and loihi (snntorch's soft reset approximated as a hard one, its initial potential dropped):
- avgpool: the window's mean (maxpool-as-avgpool);
- avgpool + rates: the same with each channel's input gain set so it fires as the trained model does;
- after neuron: the neuron at the pool's input resolution, its spikes OR-pooled (exact on chip);
- after neuron + rates: that, calibrated the same way (maxpool-after-neuron).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.finetune import train_tutorial_csnn  # noqa: E402

FORMS = ("avgpool", "avgpool + rates", "after neuron", "after neuron + rates")


def spikingjelly_csnn(seed: int, folder: Path) -> Path:
    """conv-BN-maxpool-IF twice and a linear IF layer, T = 4, multi-step, saved whole (torch.save(net))."""
    from spikingjelly.activation_based import functional, layer, neuron, surrogate
    from torch import nn

    sys.path.insert(0, str(REPO / "examples" / "digits"))
    from train import load_split

    x_train, y_train, _, _ = load_split()
    torch.manual_seed(seed)
    net = nn.Sequential(
        layer.Conv2d(1, 8, 3, padding=1, bias=False), layer.BatchNorm2d(8), layer.MaxPool2d(2, 2),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
        layer.Conv2d(8, 16, 3, padding=1, bias=False), layer.BatchNorm2d(16), layer.MaxPool2d(2, 2),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
        layer.Flatten(), layer.Linear(16 * 2 * 2, 10, bias=False), neuron.IFNode(surrogate_function=surrogate.ATan()),
    )  # fmt: skip
    functional.set_step_mode(net, "m")
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.tensor(x_train), torch.tensor(y_train)
    for _ in range(6):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            i = order[start : start + 64]
            functional.reset_net(net)
            counts = net(x[i].unsqueeze(0).repeat(4, 1, 1, 1, 1)).sum(0)
            optimizer.zero_grad()
            nn.functional.cross_entropy(counts, y[i]).backward()
            optimizer.step()
    net.eval()
    functional.reset_net(net)
    torch.save(net, folder / "sj.pt")
    return folder / "sj.pt"


def measure(model: Path, options: dict, train: Path, test: Path) -> dict[str, tuple[float, float, float]]:
    """form -> (float accuracy of the form, deployed loihi2, deployed loihi); and 'model' -> float."""
    from snncc.backends.floatsim import FloatSim
    from snncc.compile import compile_model, import_model
    from snncc.data import dataset_from_arrays, load_dataset
    from snncc.ir import Input, Output
    from snncc.options import CompileOptions, QuantizationOptions, VerificationOptions
    from snncc.passes import maxpool_forms as mf
    from snncc.verify import predict

    _, graph = import_model(model, CompileOptions.of(data=train, **options))
    shape = graph.of_type(Input)[0][1].shape
    tr, te = load_dataset(train), load_dataset(test)
    x_cal = tr.x[:256].reshape(256, *shape)
    x_te = te.x.reshape(len(te.x), *shape)
    pools = mf.analog_pools(graph)
    calib = {"input": x_cal}
    forms = {"avgpool": mf.as_avgpool(graph), "after neuron": mf.after_neuron(graph)}
    forms["avgpool + rates"] = mf.calibrate_rates(forms["avgpool"], graph, calib, pools)[0]
    forms["after neuron + rates"] = mf.calibrate_rates(forms["after neuron"], graph, calib, pools)[0]

    def float_accuracy(g) -> float:
        (name, op), *_ = g.of_type(Output)
        return float((predict(FloatSim().run(g, {"input": x_te}).outputs[name], op.readout) == te.y).mean())

    rows = {"model": (float_accuracy(graph), float("nan"), float("nan"))}
    resets = ("soft-reset-as-hard", "drop-initial-potential")
    for form in FORMS:
        g = forms[form]
        deployed = []
        for target, approx in (("loihi2", ()), ("loihi", resets)):
            result = compile_model(
                model,
                CompileOptions(
                    target=target,
                    quantization=QuantizationOptions(approximations=approx),
                    verification=VerificationOptions(min_output_agreement=0.0),
                ),
                imported=(dataset_from_arrays(x_te, te.y), g),
                calibration=dataset_from_arrays(x_cal),
            )
            deployed.append(result.comparison.verification.deployed_accuracy)
        rows[form] = (float_accuracy(g), *deployed)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)
    arch = f"{REPO / 'tests' / 'integration' / 'user_models.py'}:STTutorialCSNN"
    print("| model | form | float | deployed loihi2 | deployed loihi |\n|---|---|---:|---:|---:|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            model, _, _ = train_tutorial_csnn(seed, folder)
            models = {f"snntorch tutorial CSNN, seed {seed}": (model, {"arch": arch})}
            sj = spikingjelly_csnn(seed, folder)
            models[f"spikingjelly conv-BN-maxpool-IF, seed {seed}"] = (sj, {"steps": 4, "readout": "sum"})
            for name in ("train", "test"):  # the spikingjelly model takes images, not flat rows
                d = np.load(folder / f"{name}.npz")
                np.savez(folder / f"{name}_img.npz", x=d["x"].reshape(-1, 1, 8, 8), y=d["y"])
            for label, (path, options) in models.items():
                img = "_img" if path == sj else ""
                rows = measure(path, options, folder / f"train{img}.npz", folder / f"test{img}.npz")
                print(f"| {label} | trained model | {100 * rows['model'][0]:.2f}% | | |", flush=True)
                for form in FORMS:
                    f, l2, l1 = rows[form]
                    print(f"| | {form} | {100 * f:.2f}% | {100 * l2:.2f}% | {100 * l1:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
