"""Compile every neuron model in this folder and print docs/models.md's table of supported neuron models.

Run from the repository root:  python examples/neurons/deploy_table.py
Each model is the bundled digits network (examples/digits/train.py --neuron NAME) trained with one
neuron model of snncc.nn; it is compiled for the first target in TARGETS that has the features it
needs, and verified on the 450 held-out digits.
"""

from __future__ import annotations

import sys
from pathlib import Path

from snncc.compile import CompileOptions, compile_model
from snncc.options import QuantizationOptions

HERE = Path(__file__).resolve().parent
MODELS = {  # file -> (description, target, approximations)
    "../digits/model.pt": ("LIF, hard reset (the bundled example)", "loihi", ()),
    "if.pt": ("IF, hard reset", "loihi", ()),
    "plif.pt": ("PLIF (learned time constant), hard reset", "loihi", ()),
    "lif-soft.pt": ("LIF, soft reset", "loihi2", ()),
    "if-soft.pt": ("IF, soft reset", "loihi2", ()),
    "klif.pt": ("KLIF (learned k, ReLU floor)", "loihi2", ()),
    "clif.pt": ("CLIF, look-up tables", "loihi2", ()),
    "clif.pt#hard": ("CLIF as hard-reset LIF (`--approximate clif-as-hard-reset`)", "loihi", ("clif-as-hard-reset",)),
    "imp.pt": ("IMP-LIF (learned V0), last-step readout", "loihi2", ()),
    "dsr-if.pt": ("DSR-IF (learned threshold and amplitude)", "loihi2", ()),
    "dsr-lif.pt": ("DSR-LIF", "loihi2", ()),
}


def main() -> int:
    rows = [
        "| model | target | float accuracy | deployed accuracy | Δ (pp) | same decision | spike agreement per layer |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    worst = 0.0
    for file, (what, target, approximations) in MODELS.items():
        path = HERE / file.split("#")[0]
        result = compile_model(
            path, CompileOptions(target=target, quantization=QuantizationOptions(approximations=approximations))
        )
        v = result.comparison.verification
        delta = 100 * (v.deployed_accuracy - v.float_accuracy)
        worst = max(worst, abs(delta))
        layers = ", ".join(f"{a.spike_agreement:.2%}" for a in v.layers)
        rows.append(
            f"| {what} | `{target}` | {v.float_accuracy:.2%} | {v.deployed_accuracy:.2%} | {delta:+.2f} | "
            f"{v.output_agreement:.2%} | {layers} |"
        )
    print("\n".join(rows))
    print(f"\nlargest |deployed - float| accuracy difference: {worst:.2f} percentage points", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
