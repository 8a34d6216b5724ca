"""``--arch MODULE:CLASS`` / ``--arch path/to/file.py:CLASS``: build the user's model, load a state dict into it.

Importing the user's module runs their code: passing --arch is the explicit opt-in to that (the
checkpoint itself is still read with weights_only=True: tensors and plain data).  The class (or a
function returning a module) is called with no arguments, then ``load_state_dict(strict=True)`` with
the checkpoint's entry whose keys are the model's (find_state_dict).

Codes: LOD010 malformed --arch; LOD011 the module cannot be found or fails to import; LOD012 no
such class, or not a torch.nn.Module; LOD013 the class needs arguments or its constructor fails;
LOD014 no state dict in the file; LOD015 the state dict does not fit the model (missing, unexpected
or differently shaped entries); LOD018 the model's code exited (SystemExit, snncc/cli.py); LOD017
complex tensors in the state dict; LOD019 bool or integer tensors where the model has floats.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from snncc.errors import Diagnostic, ModelLoadError

from .torch_sanity import reject_module_cycles

_FORM = "--arch MODULE:CLASS (e.g. mynet:Net, mypackage.models:Net) or --arch path/to/file.py:CLASS"


def build_from_arch(arch: str, checkpoint: Any, where: str, note: Callable[[str], None] | None = None) -> nn.Module:
    """The model ``arch`` names, built without arguments, with the state dict in ``checkpoint``
    (a state dict, or a checkpoint dict holding one) loaded strictly, in eval mode."""
    factory = resolve(arch)
    model = _build(factory, arch)
    reject_module_cycles(model, where)  # before state_dict(), which would recurse forever
    found = find_state_dict(checkpoint, set(model.state_dict()))
    if found is None:
        keys = f" (keys {sorted(map(str, checkpoint))[:6]})" if isinstance(checkpoint, dict) else ""
        raise ModelLoadError(
            f"--arch needs a state dict (parameter name -> tensor), but the file holds a "
            f"{type(checkpoint).__name__}{keys} with none",
            code="LOD014",
            source=where,
            hint="save model.state_dict(), alone or in a checkpoint dict (e.g. {'net': model.state_dict(), ...})",
        )
    state, entry = found
    if entry and note is not None:
        note(f"loaded the state dict from {entry}")
    _load_state(model, state, where, arch)
    return model.eval()


def find_state_dict(checkpoint: Any, expected: set[str]) -> tuple[dict[str, torch.Tensor], str] | None:
    """(state dict, which entry it came from: '' for the file itself) for the model whose keys are
    ``expected``: the candidate whose keys are exactly those (after dropping a common key prefix such
    as Lightning's 'model.' or DataParallel's 'module.'), else the one sharing the most keys."""
    candidates = list(_candidates(checkpoint, ""))
    best: tuple[int, dict[str, torch.Tensor], str] | None = None
    for state, entry in candidates:
        prefix = _prefix(state, expected)
        if prefix is not None:
            stripped = {k[len(prefix) :]: v for k, v in state.items()}
            return stripped, entry + (f", key prefix {prefix!r} removed" if prefix else "")
        shared = len(expected & set(state))
        if best is None or shared > best[0]:
            best = (shared, state, entry)
    return None if best is None else (best[1], best[2])


def _candidates(obj: Any, entry: str) -> Iterator[tuple[dict[str, torch.Tensor], str]]:
    """The state dicts in a checkpoint: itself, its dict entries (one level down too), pickled modules' states."""
    if isinstance(obj, nn.Module):
        yield obj.state_dict(), f"{entry or 'the file'} (a whole pickled module)"
    elif _is_state_dict(obj) and obj:
        yield dict(obj), entry
    elif isinstance(obj, dict) and entry.count("[") < 2:
        for key, value in obj.items():
            yield from _candidates(value, f"{entry or 'checkpoint entry '}[{key!r}]")


def _prefix(state: dict[str, torch.Tensor], expected: set[str]) -> str | None:
    """The key prefix whose removal makes ``state``'s keys exactly ``expected`` ('' if none needed)."""
    if set(state) == expected:
        return ""
    first = next(iter(state), "")
    for key in expected:
        if first.endswith(key) and first != key:
            prefix = first[: -len(key)]
            if all(k.startswith(prefix) for k in state) and {k[len(prefix) :] for k in state} == expected:
                return prefix
    return None


