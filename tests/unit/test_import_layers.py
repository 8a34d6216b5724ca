"""Which snncc modules import which (issue 16): compile, report and the importers import each other in
one direction only, the importers take plain arguments rather than the compile options, and the NIR
importer loads without torch."""

import ast
import functools
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

import snncc

PACKAGE = Path(snncc.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, name: str, package: str, modules: set[str], type_checking: bool) -> set[str]:
    """The ``modules`` that module ``name`` (in ``package``) imports anywhere in its ``source``, inside
    functions too, where a circle only waits for the first call; ``type_checking``: also those
    imported only for type hints."""
    tree = ast.parse(source)
    hints = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                hints |= {id(n) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {c for c in candidates if c in modules and c != name}
    return found


@functools.cache
def import_graph(type_checking: bool = False) -> nx.DiGraph:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(paths)
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = imports_of(path.read_text(), name, package, set(paths), type_checking)
        graph.add_edges_from((name, dep) for dep in found)
    return graph


def test_no_import_circle_passes_through_compile_or_report():
    tangled = nx.strongly_connected_components(import_graph())  # modules that import each other
    assert [c for c in tangled if len(c) > 1 and {"snncc.compile", "snncc.report"} & c] == []


def test_the_importers_never_import_the_compile_driver_its_options_or_the_report():
    graph = import_graph(type_checking=True)
    driver = {"snncc.compile", "snncc.options", "snncc.result", "snncc.report", "snncc.pipeline", "snncc.cli"}
    offending = {
        (m, dep) for m in graph if m.startswith("snncc.importers.") for dep in graph.successors(m) if dep in driver
    }
    assert offending == set()


def test_the_walk_finds_imports_in_functions_relative_ones_and_type_hints():
    """The checks above must be able to fail: each kind of import that can close a circle is found."""
    modules = {"snncc.compile", "snncc.report", "snncc.importers.torch"}
    in_function = "def write():\n    from snncc.report import write_outputs\n"
    assert imports_of(in_function, "snncc.compile", "snncc", modules, False) == {"snncc.report"}
    relative = "from .torch import add_readout\n"
    assert imports_of(relative, "snncc.importers.nir", "snncc.importers", modules, False) == {"snncc.importers.torch"}
    hint = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from snncc.compile import CompileOptions\n"
    assert imports_of(hint, "snncc.importers.nir", "snncc.importers", modules, False) == set()
    assert imports_of(hint, "snncc.importers.nir", "snncc.importers", modules, True) == {"snncc.compile"}


@pytest.mark.slow  # runs Python in a subprocess
def test_importing_the_nir_importer_does_not_import_torch():
    code = "import sys, snncc.importers.nir; assert 'torch' not in sys.modules, 'torch was imported'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
