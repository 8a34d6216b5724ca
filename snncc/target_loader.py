"""Load targets/*.yaml: reject duplicate keys, validate against the JSON schema, check semantics.

Named targets resolve from $SNNCC_TARGETS (a directory) first, then the checkout's targets/.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from snncc.errors import Diagnostic, TargetSpecError
from snncc.ir import Numerics
from snncc.target import CoreLimits, EnergyModel, Sourced, Target, XyloPools

TARGETS_DIR = Path(__file__).resolve().parent.parent / "targets"
SCHEMA_PATH = TARGETS_DIR / "schema" / "target.schema.json"


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys silently; a target file must not."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("SNNCC_TARGETS"):
        dirs.append(Path(os.environ["SNNCC_TARGETS"]))
    dirs.append(TARGETS_DIR)
    return dirs


def available_targets() -> list[str]:
    names: set[str] = set()
    for d in search_dirs():
        names.update(p.stem for p in d.glob("*.yaml"))
    return sorted(names)


def load(name_or_path: str | Path) -> Target:
    path = _resolve(name_or_path)
    return _load_file(path.resolve())


def _resolve(name_or_path: str | Path) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix in (".yaml", ".yml") or candidate.parent != Path("."):
        if not candidate.is_file():
            raise TargetSpecError("target file not found", code="TGT002", source=str(candidate))
        return candidate
    for d in search_dirs():
        path = d / f"{name_or_path}.yaml"
        if path.is_file():
            return path
    raise TargetSpecError(
        f"unknown target {str(name_or_path)!r}",
        code="TGT003",
        hint=f"available targets: {', '.join(available_targets())}; or pass the path of a target YAML file",
    )


@cache
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA_PATH.read_text())


@cache
def _load_file(path: Path) -> Target:
    source = str(path)
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise TargetSpecError(f"not valid YAML: {exc}", code="TGT004", source=source) from exc
    if not isinstance(data, dict):
        raise TargetSpecError("a target file must be a YAML mapping", code="TGT005", source=source)
    validator = jsonschema.Draft202012Validator(_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        raise TargetSpecError(
            diagnostics=[
                Diagnostic(
                    "error",
                    "TGT006",
                    f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}",
                    source=source,
                )
                for e in errors
            ]
        )
    target = _build(data, path)
    _check_semantics(target, source)
    return target


def _sourced(entry: dict[str, Any]) -> Sourced:
    return Sourced(value=entry["value"], source=entry["source"], confidence=entry["confidence"])


def _build(data: dict[str, Any], path: Path) -> Target:
    n = data["numerics"]
    numerics = Numerics(family=n["family"], **{k: v["value"] for k, v in n.items() if k != "family"})
    res = data["resources"]
    pc = res["per_core"]
    energy = {k: _sourced(v) for k, v in data["energy"].items()}
    return Target(
        name=data["name"],
        title=data["title"],
        path=path,
        numerics=numerics,
        backends=tuple(data["backends"]),
        neuron_features=frozenset(data["neuron_features"]),
        input_encodings=tuple(data["input_encodings"]),
        cores_per_chip=_sourced(res["cores_per_chip"]),
        chips=_sourced(res["chips"]),
        mesh=(res["mesh"]["columns"], res["mesh"]["rows"]),
        per_core=CoreLimits(**{k: _sourced(v) for k, v in pc.items()}),
        memory_model=res["memory_model"],
        energy=EnergyModel(**energy),
        notes=data.get("notes", ""),
        xylo=XyloPools(**{k: _sourced(v) for k, v in data["xylo"].items()}) if "xylo" in data else None,
    )


def _check_semantics(t: Target, source: str) -> None:
    n = t.numerics
    problems = []
    if n.weight_exp_min > n.weight_exp_max:
        problems.append("numerics: weight_exp_min exceeds weight_exp_max")
    if n.bias_exp_min > n.bias_exp_max:
        problems.append("numerics: bias_exp_min exceeds bias_exp_max")
    if not n.vth_bits + n.vth_shift <= n.state_bits:
        problems.append("numerics: vth_bits + vth_shift must fit state_bits")
    if (n.family == "xylo") != (t.xylo is not None):
        problems.append("xylo: the neuron pools are given exactly when numerics.family is xylo")
    if t.mesh[0] * t.mesh[1] < int(t.cores_per_chip):
        problems.append("resources.mesh: columns x rows is smaller than cores_per_chip")
    if problems:
        raise TargetSpecError(diagnostics=[Diagnostic("error", "TGT007", p, source=source) for p in problems])
