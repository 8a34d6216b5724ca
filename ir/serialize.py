"""Save and load graphs as readable JSON plus an .npz of arrays; the round trip is exact.

Layout of ``graph.json``::

    {"format": "snncc-graph/1", "meta": {...},
     "nodes": [{"name": "fc1", "op": "int_dense", "fields": {"weight_exp": -2, "weight": {"array": "fc1/weight"}}}],
     "edges": [["input", "fc1"], ...]}

Floats are written with Python's shortest round-trip repr, arrays stay binary in the npz.
"""

from __future__ import annotations

import functools
import io
import json
import math
import types
import typing
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import InvalidGraph
from snncc.npz import read_npz

from .const import Const
from .families import FAMILIES
from .graph import Edge, Graph, GraphMeta, Stage
from .numerics import Numerics, out_of_range
from .op import Op
from .ops import FLOAT_OPS, INT_OPS

FORMAT = "snncc-graph/1"
OPS_BY_NAME: dict[str, type[Op]] = {cls.OP: cls for cls in (*FLOAT_OPS, *INT_OPS)}


def to_json(graph: Graph) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arrays: dict[str, np.ndarray] = {}
    nodes = []
    for name, op in graph.nodes:
        encoded: dict[str, Any] = {}
        for f in fields(op):
            value = getattr(op, f.name)
            if isinstance(value, Const):
                key = f"{name}/{f.name}"
                arrays[key] = value.array
                encoded[f.name] = {"array": key}
            elif isinstance(value, tuple):
                encoded[f.name] = list(value)
            else:
                encoded[f.name] = value
        nodes.append({"name": name, "op": op.OP, "fields": encoded})
    meta = graph.meta
    doc = {
        "format": FORMAT,
        "meta": {
            "stage": meta.stage.value,
            "steps": meta.steps,
            "dt": meta.dt,
            "discretization": meta.discretization,
            "source": meta.source,
            "numerics": meta.numerics.to_dict() if meta.numerics else None,
            "notes": [list(kv) for kv in meta.notes],
        },
        "nodes": nodes,
        "edges": [[e.src, e.dst] for e in graph.edges],
    }
    return doc, arrays


def from_json(doc: dict[str, Any], arrays: dict[str, np.ndarray], source: str = "<memory>") -> Graph:
    try:
        if doc.get("format") != FORMAT:
            raise InvalidGraph(f"not a {FORMAT} document (format={doc.get('format')!r})", code="GRF060", source=source)
        m = doc["meta"]
        if not _has_type(m["steps"], int) or m["steps"] < 1:
            raise InvalidGraph(
                f"meta.steps must be a positive integer, got {m['steps']!r}", code="GRF064", source=source
            )
        if m["numerics"]:
            numerics_types = _field_types(Numerics)
            wrong = [k for k, v in m["numerics"].items() if k in numerics_types and not _has_type(v, numerics_types[k])]
            if wrong:
                raise InvalidGraph(f"meta.numerics: {wrong[0]} has the wrong type", code="GRF064", source=source)
            outside = out_of_range(m["numerics"])  # weight_bits 80 would overflow the int64 simulation
            if outside:
                raise InvalidGraph(f"meta.numerics: {outside[0]}", code="GRF064", source=source)
            if m["numerics"].get("family", Numerics.family) not in FAMILIES:
                raise InvalidGraph(
                    f"meta.numerics: unknown family {m['numerics']['family']!r} (families: {', '.join(FAMILIES)})",
                    code="GRF064",
                    source=source,
                )
        meta = GraphMeta(
            stage=Stage(m["stage"]),
            steps=m["steps"],
            dt=m["dt"],
            discretization=m["discretization"],
            source=m["source"],
            numerics=Numerics.from_dict(m["numerics"]) if m["numerics"] else None,
            notes=tuple((str(k), str(v)) for k, v in m["notes"]),
        )
        nodes = []
        for entry in doc["nodes"]:
            if not isinstance(entry["name"], str):
                raise InvalidGraph(f"a node name is {json.dumps(entry['name'])[:40]}, not a string", code="GRF064")
            cls = OPS_BY_NAME.get(entry["op"])
            if cls is None:
                raise InvalidGraph(f"unknown op {entry['op']!r}", code="GRF061", node=entry["name"], source=source)
            kwargs = {}
            hints = _field_types(cls)
            for k, v in entry["fields"].items():
                if k not in hints or not _has_type(v, hints[k]):
                    raise InvalidGraph(
                        f"field {k!r} of a {cls.OP} node is {json.dumps(v)[:40]}, not a {_type_name(hints.get(k))}",
                        code="GRF064",
                        node=str(entry["name"]),
                        source=source,
                    )
                if isinstance(v, dict) and set(v) == {"array"}:
                    kwargs[k] = Const(arrays[v["array"]])
                elif isinstance(v, list):
                    kwargs[k] = _tuple(v)
                else:
                    kwargs[k] = v
            nodes.append((entry["name"], cls(**kwargs)))
        edges = tuple(Edge(s, d) for s, d in doc["edges"])
        if not all(isinstance(end, str) for e in edges for end in (e.src, e.dst)):
            raise InvalidGraph("an edge names a node by something other than a string", code="GRF064", source=source)
    except InvalidGraph:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a field of another JSON type
        raise InvalidGraph(f"malformed graph document: {exc!r}", code="GRF062", source=source) from exc
    return Graph(tuple(nodes), edges, meta)


