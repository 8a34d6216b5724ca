"""Re-measure the README's and docs/ pages' figures and fail when one has drifted beyond its tolerance.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/readme_numbers.py [--nir-cnn PATH/cnn_sinabs.nir] [--only NAME]

The README and docs/*.md are read as one text (the measurements moved to docs/ pages, issue 26).
Each claim is a pattern over that text (whitespace collapsed, so a figure may wrap across lines)
whose named groups are the figures, and the compile that measures them.  Compiles are
deterministic, so a figure must round to what the README prints (within half its last digit;
energies, which depend on the energy model's coefficients, also within 0.5 %).  The NIR paper's CNN (a sinabs export of N-MNIST, not in this
repository) is measured only when --nir-cnn names the file; examples/nir/cnn_sinabs.py writes its
data.  Exit 0: every measured figure matches; 1: some drifted (each printed with README and measured
values); claims whose pattern the README no longer holds are drift too (a table was edited by hand).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PCT = r"(?P<{}>[\d.]+) ?%"
RELATIVE = {"energy": 0.005}  # besides the printed precision


@dataclass(frozen=True)
class Claim:
    name: str
    pattern: str  # named groups: the figures
    measure: Callable[[], dict[str, float]]  # the same names, in percent (energy: µJ)


def compiled(model: Path, **options) -> dict[str, float]:
    from snncc.compile import CompileOptions, compile_model

    result = compile_model(model, CompileOptions.of(**options))
    v = result.comparison.verification
    figures = {"deployed": 100 * (v.deployed_accuracy or 0), "agreement": 100 * v.output_agreement}
    if v.float_accuracy is not None:
        figures["float"] = 100 * v.float_accuracy
    figures["energy"] = result.energy.total("total_pj") / 1e6
    return figures


def _pct(*names: str) -> list[str]:
    return [PCT.format(n) for n in names]


def claims(nir_cnn: Path | None) -> list[Claim]:
    digits = ROOT / "examples" / "digits" / "model.pt"
    xylo = ROOT / "examples" / "xylo_digits"
    found = [
        Claim(
            "bundled example, loihi",
            r"On the bundled example \(`snncc compile examples/digits/model\.pt --target loihi`\): 1 core of 128, "
            + "{} deployed accuracy, as float, on the 450 held-out digits, the same decision on {} of them, ".format(
                *_pct("deployed", "agreement")
            )
            + r"(?P<energy>[\d.]+) µJ per sample",
            lambda: compiled(digits, target="loihi"),
        ),
        Claim(
            "bundled example, loihi2",
            r"\(`--target loihi2`: {}, (?P<energy>[\d.]+) µJ\)".format(*_pct("deployed")),
            lambda: compiled(digits, target="loihi2"),
        ),
        Claim(
            "Xylo example",
            "measured: float {}, deployed {}, same decision on {} of the 361 held-out digits, ".format(
                *_pct("float", "deployed", "agreement")
            )
            + r"XyloSim bit-exact with refsim on all 361 samples \([\d.]+ s\); (?P<energy>[\d.]+) µJ per sample",
            lambda: compiled(xylo / "model.pt", target="xylo", data=xylo / "test_data.npz"),
        ),
    ]
    sys.path.insert(0, str(ROOT / "examples" / "neurons"))
    from deploy_table import HERE, MODELS

    for file, (what, target, approximations) in MODELS.items():
        path = HERE / file.split("#")[0]
        found.append(
            Claim(
                f"neuron table: {what}",
                rf"\| {re.escape(what)} \| `{target}` \| "
                + r"{} \| {} \| [^|]+ \| {} \|".format(*_pct("float", "deployed", "agreement")),
                lambda path=path, target=target, approximations=approximations: compiled(
                    path, target=target, approximations=approximations
                ),
            )
        )
    if nir_cnn is not None:
        data = nir_cnn.with_name("digits34.npz")
        for target in ("loihi", "loihi2"):
            found.append(
                Claim(
                    f"NIR paper CNN, {target}",
                    r"\| target \| cores \| energy per sample \| float accuracy \| deployed \| same decision \|"
                    + rf".{{0,400}}?\| `{target}` \| [^|]+ \| [^|]+ \| "
                    + r"{} \| {} \| {} \|".format(*_pct("float", "deployed", "agreement")),
                    lambda target=target: compiled(nir_cnn, target=target, dt=1.0, steps=16, readout="sum", data=data),
                )
            )
    return found


def readme_text() -> str:
    """README.md and docs/*.md (sorted) as one text, whitespace collapsed."""
    pages = [README, *sorted(DOCS.glob("*.md"))]
    return " ".join("\n".join(p.read_text() for p in pages).split())


def check(claim: Claim, text: str) -> list[str]:
    match = re.search(claim.pattern, text)
    if match is None:
        return [f"{claim.name}: the README no longer holds this claim's text (pattern {claim.pattern!r})"]
    measured = claim.measure()
    drift = []
    for key, written in match.groupdict().items():
        value, expected = measured[key], float(written)
        decimals = len(written.partition(".")[2])
        tolerance = max(0.5 * 10**-decimals, RELATIVE.get(key, 0.0) * abs(expected)) + 1e-9
        ok = abs(value - expected) <= tolerance
        shown = f"{value:.3f} µJ" if key == "energy" else f"{value:.2f} %"
        print(f"  {key:<10} README {written:>7}  measured {shown:>10}  {'ok' if ok else 'DRIFTED'}")
        if not ok:
            drift.append(f"{claim.name}: {key} README {written}, measured {shown}")
    return drift


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nir-cnn", type=Path, help="the NIR paper's cnn_sinabs.nir (digits34.npz beside it)")
    parser.add_argument("--only", help="only the claims whose name contains this")
    args = parser.parse_args(argv)
    text = readme_text()
    drift = []
    for claim in claims(args.nir_cnn):
        if args.only and args.only not in claim.name:
            continue
        print(claim.name, flush=True)
        drift += check(claim, text)
    if drift:
        print("\nREADME figures that drifted:\n" + "\n".join(f"- {d}" for d in drift), file=sys.stderr)
        return 1
    print("\nevery README figure checked matches", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
