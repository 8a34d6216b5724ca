"""`snncc export`: a compiled artifact in another tool's format (NIR float graph, lava-dl netx)."""

from __future__ import annotations

from pathlib import Path

from snncc.errors import DataError
from snncc.ir import Graph, Stage, load, verify
from snncc.output_dir import atomic_output_file


def export_nir(artifact: Path, out: Path, *, force: bool = False) -> Path:
    """The artifact's float graph (the imported model) as a NIR file."""
    from snncc.exporters.nir import write_nir  # nir is imported only when exporting to it

    graph = _artifact_graph(artifact, "float_graph", Stage.FLOAT)
    with atomic_output_file(out, force, _artifact_files(artifact)) as tmp:
        write_nir(graph, tmp)
    return out


def export_netx(artifact: Path, out: Path, *, force: bool = False) -> Path:
    """The artifact's deployed integer network as a lava-dl netx HDF5 file."""
    from snncc.exporters.netx import write_netx  # h5py is imported only when exporting to it

    graph = _artifact_graph(artifact, "graph", Stage.INTEGER)
    with atomic_output_file(out, force, _artifact_files(artifact)) as tmp:
        write_netx(graph, tmp)
    return out


def _artifact_graph(artifact: Path, stem: str, stage: Stage) -> Graph:
    if not (artifact / f"{stem}.json").is_file():
        raise DataError(
            f"not a compiled artifact: {artifact / (stem + '.json')} is missing",
            code="DAT020",
            source=str(artifact),
            hint="pass the --out directory written by `snncc compile`",
        )
    return verify(load(artifact, stem=stem), stage)


def _artifact_files(artifact: Path) -> list[Path]:
    """What an export reads: it must never overwrite them (--force included)."""
    return [artifact / f"{stem}.{ext}" for stem in ("graph", "float_graph") for ext in ("json", "npz")]