# a graph.json is edited by hand or hostile: every field must have its declared type before any
# arithmetic meets it (a vth of "lots" or 10**400 would fail deep inside a backend)
_INT64 = (-(2**63), 2**63 - 1)


@functools.cache
def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _has_type(value: Any, hint: Any) -> bool:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        return any(_has_type(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_has_type(v, args[0]) for v in value)
        return len(value) == len(args) and all(_has_type(v, a) for v, a in zip(value, args, strict=True))
    if hint is Const:
        return isinstance(value, dict) and set(value) == {"array"} and isinstance(value["array"], str)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool) and _INT64[0] <= value <= _INT64[1]
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if hint is str:
        return isinstance(value, str)
    return False


def _type_name(hint: Any) -> str:
    return "known field" if hint is None else str(hint).replace("typing.", "").replace("snncc.ir.const.", "")


def _tuple(value: list[Any]) -> tuple[Any, ...]:
    return tuple(_tuple(v) if isinstance(v, list) else v for v in value)


def save(graph: Graph, directory: str | Path, stem: str = "graph") -> None:
    """Write ``stem.json`` and ``stem.npz`` into ``directory`` (deterministic bytes)."""
    directory = Path(directory)
    doc, arrays = to_json(graph)
    (directory / f"{stem}.json").write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    write_npz_deterministic(directory / f"{stem}.npz", arrays)


def load(directory: str | Path, stem: str = "graph") -> Graph:
    directory = Path(directory)
    json_path, npz_path = directory / f"{stem}.json", directory / f"{stem}.npz"
    try:
        doc = json.loads(json_path.read_text())
        if not isinstance(doc, dict):
            raise ValueError(f"the document is a {type(doc).__name__}, not an object")
        arrays = read_npz(npz_path, _array_keys(doc))  # only the arrays the graph uses
    except FileNotFoundError as exc:
        raise InvalidGraph(f"missing graph file {exc.filename}", code="GRF063", source=str(directory)) from exc
    except RecursionError as exc:  # json nests deeper than Python's stack
        raise InvalidGraph("graph.json nests too deeply", code="GRF062", source=str(json_path)) from exc
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidGraph(f"cannot read graph files: {exc}", code="GRF062", source=str(directory)) from exc
    return from_json(doc, arrays, source=str(json_path))


def _array_keys(doc: dict[str, Any]) -> list[str]:
    """The npz members the nodes refer to ({"array": key} fields); a malformed doc refers to none."""
    nodes = doc.get("nodes")
    entries = [n.get("fields") for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []
    return [
        v["array"]
        for fields_ in entries
        if isinstance(fields_, dict)
        for v in fields_.values()
        if isinstance(v, dict) and isinstance(v.get("array"), str)
    ]


def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez stamps the current time into the zip; fixed timestamps keep artifacts byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())
