"""scripts/line_budget.py, the line budget CI checks (.ci/run): counts, packages, and what fails."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("line_budget", REPO / "scripts" / "line_budget.py")
line_budget = importlib.util.module_from_spec(spec)
spec.loader.exec_module(line_budget)


def tree(root: Path, files: dict[str, int]) -> Path:
    for name, n in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"x{i} = {i}\n" for i in range(n)) + ("\n" if n else ""))
    return root


def test_lines_are_counted_per_package_with_ir_as_one(tmp_path):
    root = tree(
        tmp_path,
        {
            "snncc/cli.py": 3,
            "snncc/passes/quantize.py": 4,
            "snncc/passes/deep/more.py": 2,
            "ir/graph.py": 5,
            "ir/ops/lif.py": 1,
            "backends/base.py": 2,
            "backends/refsim/arith.py": 6,
            "tests/test_x.py": 100,  # not core
        },
    )
    # each file also has one blank line: physical lines, blank ones included
    assert line_budget.count_lines(root) == {
        "snncc": 4,
        "snncc/passes": 5 + 3,
        "ir": 6 + 2,
        "backends": 3,
        "backends/refsim": 7,
    }


def test_over_a_package_budget_or_the_total_or_unbudgeted_is_a_problem():
    lines = {"snncc": 100, "ir": 50}
    assert line_budget.problems(lines, {"snncc": 100, "ir": 50}, 150) == []
    assert line_budget.problems(lines, {"snncc": 99, "ir": 50}, 150) == ["snncc: 100 lines, budget 99"]
    assert line_budget.problems(lines, {"snncc": 100, "ir": 50}, 149) == ["core total: 150 lines, budget 149"]
    new, gone = line_budget.problems({**lines, "snncc/delays": 10}, {"snncc": 100, "ir": 50, "old": 1}, 999)
    assert new.startswith("snncc/delays: 10 lines and no budget") and gone.startswith("old: has a budget but no code")


def test_the_script_counts_every_core_file_of_this_checkout():
    lines = line_budget.count_lines(REPO)
    files = [p for top in ("snncc", "ir", "backends") for p in (REPO / top).rglob("*.py")]
    assert sum(lines.values()) == sum(len(p.read_text().splitlines()) for p in files)
    assert {"snncc", "snncc/passes", "ir", "backends/refsim"} <= set(lines) and "ir/ops" not in lines


def test_main_prints_the_table_and_exits_1_above_the_budget(tmp_path, capsys, monkeypatch):
    root = tree(tmp_path, {"snncc/cli.py": 9, "ir/graph.py": 1, "backends/base.py": 1})
    monkeypatch.setattr(line_budget, "BUDGETS", {"snncc": 10, "ir": 2, "backends": 2})
    monkeypatch.setattr(line_budget, "TOTAL_BUDGET", 14)
    assert line_budget.main(["--root", str(tmp_path)]) == 0
    assert "core total" in capsys.readouterr().out
    monkeypatch.setattr(line_budget, "TOTAL_BUDGET", 13)
    assert line_budget.main(["--root", str(root)]) == 1
    assert "over the line budget: core total: 14 lines, budget 13" in capsys.readouterr().err
