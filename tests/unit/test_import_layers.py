"""Which snncc modules import which (issue 16), read from the source (every import statement).

The framework importers (spikingjelly.py, snntorch.py) plug into the registry of frameworks.py and
never import the torch importer back; the torch importer names no framework; no import circle runs
through importers/, none runs anywhere at import time, and none passes through compile or report
even counting imports inside functions; the importers take plain arguments, never the compile
driver, its options or the report; the NIR importer loads without torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from import_graph import graph as _graph
from import_graph import imports as _imports
from import_graph import modules as _modules
from import_graph import named as _named

TORCH_IMPORTER = ("snncc.importers.torch", "snncc.importers.torch_walk", "snncc.importers.torch_layers")
FRAMEWORK_PACKAGES = ("spikingjelly", "snntorch")
FRAMEWORK_IMPORTERS = ("snncc.importers.spikingjelly", "snncc.importers.snntorch")


def _registers_a_framework(path: Path) -> bool:
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "register"
        for n in ast.walk(ast.parse(path.read_text()))
    )


def test_framework_importers_do_not_import_the_torch_importer():
    modules = _modules()
    for name in FRAMEWORK_IMPORTERS:
        back = _imports(name, modules[name]) & {"snncc.importers.torch"}
        assert not back, f"{name} imports the torch importer back"
    registering = sorted(name for name, path in modules.items() if _registers_a_framework(path))
    assert registering == sorted(FRAMEWORK_IMPORTERS)


def test_the_torch_importer_names_no_framework():
    modules = _modules()
    for name in (*TORCH_IMPORTER, "snncc.importers.frameworks"):
        named = _imports(name, modules[name])
        frameworks = {
            m for m in named if m.split(".")[0] in FRAMEWORK_PACKAGES or m.split(".")[-1] in FRAMEWORK_PACKAGES
        }
        assert not frameworks, f"{name} imports {sorted(frameworks)}; it should ask frameworks.framework_of"


def test_no_import_circle_through_importers():
    graph = _graph(at_import_time=False)
    importers = [n for n in graph if n.startswith("snncc.importers")]
    assert "snncc.importers.torch" in importers  # the graph is read
    assert list(nx.simple_cycles(graph.subgraph(importers))) == []


def test_no_import_circle_at_import_time():
    assert list(nx.simple_cycles(_graph(at_import_time=True))) == []


def test_framework_of_finds_the_importer_of_a_class_by_its_package():
    from snntorch import Leaky, RLeaky
    from spikingjelly.activation_based import neuron
    from torch import nn

    from snncc.importers.frameworks import framework_of

    jelly, snntorch = framework_of(neuron.IFNode), framework_of(Leaky)
    assert (jelly.package, snntorch.package) == ("spikingjelly", "snntorch")
    assert neuron.IFNode in jelly.converters and Leaky in snntorch.converters
    assert RLeaky in snntorch.recurrent and not jelly.recurrent
    assert framework_of(nn.Linear) is None


def test_no_import_circle_passes_through_compile_or_report():
    """Imports inside functions count (a circle there only waits for the first call); type hints do not."""
    tangled = nx.strongly_connected_components(_graph(at_import_time=False, type_hints=False))
    assert [c for c in tangled if len(c) > 1 and {"snncc.compile", "snncc.report"} & c] == []


def test_the_importers_never_import_the_compile_driver_its_options_or_the_report():
    graph = _graph(at_import_time=False)
    driver = {"snncc.compile", "snncc.options", "snncc.result", "snncc.report", "snncc.pipeline", "snncc.cli"}
    offending = {
        (m, dep) for m in graph if m.startswith("snncc.importers.") for dep in graph.successors(m) if dep in driver
    }
    assert offending == set()


def test_the_importers_never_import_the_conversion_that_consumes_them():
    """The ONNX importer writes the float ANN (snncc/ann.py); snncc.convert reads it: one direction only."""
    graph = _graph(at_import_time=False)
    offending = {
        (m, dep)
        for m in graph
        if m.startswith("snncc.importers.")
        for dep in graph.successors(m)
        if dep.startswith("snncc.convert")
    }
    assert offending == set()
    assert "snncc.ann" in set(graph.successors("snncc.importers.onnx.importer"))  # the graph is read


def test_the_walk_finds_imports_in_functions_relative_ones_and_type_hints():
    """The checks above must be able to fail: each kind of import that can close a circle is found."""
    in_function = "def write():\n    from snncc.report import write_outputs\n"
    assert "snncc.report" in _named(in_function, "snncc", type_hints=False)
    assert "snncc.report" not in _named(in_function, "snncc", at_import_time=True)
    relative = "from .torch import add_readout\n"
    assert "snncc.importers.torch" in _named(relative, "snncc.importers")
    hint = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from snncc.compile import CompileOptions\n"
    assert "snncc.compile" not in _named(hint, "snncc.importers", type_hints=False)
    assert "snncc.compile" in _named(hint, "snncc.importers")


@pytest.mark.slow  # runs Python in a subprocess
def test_importing_the_nir_importer_does_not_import_torch():
    code = "import sys, snncc.importers.nir; assert 'torch' not in sys.modules, 'torch was imported'"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
