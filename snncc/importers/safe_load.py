"""Load a torch model from a file without running code from the file.

A whole saved module (``torch.save(model)``): ``torch.load(weights_only=True)`` refuses every
class that is not allowlisted.  The allowlist below (plus spikingjelly's layers, neurons and
surrogates when the file uses them: snncc/importers/spikingjelly.py) is passed for this call only
(``torch.serialization.safe_globals``), never added globally.  snntorch modules cannot be
allowlisted: a pickled Leaky holds a bound method (unpickled through ``getattr``) and usually
cannot even be saved whole (its surrogate is a closure); save its state dict and pass --arch.

A state dict (``torch.save(model.state_dict())``, or a training checkpoint that keeps it under some
key beside the optimizer's state, the epoch, numpy scalars or argparse options): with ``arch``
("module:Class" or "path/file.py:Class", snncc/importers/arch.py) the user's class is built and
the entry whose keys are its parameters loaded into it; importing that module runs the user's
code, which --arch opts into.  Checkpoints are read with weights_only=True plus DATA_CLASSES,
plain data that unpickles without running code; anything else needs --allow-pickle.

Every failure becomes a ModelLoadError with its own code:
LOD002 a class outside the allowlist (the file could execute code)
LOD003 no such file            LOD004 not a readable torch file (truncated, corrupt)
LOD005 a class defined in the training script's ``__main__`` (not importable)
LOD006 a state dict, not a module (and no --arch)        LOD007 some other object, not a module
LOD008 a class whose module cannot be imported here
LOD010-LOD013, LOD015 --arch problems (arch.py)     LOD014 --arch given, but the file holds no state dict
LOD016 the file calls a layer's constructor (a crafted file; bounded_load.py)
LIM001 (ResourceLimitError) the file declares or allocates more than --max-elements
LOD016 the file calls a layer constructor (a crafted file; bounded_load.py)   LIM001 it declares more than --max-elements
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import pickle
import pickletools
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snncc import nn as snn
from snncc.errors import ModelLoadError, SnnccError

from .arch import build_from_arch, on_sys_path
from .bounded_load import load_untrusted

# Layers the importer handles, plus common harmless layers: the importer, not the loader,
# should be the one to say that a layer is unsupported.
SAFE_LAYER_CLASSES: tuple[type, ...] = (
    nn.Sequential,
    nn.ModuleList,
    nn.Linear,
    nn.Conv2d,
    nn.AvgPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Flatten,
    nn.Dropout,
    nn.Identity,
    nn.Conv1d,
    nn.MaxPool2d,
    nn.AdaptiveAvgPool2d,
    nn.ReLU,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Softmax,
    nn.LayerNorm,
    nn.Dropout2d,
)
SAFE_SNNCC_CLASSES: tuple[type, ...] = (snn.SNN, *snn.NEURON_CLASSES)
SAFE_CLASSES: tuple[type, ...] = SAFE_LAYER_CLASSES + SAFE_SNNCC_CLASSES

_TRUST_HINT = (
    "pass --allow-pickle (allow_pickle=True) only if you trust the file; otherwise save "
    "model.state_dict() and pass --arch mynet.py:Net (the model's class), or build the model in "
    "Python and call snncc.importers.torch.import_torch(model, input_shape)"
)
_MAIN_HINT = (
    "save model.state_dict() and pass --arch path/to/mynet.py:Net naming the class; or move the class "
    "into an importable module (e.g. mynet.py), import it in the training script, train and "
    "torch.save(model) again, and load it with --allow-pickle"
)
_IMPORT_HINT = (
    "save model.state_dict() and pass --arch path/to/file.py:Class naming the class; or make its module "
    "importable (run snncc from the folder that holds it, or add that folder to PYTHONPATH) and pass "
    "--allow-pickle if you trust the file"
)


def data_classes() -> list[Any]:
    """Plain data training checkpoints hold beside the tensors (numpy scalars such as a float64
    accuracy, dtypes, argparse options): unpickling them builds values and runs no user code."""
    import argparse

    import numpy as np
    from numpy.core.multiarray import scalar

    dtypes = [v for v in vars(getattr(np, "dtypes", np)).values() if isinstance(v, type) and issubclass(v, np.dtype)]
    # files written under numpy 2 name the scalar constructor by its new module
    return [scalar, (scalar, "numpy._core.multiarray.scalar"), np.dtype, *dtypes, argparse.Namespace]


def load_torch_model(
    path: str | Path,
    *,
    allow_pickle: bool = False,
    arch: str | None = None,
    note: Callable[[str], None] | None = None,
) -> nn.Module:
    """Load a module saved with ``torch.save(model, path)``, or a state dict into ``arch``'s class.

    By default only allowlisted classes are reconstructed (``weights_only=True``);
    ``allow_pickle=True`` unpickles anything and must be used for trusted files only.
    ``arch`` ("module:Class" or "path/file.py:Class") imports the user's module (running its
    code), builds the class with no arguments and loads the file's state dict strictly.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise ModelLoadError(
            "model file not found" if not path.exists() else "model path is not a file",
            code="LOD003",
            source=where,
            hint="check the path; save the model with torch.save(model, path)",
        )
    if arch is not None:
        return build_from_arch(arch, _load_checkpoint(path, allow_pickle), where, note)
    obj = _load_trusted(path) if allow_pickle else _load_weights_only(path)
    return _require_module(obj, where, note)


