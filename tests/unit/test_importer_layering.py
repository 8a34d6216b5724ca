"""The importers depend one way: the framework importers (spikingjelly.py, snntorch.py) plug into
the registry of frameworks.py and never import the torch importer back; the torch importer names
no framework; no import circle runs through importers/, and none runs anywhere in snncc at import
time.  Read from the source (every import statement, lazy and TYPE_CHECKING ones included)."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

import snncc

SNNCC = Path(snncc.__file__).parent
TORCH_IMPORTER = ("snncc.importers.torch", "snncc.importers.torch_walk", "snncc.importers.torch_layers")
FRAMEWORK_PACKAGES = ("spikingjelly", "snntorch")
FRAMEWORK_IMPORTERS = ("snncc.importers.spikingjelly", "snncc.importers.snntorch")


def _modules() -> dict[str, Path]:
    found = {}
    for path in SNNCC.rglob("*.py"):
        parts = path.relative_to(SNNCC.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(name: str, path: Path, *, at_import_time: bool = False) -> set[str]:
    """The modules ``path``'s import statements name (``from a import b``: a and a.b), absolute.

    at_import_time: only those that run when the module is imported (not in functions, not under
    ``if TYPE_CHECKING``)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    statements = ast.walk(tree) if not at_import_time else _top_level(tree.body)
    named: set[str] = set()
    for st in statements:
        if isinstance(st, ast.Import):
            named |= {a.name for a in st.names}
        elif isinstance(st, ast.ImportFrom):
            base = st.module or ""
            if st.level:
                parent = package.split(".")[: len(package.split(".")) - st.level + 1]
                base = ".".join([*parent, *([st.module] if st.module else [])])
            named |= {base, *(f"{base}.{a.name}" for a in st.names)}
    return named


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    out = []
    for st in body:
        if isinstance(st, ast.If) and "TYPE_CHECKING" in ast.unparse(st.test):
            continue
        if isinstance(st, (ast.If, ast.Try)):
            handlers = [s for h in getattr(st, "handlers", []) for s in h.body]
            out += _top_level([*st.body, *st.orelse, *handlers, *getattr(st, "finalbody", [])])
        else:
            out.append(st)
    return out


def _graph(*, at_import_time: bool) -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        for target in _imports(name, path, at_import_time=at_import_time) & set(modules):
            if target not in (name, "snncc"):
                graph.add_edge(name, target)
    return graph


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
