"""Save and load graphs as readable JSON plus an .npz of arrays; the round trip is exact.

Layout of ``graph.json``::

    {"format": "snncc-graph/1", "meta": {...},
     "nodes": [{"name": "fc1", "op": "int_dense", "fields": {"weight_exp": -2, "weight": {"array": "fc1/weight"}}}],
     "edges": [["input", "fc1"], ...]}

Floats are written with Python's shortest round-trip repr, arrays stay binary in the npz.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import InvalidGraph

from .const import Const
from .graph import Edge, Graph, GraphMeta, Stage
from .numerics import Numerics
from .op import Op
from .ops_float import FLOAT_OPS
from .ops_int import INT_OPS

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
        meta = GraphMeta(
            stage=Stage(m["stage"]),
            steps=int(m["steps"]),
            dt=m["dt"],
            discretization=m["discretization"],
            source=m["source"],
            numerics=Numerics.from_dict(m["numerics"]) if m["numerics"] else None,
            notes=tuple((str(k), str(v)) for k, v in m["notes"]),
        )
        nodes = []
        for entry in doc["nodes"]:
            cls = OPS_BY_NAME.get(entry["op"])
            if cls is None:
                raise InvalidGraph(f"unknown op {entry['op']!r}", code="GRF061", node=entry["name"], source=source)
            kwargs = {}
            for k, v in entry["fields"].items():
                if isinstance(v, dict) and set(v) == {"array"}:
                    kwargs[k] = Const(arrays[v["array"]])
                elif isinstance(v, list):
                    kwargs[k] = tuple(v)
                else:
                    kwargs[k] = v
            nodes.append((entry["name"], cls(**kwargs)))
        edges = tuple(Edge(s, d) for s, d in doc["edges"])
    except InvalidGraph:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidGraph(f"malformed graph document: {exc!r}", code="GRF062", source=source) from exc
    return Graph(tuple(nodes), edges, meta)


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
        with np.load(npz_path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError as exc:
        raise InvalidGraph(f"missing graph file {exc.filename}", code="GRF063", source=str(directory)) from exc
    except (ValueError, OSError, zipfile.BadZipFile) as exc:
        raise InvalidGraph(f"cannot read graph files: {exc}", code="GRF062", source=str(directory)) from exc
    return from_json(doc, arrays, source=str(json_path))


def write_npz_deterministic(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez stamps the current time into the zip; fixed timestamps keep artifacts byte-identical."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for key in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[key]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())
