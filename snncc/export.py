"""`snncc export`: a compiled artifact in another tool's format (NIR float graph, lava-dl netx)."""

from __future__ import annotations

from pathlib import Path

from snncc.errors import DataError
from snncc.ir import Graph, Stage, load, verify


def export_nir(artifact: Path, out: Path, *, force: bool = False) -> Path:
    """The artifact's float graph (the imported model) as a NIR file."""
    from snncc.exporters.nir import write_nir  # nir is imported only when exporting to it

    graph = _artifact_graph(artifact, "float_graph", Stage.FLOAT)
    return write_nir(graph, _writable(out, force))


def export_netx(artifact: Path, out: Path, *, force: bool = False) -> Path:
    """The artifact's deployed integer network as a lava-dl netx HDF5 file."""
    from snncc.exporters.netx import write_netx  # h5py is imported only when exporting to it

    graph = _artifact_graph(artifact, "graph", Stage.INTEGER)
    return write_netx(graph, _writable(out, force))


def _artifact_graph(artifact: Path, stem: str, stage: Stage) -> Graph:
    if not (artifact / f"{stem}.json").is_file():
        raise DataError(
            f"not a compiled artifact: {artifact / (stem + '.json')} is missing",
            code="DAT020",
            source=str(artifact),
            hint="pass the --out directory written by `snncc compile`",
        )
    return verify(load(artifact, stem=stem), stage)


def _writable(out: Path, force: bool) -> Path:
    if out.exists() and not force:
        raise DataError(
            "the output file exists", code="DAT021", source=str(out), hint="choose another path or pass --force"
        )
    if not out.parent.is_dir():
        raise DataError("the output file's folder does not exist", code="DAT022", source=str(out))
    return out