def resolve(arch: str) -> Any:
    """Import the module ``arch`` names (running its code) and return the named attribute."""
    location, sep, attr = str(arch).rpartition(":")
    parts = attr.split(".")
    if not sep or not location or not all(p.isidentifier() for p in parts):
        raise ModelLoadError(f"--arch {arch!r} is not MODULE:CLASS", code="LOD010", hint=f"use {_FORM}")
    is_file = location.endswith(".py") or "/" in location or os.sep in location
    module = _import_file(Path(location), arch) if is_file else _import_module(location, arch)
    value: Any = module
    for i, part in enumerate(parts):
        if not hasattr(value, part):
            classes = sorted(
                n
                for n, v in vars(module).items()
                if isinstance(v, type) and issubclass(v, nn.Module) and v is not nn.Module
            )
            raise ModelLoadError(
                f"{location} has no {'.'.join(parts[: i + 1])!r}",
                code="LOD012",
                hint=f"torch.nn.Module classes there: {', '.join(classes) or 'none'}",
            )
        value = getattr(value, part)
    return value


def _import_module(name: str, arch: str) -> Any:
    if not all(p.isidentifier() for p in name.split(".")):
        raise ModelLoadError(f"--arch {arch!r}: {name!r} is not a module name", code="LOD010", hint=f"use {_FORM}")
    try:
        with _user_code(arch, name, missing_passes=True):
            try:
                return importlib.import_module(name)
            except ModuleNotFoundError as exc:
                cwd = os.getcwd()
                if not _is_missing(exc, name) or cwd in sys.path or "" in sys.path:
                    raise
                with on_sys_path(Path(cwd)):  # `snncc` as a console script does not search the current folder
                    return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if not _is_missing(exc, name):
            raise _import_failed(arch, name, exc) from exc
        raise ModelLoadError(
            f"no module named {exc.name!r} (from --arch {arch!r}){_shadowed(name)}",
            code="LOD011",
            hint="run snncc from the folder that holds the module, add that folder to PYTHONPATH, "
            "or pass the file: --arch path/to/file.py:CLASS",
        ) from exc


def _is_missing(exc: ModuleNotFoundError, name: str) -> bool:
    """The requested module (or a package above it) is missing, not something it imports."""
    return bool(exc.name) and (name == exc.name or name.startswith(f"{exc.name}."))


def _shadowed(name: str) -> str:
    top = name.split(".")[0]
    spec = importlib.util.find_spec(top) if top != name else None
    where = getattr(spec, "origin", None) or next(iter(getattr(spec, "submodule_search_locations", None) or []), None)
    return f"; note: {top!r} is found at {where}, which may shadow yours" if where else ""


def _import_file(path: Path, arch: str) -> Any:
    if not path.is_file():
        raise ModelLoadError(
            f"no such Python file {str(path)!r} (from --arch {arch!r})",
            code="LOD011",
            hint=f"check the path; {_FORM}",
        )
    name = f"_snncc_arch_{abs(hash(str(path.resolve())))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ModelLoadError(f"cannot import {str(path)!r} as Python", code="LOD011", hint=f"use {_FORM}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # classes defined in the file (dataclasses, pickling) look themselves up here
    try:
        with _user_code(arch, str(path)), on_sys_path(path.resolve().parent):
            spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


@contextlib.contextmanager
def _user_code(arch: str, what: str, *, missing_passes: bool = False) -> Iterator[None]:
    """Failures of the user's module code become one clear error (their code, not snncc's).

    ``missing_passes``: a ModuleNotFoundError goes to the caller, which tells a missing module
    from a dependency the module imports.
    """
    try:
        with neutral_argv(what):
            yield
    except (ModelLoadError, KeyboardInterrupt):
        raise
    except BaseException as exc:  # SystemExit too: the user's module must not end snncc (exit 0, nothing done)
        if missing_passes and isinstance(exc, ModuleNotFoundError):
            raise
        raise _import_failed(arch, what, exc) from exc


@contextlib.contextmanager
def neutral_argv(name: str) -> Iterator[None]:
    """While user code runs, sys.argv is just its name: a module that parses the command line
    (argparse at import or in a constructor) sees no snncc options, not a foreign usage error."""
    saved = sys.argv
    sys.argv = [name]
    try:
        yield
    finally:
        sys.argv = saved


def _import_failed(arch: str, what: str, exc: BaseException) -> ModelLoadError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return ModelLoadError(
        f"importing {what} (from --arch {arch!r}) failed: {type(exc).__name__}{': ' + text if text else ''}",
        code="LOD011",
        hint="the module runs as Python code: fix the error, install what it imports, and keep training "
        "code under `if __name__ == '__main__':`",
    )


