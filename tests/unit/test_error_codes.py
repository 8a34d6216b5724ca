"""The catalog of diagnostic codes (snncc/error_codes.py, printed by `snncc errors`) lists exactly the
codes the source reports, with the error class and exit status of the one hierarchy in errors.py."""

from __future__ import annotations

import re
from pathlib import Path

from snncc.cli import main
from snncc.error_codes import MEANINGS, WARNINGS, catalog, error_classes
from snncc.errors import EXIT_BAD_INPUT, EXIT_VERIFICATION_FAILED

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "snncc" / "error_codes.py"
CODE = re.compile(r"[\"']([A-Z]{3}\d{3})[\"']")
WARNING = re.compile(r"[\"']warning[\"'],\s*[\"']([A-Z]{3}\d{3})[\"']")


def source_files() -> list[Path]:
    return [p for folder in ("snncc", "ir", "backends") for p in sorted((REPO / folder).rglob("*.py")) if p != CATALOG]


def codes_in_source(pattern: re.Pattern[str] = CODE) -> dict[str, list[str]]:
    """code -> where it is written (file:line), over the package's source without the catalog."""
    found: dict[str, list[str]] = {}
    for path in source_files():
        text = path.read_text()
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.setdefault(match.group(1), []).append(f"{path.relative_to(REPO)}:{line}")
    return found


def test_every_code_in_the_source_is_in_the_catalog():
    missing = {code: where for code, where in codes_in_source().items() if code not in MEANINGS}
    assert not missing, f"add these codes with their meaning to MEANINGS in snncc/error_codes.py: {missing}"


def test_every_code_in_the_catalog_is_still_used():
    unused = sorted(set(MEANINGS) - set(codes_in_source()))
    assert not unused, f"snncc/error_codes.py lists codes the source no longer reports: {unused}"


def test_warnings_are_the_codes_reported_as_warnings():
    assert set(codes_in_source(WARNING)) == WARNINGS


def test_every_code_belongs_to_an_error_class():
    classes = error_classes()
    orphans = sorted(code for code in MEANINGS if code[:3] not in classes)
    assert not orphans, f"no SnnccError subclass in snncc/errors.py has a default code with these prefixes: {orphans}"
    assert all(code[3:].isdigit() and len(code) == 6 for code in MEANINGS)


def test_snncc_errors_prints_the_catalog_with_exit_statuses(capsys):
    assert main(["errors"]) == 0
    printed = {
        line.split()[0]: line.split()[1:3] for line in capsys.readouterr().out.splitlines()[1:] if line[:1].isupper()
    }
    assert set(printed) >= set(MEANINGS)
    assert printed["VER001"] == [str(EXIT_VERIFICATION_FAILED), "VerificationFailed"]
    assert printed["LOD002"] == [str(EXIT_BAD_INPUT), "ModelLoadError"]
    assert printed["QNT020"] == ["0w", "QuantizationError"]
    assert len(catalog()) == len(MEANINGS)
