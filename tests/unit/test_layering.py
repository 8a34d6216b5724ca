"""The layers of the installed package, checked on every module's imports (issue 28, item 4).

From the bottom: snncc.ir (the graph and its ops) stands on nothing of snncc but snncc.errors;
the simulators (snncc.backends.*) run the IR and know nothing of the compiler; the compiler
(passes, mapping, importers, exporters, ...) turns models into IR and never imports a simulator;
the runners (compile, verify, simulate, the measures of a run) use both; the CLI is on top.
Every import statement counts, inside functions and under ``if TYPE_CHECKING`` too: a lazy import
is a dependency that only waits for its first call."""

from __future__ import annotations

from import_graph import graph, modules, named, package_dirs

IR, BACKENDS, CLI = "snncc.ir", "snncc.backends", "snncc.cli"
# what an error needs: every layer may raise one (snncc.errors formats names with snncc.text)
BASE = frozenset({"snncc.errors", "snncc.text"})
# leaf helpers every layer may use, the IR included: codes, input-size limits, the safe .npz reader
SHARED = BASE | {"snncc.error_codes", "snncc.limits", "snncc.npz"}
# the backends' interface: run a backend by name (the registry) and read its Trace; importing it
# imports no simulator, so the compiler may run the float model by name without depending on one
BACKEND_API = frozenset({BACKENDS, f"{BACKENDS}.base", f"{BACKENDS}.registry"})
# modules whose job is to run a network on a simulator, or to measure such a run
RUNNERS = (
    "snncc.compile",
    "snncc.pipeline",
    "snncc.verify",
    "snncc.simulate",
    "snncc.report",
    "snncc.result",
    "snncc.deploy",  # compile's deployment and verification pipelines
    "snncc.preflight",  # `snncc check`: the passes a compile would run, without verifying
    "snncc.in_memory",  # compile_module: a torch module in memory through compile
    "snncc.neurobench",  # NeuroBench's metrics: counts what floatsim and refsim do, step by step
    "snncc.approximation_cost",
    "snncc.energy",
    "snncc.latency",
    "snncc.sanafe_check",
    "snncc.sanafe_export",
    "snncc.finetune",
    "snncc.convert.run",  # `snncc convert`: converts, then compiles
    "snncc.convert.section",  # the conversion's section of the report
)
# which layers each layer may import; anything not named above is "compiler", so a new module
# or directory is held to the compiler's rule until it is placed on purpose
MAY_IMPORT = {
    "ir": {"ir", "shared"},
    "shared": {"shared"},
    "backend_api": {"ir", "shared", "backend_api"},
    "backends": {"ir", "shared", "backend_api", "backends"},
    "compiler": {"ir", "shared", "backend_api", "compiler"},
    "runner": {"ir", "shared", "backend_api", "backends", "compiler", "runner"},
    "cli": {"ir", "shared", "backend_api", "backends", "compiler", "runner", "cli"},
}

# Imports that break the layers on main today.  The test fails on any break not listed here and
# on any listed edge that is gone: remove an entry when its fix merges, so the list only shrinks.
KNOWN_BREAKS = {
    # the Xylo core layout (which layer sits where, the three matrices) is read by the mapper and by
    # xylosim; it belongs with the xylo family's IR-level part (ir/families.py) once XyloPools does
    ("snncc.backends.xylosim.backend", "snncc.xylo_layout"),
}


def layer_of(module: str) -> str:
    def within(*prefixes: str) -> bool:
        return any(module == p or module.startswith(f"{p}.") for p in prefixes)

    if within(IR):
        return "ir"
    if module in BACKEND_API:
        return "backend_api"
    if within(BACKENDS):
        return "backends"
    if module in SHARED:
        return "shared"
    if within(*RUNNERS):
        return "runner"
    if within(CLI, "snncc.__main__"):
        return "cli"
    return "compiler"


def allowed(module: str, target: str) -> bool:
    if layer_of(module) == "ir" and target in BASE:
        return True
    return layer_of(target) in MAY_IMPORT[layer_of(module)]


def breaks(edges) -> set[tuple[str, str]]:
    return {(m, t) for m, t in edges if not allowed(m, t)}


def test_every_module_of_the_package_is_read():
    """The mapped directories (ir/, backends/, ...) are walked, not only snncc/."""
    found = modules()
    for package, directory in package_dirs().items():
        on_disk = set(directory.rglob("*.py"))
        assert on_disk <= set(found.values()), f"{package}: {sorted(map(str, on_disk - set(found.values())))}"
    assert {"snncc.ir.graph", "snncc.ir.ops", "snncc.backends.refsim", "snncc.passes.quantize"} <= set(found)
    assert {layer_of(m) for m in found} == set(MAY_IMPORT)  # every layer has modules: the names above are right


def test_no_module_imports_across_its_layer_except_the_known_breaks():
    found = breaks(graph(at_import_time=False).edges)
    new = sorted(found - KNOWN_BREAKS)
    assert new == [], (
        "layer broken (module -> what it imports): "
        + ", ".join(f"{m} -> {t} ({layer_of(m)} -> {layer_of(t)})" for m, t in new)
        + ". Move the code to the layer it belongs to; a new module that runs a simulator goes in RUNNERS."
    )


def test_the_known_breaks_still_exist():
    """A fixed break must leave KNOWN_BREAKS, so that it cannot come back unnoticed."""
    gone = sorted(KNOWN_BREAKS - breaks(graph(at_import_time=False).edges))
    assert gone == [], "no longer broken, remove from KNOWN_BREAKS: " + ", ".join(f"{m} -> {t}" for m, t in gone)


def test_the_compiler_never_imports_a_simulator_and_the_ir_nothing_above_it():
    """The rules themselves, on made-up edges: each kind of break is caught."""
    assert not allowed("snncc.passes.quantize", "snncc.backends.refsim")
    assert not allowed("snncc.new_directory.module", "snncc.backends.floatsim")  # unknown: compiler
    assert not allowed("snncc.ir.graph", "snncc.passes.quantize")
    assert allowed("snncc.ir.serialize", "snncc.npz")  # a leaf helper (the safe .npz reader)
    assert not allowed("snncc.ir.graph", "snncc.backends")
    assert allowed("snncc.passes.calibrate", "snncc.backends")  # the float model run by name
    assert not allowed("snncc.passes.calibrate", "snncc.backends.floatsim")  # but never a simulator itself
    assert not allowed("snncc.backends.refsim", "snncc.mapping.xylo")
    assert not allowed("snncc.mapping.split", "snncc.verify")  # the compiler does not call a runner
    assert not allowed("snncc.compile", "snncc.cli")
    assert allowed("snncc.ir.graph", "snncc.errors") and allowed("snncc.backends.refsim", "snncc.ir.graph")
    assert allowed("snncc.verify", "snncc.backends.refsim") and allowed("snncc.cli", "snncc.compile")


def test_a_lazy_import_inside_a_function_is_read():
    lazy = "def run(graph):\n    from snncc.backends.floatsim import FloatSim\n    return FloatSim().run(graph)\n"
    assert "snncc.backends.floatsim" in named(lazy, "snncc.passes")
