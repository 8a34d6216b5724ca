"""benchmarks/readme_numbers.py finds every figure of the README and docs/ pages it re-measures, and names a drifted one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("readme_numbers", ROOT / "benchmarks" / "readme_numbers.py")
readme_numbers = importlib.util.module_from_spec(spec)
sys.modules["readme_numbers"] = readme_numbers  # its dataclass looks its module up there
spec.loader.exec_module(readme_numbers)


def readme() -> str:
    return readme_numbers.readme_text()  # README.md and docs/*.md, as the benchmark reads them


def test_every_claim_is_found_in_the_readme():
    claims = readme_numbers.claims(nir_cnn=Path("cnn_sinabs.nir"))  # the NIR paper's CNN table too
    assert len(claims) >= 16
    text = readme()
    missing = [c.name for c in claims if readme_numbers.re.search(c.pattern, text) is None]
    assert not missing


def test_a_drifted_figure_is_named_and_a_matching_one_is_not(capsys):
    (claim,) = [c for c in readme_numbers.claims(None) if c.name == "bundled example, loihi"]
    match = readme_numbers.re.search(claim.pattern, readme())
    written = {k: float(v) for k, v in match.groupdict().items()}
    same = readme_numbers.Claim(claim.name, claim.pattern, lambda: dict(written))
    assert readme_numbers.check(same, readme()) == []
    moved = readme_numbers.Claim(
        claim.name, claim.pattern, lambda: {**written, "agreement": written["agreement"] - 0.22}
    )
    (drift,) = readme_numbers.check(moved, readme())
    assert drift.startswith("bundled example, loihi: agreement README") and "DRIFTED" in capsys.readouterr().out
