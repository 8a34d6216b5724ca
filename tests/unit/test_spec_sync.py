"""ir/SPEC.md and the op dataclasses describe the same IR: a section per op, and each section's
`Fields` are exactly the class's fields (besides `shape`, which every op has, SPEC.md §1).

A section gives its fields as "Fields: `a`, `b` (what b is), ...", as "Fields as `other_op`", or
as "An `other_op` (...) plus `c`, `d`"; backticked names inside parentheses are values, not fields.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from snncc.ir import ALL_OPS
from snncc.ir.op import Op

SPEC = Path(__file__).resolve().parents[2] / "ir" / "SPEC.md"
COMMON = frozenset(f.name for f in dataclasses.fields(Op))
NAME = re.compile(r"`([a-z_][a-z0-9_]*)`")


def sections(text: str) -> dict[str, str]:
    """op name -> the text of its '### name' section."""
    parts = re.split(r"^### (\w+)[^\n]*\n", text, flags=re.MULTILINE)
    return {parts[i]: re.split(r"^##? ", parts[i + 1], flags=re.MULTILINE)[0] for i in range(1, len(parts), 2)}


def _without_parentheses(text: str) -> str:
    while (stripped := re.sub(r"\([^()]*\)", "", text)) != text:
        text = stripped
    return text


def _first_sentence(text: str) -> str:
    return re.split(r"\.(?:\s|$)", text, maxsplit=1)[0]


def spec_fields(op: str, secs: dict[str, str]) -> set[str]:
    """The fields SPEC.md gives op (without the common ones)."""
    body = secs[op]
    inherited = re.search(r"Fields as `(\w+)`", body) or re.search(r"^An? `(\w+)`", body, re.MULTILINE)
    own: set[str] = set()
    if inherited and inherited.group(0).startswith("A"):  # "An `lif` (...) plus `m_tau`, ..."
        rest = _without_parentheses(body[inherited.end() :])
        plus = re.match(r"\s*plus\s", rest)
        own = set(NAME.findall(_first_sentence(rest[plus.end() :]))) if plus else set()
    elif not inherited and (start := body.find("Fields")) >= 0:
        paragraph = body[start:].split("\n\n")[0]
        own = set(NAME.findall(_first_sentence(_without_parentheses(paragraph))))
    return own | (spec_fields(inherited.group(1), secs) if inherited else set())


@pytest.fixture(scope="module")
def spec_sections() -> dict[str, str]:
    return sections(SPEC.read_text())


def test_spec_has_a_section_for_every_op(spec_sections):
    missing = sorted(op.OP for op in ALL_OPS if op.OP not in spec_sections)
    assert not missing, f"ir/SPEC.md has no '### <op>' section for {missing}"


@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.OP)
def test_spec_fields_are_the_dataclass_fields(op, spec_sections):
    if op.OP not in spec_sections:
        pytest.skip("no section (test_spec_has_a_section_for_every_op fails)")
    in_code = {f.name for f in dataclasses.fields(op)} - COMMON
    in_spec = spec_fields(op.OP, spec_sections) - COMMON
    problems = [
        f"field `{name}` of {op.__module__}.{op.__name__} is missing from its 'Fields' in ir/SPEC.md"
        for name in sorted(in_code - in_spec)
    ] + [
        f"ir/SPEC.md lists field `{name}`, which {op.__module__}.{op.__name__} does not have"
        for name in sorted(in_spec - in_code)
    ]
    assert not problems, f"op {op.OP!r}: " + "; ".join(problems)


def test_the_parser_reads_each_form_of_fields():
    """The three forms, and values in parentheses, on a SPEC-shaped text."""
    secs = sections(
        '### base\nFields: `a` (`"x"` or `y`), `b`. Then `c` is prose.\n\n'
        "### same\nFields as `base`. Prose `d`.\n\n"
        "### more\nAn `base` (with `e` set) plus `f`\n(int), `g`. Prose `h`.\n\n"
        "### none\nReshape.\n## 3. Next\n### x\nFields: `z`.\n"
    )
    assert spec_fields("base", secs) == {"a", "b"}
    assert spec_fields("same", secs) == {"a", "b"}
    assert spec_fields("more", secs) == {"a", "b", "f", "g"}
    assert spec_fields("none", secs) == set()