def _build(factory: Any, arch: str) -> nn.Module:
    """factory() for a torch.nn.Module class or a function returning a module."""
    if isinstance(factory, type) and not issubclass(factory, nn.Module):
        raise ModelLoadError(
            f"{arch} is a class but not a torch.nn.Module", code="LOD012", hint="name the model's class in --arch"
        )
    if not callable(factory):
        raise ModelLoadError(
            f"{arch} is a {type(factory).__name__}, not a class", code="LOD012", hint="name the model's class"
        )
    required = _required_arguments(factory)
    if required:
        raise ModelLoadError(
            f"{arch} needs arguments ({', '.join(required)}); snncc builds the model with no arguments",
            code="LOD013",
            hint="give the arguments defaults (the values used in training), or add a function with no "
            "arguments that returns the built model and pass --arch module:function",
        )
    try:
        with neutral_argv(arch.rpartition(":")[0]):
            model = factory()
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit too: snncc would exit 0 having done nothing
        raise ModelLoadError(
            f"building {arch}() failed: {type(exc).__name__}: {exc}",
            code="LOD013",
            hint="the constructor runs your code with no arguments; fix the error it raises",
        ) from exc
    if not isinstance(model, nn.Module):
        raise ModelLoadError(
            f"{arch}() returned a {type(model).__name__}, not a torch.nn.Module",
            code="LOD012",
            hint="name the model's class, or a function that returns the model",
        )
    return model


def _required_arguments(factory: Any) -> list[str]:
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # builtins and the like: let the call tell
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in signature.parameters.values() if p.kind in kinds and p.default is inspect.Parameter.empty]


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], where: str, arch: str) -> None:
    """load_state_dict(strict=True), with every missing, unexpected and misshaped entry reported at once."""
    complex_entries = [k for k, v in state.items() if isinstance(v, torch.Tensor) and v.is_complex()]
    if complex_entries:
        raise ModelLoadError(
            f"complex tensors in the state dict ({_few(complex_entries)}); loading them would drop the imaginary part",
            code="LOD017",
            source=where,
            hint="chips compute with real numbers: save a real-valued model's state dict",
        )
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshaped = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in state and isinstance(own[k], torch.Tensor) and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    name = arch.rpartition(":")[2]
    hint = f"check that --arch names the class the checkpoint was trained with ({arch}), with the same arguments"
    if unexpected and all(k.startswith("module.") for k in unexpected):
        hint = "the keys start with 'module.' (saved from DataParallel): save model.module.state_dict() instead"
    diagnostics = [
        Diagnostic("error", "LOD015", f"{title}: {_few(keys)}", source=where, hint=hint)
        for title, keys in (
            (f"{len(missing)} entries of {name}'s state dict are not in the file", missing),
            (f"the file has {len(unexpected)} entries {name} does not have", unexpected),
            (f"{len(misshaped)} entries have another shape in the file", misshaped),
        )
        if keys
    ]
    recast = [
        f"{k} ({str(state[k].dtype).removeprefix('torch.')}, model {str(own[k].dtype).removeprefix('torch.')})"
        for k in own
        if k in state and _kind(state[k]) != _kind(own[k])
    ]
    if recast:  # load_state_dict would copy True as 1.0, an int8 code as its value: another model, silently
        diagnostics.append(
            Diagnostic(
                "error",
                "LOD019",
                f"{len(recast)} entries hold another kind of number than the model's: {_few(recast)}",
                source=where,
                hint="save the trained floating-point weights (a quantized or boolean checkpoint needs its own "
                "dequantization first)",
            )
        )
    if diagnostics:
        raise ModelLoadError(diagnostics=diagnostics)
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # e.g. a custom _load_from_state_dict
        raise ModelLoadError(
            f"loading the state dict into {arch} failed: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}",
            code="LOD015",
            source=where,
            hint=hint,
        ) from exc


def _kind(value: Any) -> str | None:
    """'bool', 'int' or 'float' for a tensor (None for anything else, which load_state_dict judges)."""
    if not isinstance(value, torch.Tensor):
        return None
    if value.dtype == torch.bool:
        return "bool"
    return "float" if value.is_floating_point() else "int"


def _few(keys: list[str], shown: int = 6) -> str:
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


@contextlib.contextmanager
def on_sys_path(folder: Path) -> Iterator[None]:
    """Modules in ``folder`` importable for the duration (and sys.path as it was afterwards)."""
    entry = str(folder)
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def _is_state_dict(obj: Any) -> bool:
    return isinstance(obj, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())