def _load_weights_only(path: Path) -> Any:
    allowed = [*_safe_classes(path), *data_classes()]
    try:
        with torch.serialization.safe_globals(allowed):
            return load_untrusted(path)
    except SnnccError:
        raise
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path, allowed) or _named_in_message(str(exc))  # name only what is refused
        if not unsafe:
            raise _corrupt(path, exc) from exc
        raise _refused(path, unsafe) from None
    except Exception as exc:  # torch raises RuntimeError, KeyError, EOFError... on damaged files
        raise _corrupt(path, exc) from exc


def _safe_classes(path: Path) -> list[type]:
    """The allowlist, with spikingjelly's supported classes when the file uses spikingjelly."""
    classes = list(SAFE_CLASSES)
    if any(name.startswith("spikingjelly.") for name in _unsafe_globals(path, classes)):
        try:
            from .spikingjelly import safe_classes
        except ImportError:  # spikingjelly not installed: the classes are refused as unknown
            return classes
        classes += safe_classes()
    return classes


def _cwd_importable() -> contextlib.AbstractContextManager[None]:
    """Modules in the working directory importable, as under ``python -m``: the console script's
    sys.path lacks it, but a user runs snncc next to the mynet.py their model file needs."""
    return on_sys_path(Path.cwd())


def _load_trusted(path: Path) -> Any:
    try:
        with _cwd_importable():
            return torch.load(path, weights_only=False, map_location="cpu")
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:
        unresolved = _unresolved(_unsafe_globals(path), trusted=True) if zipfile.is_zipfile(path) else []
        main = "__main__" in str(exc) or any(n.startswith("__main__.") for n in unresolved)
        named = ", ".join(_describe_global(n) for n in unresolved) if unresolved else f"a class ({exc})"
        raise ModelLoadError(
            f"the file needs {named}, which cannot be imported here",
            code="LOD005" if main else "LOD008",
            source=str(path),
            hint=_MAIN_HINT if main else _IMPORT_HINT,
        ) from exc
    except Exception as exc:  # damaged file, or a class whose unpickling fails
        raise _corrupt(path, exc) from exc


def _unsafe_globals(path: Path, allowed: list[type] | None = None) -> list[str]:
    """Classes/functions the file references outside the allowlist, by a static scan (runs nothing)."""
    try:
        with torch.serialization.safe_globals(list(SAFE_CLASSES) if allowed is None else allowed):
            return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # not a zip checkpoint: maybe a plain pickle
        return _plain_pickle_globals(path)


def _unresolved(names: list[str], *, trusted: bool) -> list[str]:
    """The globals whose module cannot be imported here (``trusted``: also import it and look the name up).

    Untrusted files only get the top-level package looked up, which runs no code.
    """
    with _cwd_importable():
        return [name for name in names if not _importable(name, trusted=trusted)]


def _importable(name: str, *, trusted: bool) -> bool:
    module, _, attr = name.rpartition(".")
    top = module.split(".")[0]
    if not module or module == "__main__":
        return False
    try:
        if importlib.util.find_spec(top) is None:
            return False
        if trusted:
            value: Any = importlib.import_module(module)
            for part in attr.split("."):
                value = getattr(value, part)
    except Exception:
        return False
    return True


def _describe_global(name: str) -> str:
    module, _, attr = name.rpartition(".")
    return f"class {attr} from module {module}" if module else f"class {name}"


def _plain_pickle_globals(path: Path) -> list[str]:
    """Globals a plain (non-zip) pickle would import, read with pickletools (which runs nothing)."""
    names: list[str] = []
    strings: list[str] = []
    try:
        with open(path, "rb") as f:
            for opcode, arg, _ in pickletools.genops(f):
                if isinstance(arg, str):
                    strings.append(arg)
                if opcode.name == "GLOBAL":
                    names.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    names.append(f"{strings[-2]}.{strings[-1]}")
    except Exception:  # not a pickle either: the caller reports a damaged file
        return []
    return sorted(set(names))


