"""Load targets/*.yaml: reject duplicate keys, validate against the JSON schema, check semantics.

Named targets resolve from $SNNCC_TARGETS (a directory) first, then the bundled targets: the
checkout's targets/, installed as the package data of snncc.targets (pyproject.toml).
"""

from __future__ import annotations

import json
import os
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from snncc.errors import Diagnostic, TargetSpecError
from snncc.families import FAMILIES, family, family_of
from snncc.ir import Numerics
from snncc.ir.numerics import NUMERICS_RANGES
from snncc.target import CoreLimits, EnergyModel, Sourced, Target, TimingModel
from snncc.text import escape_controls

# a folder on disk: pip installs packages unzipped (and the editable install maps it to targets/)
TARGETS_DIR = Path(str(files("snncc.targets")))
SCHEMA_PATH = TARGETS_DIR / "schema" / "target.schema.json"


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load keeps the last of two equal keys silently; a target file must not."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        # an alias repeats a subtree: nine levels of nine aliases ("billion laughs") expand to 10^9
        # nodes; no target needs them
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in a target file", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, f"a key must be a plain value, not a {type(key).__name__}", key_node.start_mark
                )
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
    if path.stat().st_size > MAX_TARGET_BYTES:
        raise TargetSpecError(
            f"the file has {path.stat().st_size:,} bytes; a target description is a few kB (limit {MAX_TARGET_BYTES:,})",
            code="TGT004",
            source=source,
        )
    try:
        data = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as exc:
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
    _check_ranges(data, source)
    target = _build(data, path)
    _check_semantics(target, data, source)
    return target


NUMERIC_RANGES = NUMERICS_RANGES  # ir/numerics.py: also bounds a graph.json's numerics
RESOURCE_MAX = 2**40  # per-core limits, chips, cores: far above any chip, far below overflow
MESH_MAX = 4096
ENERGY_MAX_PJ = 1e9  # a millijoule per event
STATIC_MAX_W = 1e6
MAX_TARGET_BYTES = 1 << 20


def _check_ranges(data: dict[str, Any], source: str) -> None:
    """Every number of a schema-valid target within the range the tools can compute with; no control
    characters in the strings that reports print."""
    res = data["resources"]
    checks: list[tuple[str, float, float, float]] = [
        *(
            (f"numerics.{k}", data["numerics"][k]["value"], lo, hi)
            for k, (lo, hi) in NUMERIC_RANGES.items()
            if k in data["numerics"]  # an optional field (max_delay) left out takes its default
        ),
        ("resources.chips", res["chips"]["value"], 1, RESOURCE_MAX),
        ("resources.cores_per_chip", res["cores_per_chip"]["value"], 1, RESOURCE_MAX),
        ("resources.mesh.columns", res["mesh"]["columns"], 1, MESH_MAX),
        ("resources.mesh.rows", res["mesh"]["rows"], 1, MESH_MAX),
        *((f"resources.per_core.{k}", v["value"], 1, RESOURCE_MAX) for k, v in res["per_core"].items()),
        *(
            (f"{f.section}.{k}", data[f.section][k]["value"], lo, hi)
            for f in FAMILIES.values()
            if f.section in data
            for k, (lo, hi) in f.section_ranges.items()
            if k in data[f.section]
        ),
        *(
            (f"energy.{k}", v["value"], 0, STATIC_MAX_W if k == "static_w" else ENERGY_MAX_PJ)
            for k, v in data["energy"].items()
        ),
    ]
    problems = [
        f"{where}: {value!r} is outside {lo:g}..{hi:g}" for where, value, lo, hi in checks if not lo <= value <= hi
    ]
    problems += [
        f"{where}: holds control characters"
        for where, text in _strings(data)
        if escape_controls(text, keep="\n\t") != text  # line breaks in notes are fine
    ]
    if problems:
        raise TargetSpecError(diagnostics=[Diagnostic("error", "TGT008", p, source=source) for p in problems])


def _strings(value: Any, where: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(where or "(top level)", value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{where}.{k}".lstrip("."))]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{where}[{i}]")]
    return []


def _sourced(entry: dict[str, Any]) -> Sourced:
    return Sourced(value=entry["value"], source=entry["source"], confidence=entry["confidence"])


def _build(data: dict[str, Any], path: Path) -> Target:
    n = data["numerics"]
    numerics = Numerics(family=n["family"], **{k: v["value"] for k, v in n.items() if k != "family"})
    fam = family(n["family"])
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
        timing=TimingModel(**{k: _sourced(v) for k, v in data["timing"].items()}) if "timing" in data else None,
        family_part=fam.target_part(data[fam.section]) if fam.section in data else None,
        accumulator=tuple((k, _sourced(n[f"accumulator_{k}"])) for k in ("bits", "overflow")),
    )


def _check_semantics(t: Target, data: dict[str, Any], source: str) -> None:
    n = t.numerics
    problems = []
    if n.weight_exp_min > n.weight_exp_max:
        problems.append("numerics: weight_exp_min exceeds weight_exp_max")
    if n.bias_exp_min > n.bias_exp_max:
        problems.append("numerics: bias_exp_min exceeds bias_exp_max")
    if not n.vth_bits + n.vth_shift <= n.state_bits:
        problems.append("numerics: vth_bits + vth_shift must fit state_bits")
    problems += [
        f"{f.section}: {f.section_what} are given exactly when numerics.family is {f.name}"
        for f in FAMILIES.values()
        if f.section is not None and (f.section in data) != (f is family_of(n))
    ]
    if t.mesh[0] * t.mesh[1] < int(t.cores_per_chip):
        problems.append("resources.mesh: columns x rows is smaller than cores_per_chip")
    if problems:
        raise TargetSpecError(diagnostics=[Diagnostic("error", "TGT007", p, source=source) for p in problems])
