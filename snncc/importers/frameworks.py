"""The interface between the torch importer and the importers of other torch frameworks.

A framework importer (spikingjelly.py, snntorch.py) reads the models of one package the way
torch.py reads snncc.nn models: it says which of the package's modules are layers (``is_leaf``),
converts them to IR ops (``converters``, with ``unsupported_setting`` and ``layer_converter`` of
torch_layers.py), and may read the model's own handling of time (``adapt``: multi-step containers,
repeated input, time loops) into the per-step chain torch.py imports (an ``Adapted`` walk).

Each framework importer registers itself (``register``) when it is imported; torch.py asks
``framework_of(class)`` and never names a framework, and the framework importers never import
torch.py.  A framework's importer is imported only when a model uses that package (its import
is slow, and the package may not be installed).
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from snncc.errors import Diagnostic
from snncc.ir import Op, Shape

Converter = Callable[[str, Any, Shape | None], Op]  # (node name, module, input shape or None) -> op


@dataclass(frozen=True)
class LayerCall:
    """One step of the body's forward: a leaf module, or a functional flatten (module None)."""

    name: str
    module: nn.Module | None


@dataclass(frozen=True)
class Walk:
    calls: tuple[LayerCall, ...]
    problems: tuple[Diagnostic, ...]
    order_note: str
    input_sizes: tuple[int, ...] | None = None  # forward's reshape of its input, per sample (-1: inferred)


@dataclass(frozen=True)
class Adapted:
    """A model as a framework importer reads it: the per-step layers and what the model fixes about time."""

    walk: Walk
    steps: int | None = None  # the model's own number of steps (e.g. spikingjelly's T-repeated input)
    readout: str | None = None  # the model's own reduction of the per-step outputs over time
    notes: tuple[tuple[str, str], ...] = ()
    warnings: tuple[Diagnostic, ...] = ()  # what the user should know about how the model was read


@dataclass(frozen=True, eq=False)
class FrameworkImporter:
    """What torch.py needs from the importer of one framework's modules."""

    package: str  # the top-level package of the framework's classes ("spikingjelly")
    converters: Mapping[type[nn.Module], Converter]  # class -> its IR op
    bypassed: tuple[type[nn.Module], ...]  # classes that are the identity at inference (dropout)
    supported_names: str  # for the hint of an unsupported layer
    is_leaf: Callable[[nn.Module], bool]  # a layer, not a container to walk into
    adapt: Callable[[nn.Module, Shape], Adapted | None]  # the model's per-step chain; None: the standard walk
    # class -> the synapse op of its connection from the layer back to itself (snntorch's RLeaky)
    recurrent: Mapping[type[nn.Module], Callable[[str, Any, Shape], Op]] = field(default_factory=dict)


# package of a model's classes -> the snncc module that imports them (it registers itself)
_IMPORTER_MODULES: dict[str, str] = {
    "spikingjelly": "snncc.importers.spikingjelly",
    "snntorch": "snncc.importers.snntorch",
}
_REGISTERED: dict[str, FrameworkImporter] = {}


def register(importer: FrameworkImporter) -> FrameworkImporter:
    """Make ``importer`` the one for the classes of its package."""
    _REGISTERED[importer.package] = importer
    return importer


def framework_of(kind: type) -> FrameworkImporter | None:
    """The importer for a class of another framework (importing it on first use), or None."""
    package = str(getattr(kind, "__module__", "")).partition(".")[0]
    if package not in _REGISTERED and package in _IMPORTER_MODULES:
        importlib.import_module(_IMPORTER_MODULES[package])
    return _REGISTERED.get(package)


def neuron_classes(walk: Walk, chain: list[tuple[str, Op]]) -> str:
    """The graph note NEURON_CLASSES (snncc/hints.py) for the layers of ``chain`` (name, op) that a framework's module made."""
    built = {name for name, _ in chain}
    classes = {
        call.name: f"{package}.{type(call.module).__name__}"
        for call in walk.calls
        if call.module is not None and call.name in built
        for package in [str(type(call.module).__module__).partition(".")[0]]
        if package in _IMPORTER_MODULES
    }
    return json.dumps(classes, sort_keys=True) if classes else ""