def _named_in_message(message: str) -> list[str]:
    """torch names the first refused global as 'Unsupported global: GLOBAL module.name'."""
    marker = "Unsupported global: GLOBAL "
    if marker in message:
        return [message.split(marker, 1)[1].split()[0]]
    return []


def _refused(path: Path, unsafe: list[str]) -> ModelLoadError:
    in_main = [n for n in unsafe if n.startswith("__main__.")]
    if in_main:
        return ModelLoadError(
            f"the model uses {', '.join(in_main)}, a class defined in the training script (__main__); "
            "it cannot be imported when loading, so the file cannot be read without the script",
            code="LOD005",
            source=str(path),
            hint=_MAIN_HINT,
        )
    # only a zip checkpoint names its globals exactly (a plain pickle's are read heuristically)
    unimportable = _unresolved(unsafe, trusted=False) if zipfile.is_zipfile(path) else []
    if unimportable:
        return ModelLoadError(
            f"the model uses {', '.join(_describe_global(n) for n in unimportable)}, whose module cannot be "
            "imported here, so the file cannot be read even with --allow-pickle",
            code="LOD008",
            source=str(path),
            hint=_IMPORT_HINT,
        )
    return ModelLoadError(
        f"the file needs {', '.join(sorted(unsafe))}, which snncc does not load by default: "
        "unpickling it could execute arbitrary code",
        code="LOD002",
        source=str(path),
        hint=_TRUST_HINT,
    )


def _corrupt(path: Path, exc: BaseException) -> ModelLoadError:
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text.splitlines()[0].split('. ')[0]}" if text else type(exc).__name__
    return ModelLoadError(
        f"not a readable torch model file (truncated or corrupt?): {reason}",
        code="LOD004",
        source=str(path),
        hint="re-save the model with torch.save(model, path) and copy the file again",
    )


def _load_checkpoint(path: Path, allow_pickle: bool) -> Any:
    """What --arch reads its state dict from: tensors and plain data (weights_only), or anything
    with ``allow_pickle`` (a checkpoint that also pickles a whole module or the user's objects)."""
    if allow_pickle:
        return _load_trusted(path)
    allowed = [*_safe_classes(path), *data_classes()]
    try:
        with torch.serialization.safe_globals(allowed):
            return load_untrusted(path)
    except SnnccError:
        raise
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path, allowed) or _named_in_message(str(exc))
        if not unsafe:
            raise _corrupt(path, exc) from exc
        raise ModelLoadError(
            f"--arch reads the file's tensors and plain data, but it also holds pickled objects "
            f"({', '.join(sorted(unsafe))}), e.g. a whole model or an object of your code, which snncc does "
            "not unpickle by default: unpickling could execute arbitrary code",
            code="LOD014",
            source=str(path),
            hint="for a whole saved model drop --arch (and pass --allow-pickle if you trust the file); for a "
            "checkpoint you trust, keep --arch and add --allow-pickle (the state dict is then read from the entry "
            "that holds it); or save only model.state_dict()",
        ) from None
    except Exception as exc:
        raise _corrupt(path, exc) from exc


def _require_module(obj: Any, where: str, note: Callable[[str], None] | None = None) -> nn.Module:
    if isinstance(obj, nn.Module):
        return obj
    modules = [k for k, v in obj.items() if isinstance(v, nn.Module)] if isinstance(obj, dict) else []
    if len(modules) == 1:  # a checkpoint that pickles the whole model under one key
        (note or (lambda _m: None))(f"the model is the checkpoint's entry {modules[0]!r}")
        return obj[modules[0]]
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(
            "the file holds a state dict (parameter name -> tensor), which has no architecture",
            code="LOD006",
            source=where,
            hint="pass --arch mynet:Net (or --arch path/to/mynet.py:Net) naming the model's class: snncc "
            "builds it with no arguments and loads the state dict; or build the model in Python and call "
            "snncc.importers.torch.import_torch(model, input_shape)",
        )
    if isinstance(obj, dict) and any(isinstance(v, dict) for v in obj.values()):
        nested = [k for k, v in obj.items() if isinstance(v, dict)]
        raise ModelLoadError(
            f"the file holds a dict (keys {sorted(map(str, obj))[:6]}), e.g. a training checkpoint, not a module",
            code="LOD006",
            source=where,
            hint=f"a state dict (under {nested[0]!r}?) has no architecture: pass --arch mynet:Net naming the "
            "model's class, or load it into your model in Python and call import_torch(model, input_shape)",
        )
    raise ModelLoadError(
        f"the file holds a {type(obj).__name__}, not a torch.nn.Module",
        code="LOD007",
        source=where,
        hint="save the whole model with torch.save(model, path)",
    )
