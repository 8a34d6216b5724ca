"""Which snncc modules import which, read from the source with ast (every import statement).

Every module of the installed package is found through pyproject's package-dir mapping, so the
modules that live outside snncc/ (snncc.ir in ir/, snncc.backends in backends/, ...) are read
too, and a new directory under any mapped one is walked without being named here."""

from __future__ import annotations

import ast
import functools
import tomllib
from pathlib import Path

import networkx as nx

import snncc

REPO = Path(__file__).resolve().parents[2]


def package_dirs() -> dict[str, Path]:
    """pyproject's [tool.setuptools] package-dir: package name -> the directory it is installed from."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {package: REPO / directory for package, directory in config["package-dir"].items()}


@functools.cache
def modules() -> dict[str, Path]:
    """Every module of the package, by its dotted name (a package by its __init__.py)."""
    found = {}
    for package, root in package_dirs().items():
        for path in root.rglob("*.py"):
            parts = (*package.split("."), *path.relative_to(root).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, *, at_import_time: bool = False, type_hints: bool = True) -> set[str]:
    """The modules ``path``'s import statements name (``from a import b``: a and a.b), absolute.

    at_import_time: only those that run when the module is imported (not in functions, not under
    ``if TYPE_CHECKING``); type_hints=False: all but those under ``if TYPE_CHECKING``."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return named(path.read_text(), package, at_import_time=at_import_time, type_hints=type_hints, known=set(modules()))


def named(
    source: str, package: str, *, at_import_time: bool = False, type_hints: bool = True, known: set[str] | None = None
) -> set[str]:
    """``known``: the package's modules; ``from . import sibling`` then names only the sibling (its
    package, an ancestor of this module, has been imported before this module anyway)."""
    tree = ast.parse(source)
    hints = set()
    if not type_hints:
        hints = {id(n) for st in ast.walk(tree) if _is_type_checking(st) for n in ast.walk(st)}
    statements = ast.walk(tree) if not at_import_time else _top_level(tree.body)
    found: set[str] = set()
    for st in statements:
        if id(st) in hints:
            continue
        if isinstance(st, ast.Import):
            found |= {a.name for a in st.names}
        elif isinstance(st, ast.ImportFrom):
            base = st.module or ""
            if st.level:
                parent = package.split(".")[: len(package.split(".")) - st.level + 1]
                base = ".".join([*parent, *([st.module] if st.module else [])])
            members = {f"{base}.{a.name}" for a in st.names}
            ancestor = package == base or package.startswith(f"{base}.")
            found |= members if known is not None and ancestor and members <= known else {base, *members}
    return found


def _is_type_checking(st: ast.AST) -> bool:
    return isinstance(st, ast.If) and "TYPE_CHECKING" in ast.unparse(st.test)


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    out = []
    for st in body:
        if _is_type_checking(st):
            continue
        if isinstance(st, (ast.If, ast.Try)):
            handlers = [s for h in getattr(st, "handlers", []) for s in h.body]
            out += _top_level([*st.body, *st.orelse, *handlers, *getattr(st, "finalbody", [])])
        else:
            out.append(st)
    return out


# ``from snncc import compile_model`` imports snncc.compile on first use (snncc/__init__.py's lazy API)
LAZY = {f"snncc.{name}": module for name, (module, _) in snncc._LAZY.items()}


@functools.cache  # read-only for callers: each test asks for the same few graphs
def graph(*, at_import_time: bool, type_hints: bool = True) -> nx.DiGraph:
    """Module -> the snncc modules it imports.  The package root ``snncc`` is left out (importing
    any module runs it); a name of its lazy API counts as an import of the module that defines it."""
    found = modules()
    g = nx.DiGraph()
    g.add_nodes_from(found)
    for name, path in found.items():
        named_here = imports(name, path, at_import_time=at_import_time, type_hints=type_hints)
        for target in {LAZY.get(n, n) for n in named_here} & set(found):
            if target not in (name, "snncc"):
                g.add_edge(name, target)
    return g
