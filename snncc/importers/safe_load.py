"""Load a whole torch module from a file without running code from the file.

``torch.load(weights_only=True)`` refuses every class that is not allowlisted.  The
allowlist below is passed for this call only (``torch.serialization.safe_globals``), never
added globally.  Every failure becomes a ModelLoadError with its own code:

LOD002 a class outside the allowlist (the file could execute code)
LOD003 no such file            LOD004 not a readable torch file (truncated, corrupt)
LOD005 a class defined in the training script's ``__main__`` (not importable)
LOD006 a state dict, not a module        LOD007 some other object, not a module
LOD008 ``allow_pickle`` load failed because a class cannot be imported
"""

from __future__ import annotations

import pickle
import pickletools
import warnings
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snncc import nn as snn
from snncc.errors import ModelLoadError

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
    "model.state_dict(), rebuild the model from its architecture in Python and call "
    "snncc.importers.torch.import_torch(model, input_shape)"
)
_MAIN_HINT = (
    "move the class into an importable module (e.g. mynet.py), import it in the training script, "
    "train and torch.save(model) again; or save model.state_dict() and rebuild the model in Python"
)


def load_torch_model(path: str | Path, *, allow_pickle: bool = False, arch: str | None = None) -> nn.Module:
    """Load a module saved with ``torch.save(model, path)``.

    By default only allowlisted classes are reconstructed (``weights_only=True``);
    ``allow_pickle=True`` unpickles anything and must be used for trusted files only.
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
    if arch is not None:  # TODO(issue 5): state dict + the user's model class
        raise ModelLoadError("--arch is not implemented yet", code="LOD010", source=where)
    obj = _load_trusted(path) if allow_pickle else _load_weights_only(path)
    return _require_module(obj, where)


def _load_weights_only(path: Path) -> Any:
    try:
        # torch warns about plain pickles before refusing them; snncc's own error says it better
        with torch.serialization.safe_globals(list(SAFE_CLASSES)), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as exc:
        unsafe = _unsafe_globals(path) or _named_in_message(str(exc))
        if not unsafe:
            raise _corrupt(path, exc) from exc
        raise _refused(path, unsafe) from None
    except Exception as exc:  # torch raises RuntimeError, KeyError, EOFError... on damaged files
        raise _corrupt(path, exc) from exc


def _load_trusted(path: Path) -> Any:
    try:
        return torch.load(path, weights_only=False, map_location="cpu")
    except (AttributeError, ModuleNotFoundError, ImportError) as exc:
        main = "__main__" in str(exc)
        raise ModelLoadError(
            f"the file needs a class that cannot be imported here ({exc})",
            code="LOD005" if main else "LOD008",
            source=str(path),
            hint=_MAIN_HINT if main else "install or put on PYTHONPATH the package that defines the model's classes",
        ) from exc
    except Exception as exc:  # damaged file, or a class whose unpickling fails
        raise _corrupt(path, exc) from exc


def _unsafe_globals(path: Path) -> list[str]:
    """Classes/functions the file references outside the allowlist, by a static scan (runs nothing)."""
    try:
        with torch.serialization.safe_globals(list(SAFE_CLASSES)):
            return list(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    except Exception:  # not a zip checkpoint: maybe a plain pickle
        return _plain_pickle_globals(path)


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


def _require_module(obj: Any, where: str) -> nn.Module:
    if isinstance(obj, nn.Module):
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ModelLoadError(
            "the file holds a state dict (parameter name -> tensor), which has no architecture",
            code="LOD006",
            source=where,
            hint="build the model in Python, model.load_state_dict(torch.load(path)), then save the whole "
            "module with torch.save(model, path), or call "
            "snncc.importers.torch.import_torch(model, input_shape)",
        )
    if isinstance(obj, dict) and any(isinstance(v, dict) for v in obj.values()):
        nested = [k for k, v in obj.items() if isinstance(v, dict)]
        raise ModelLoadError(
            f"the file holds a dict (keys {sorted(map(str, obj))[:6]}), e.g. a training checkpoint, not a module",
            code="LOD006",
            source=where,
            hint=f"a state dict (under {nested[0]!r}?) has no architecture: load it into your model "
            "in Python "
            "and save the module with torch.save(model, path), or call import_torch(model, input_shape)",
        )
    raise ModelLoadError(
        f"the file holds a {type(obj).__name__}, not a torch.nn.Module",
        code="LOD007",
        source=where,
        hint="save the whole model with torch.save(model, path)",
    )
