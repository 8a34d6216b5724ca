"""Read an ONNX file safely: a clear error for a missing or unreadable file, weights only from beside it.

Codes: LOD003 no such file, LOD101 not a readable ONNX model, LOD102 its external weights file is
missing, LOD103 its external weights would be read from outside its folder.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from snncc.errors import ModelLoadError, SnnccError
from snncc.limits import check_elements


def load_onnx(path: Path) -> Any:
    """The onnx ModelProto of ``path``, checked; a clear error for a missing or unreadable file."""
    import onnx  # imported only when converting

    if not path.is_file():
        raise ModelLoadError("model file not found", code="LOD003", source=str(path))
    try:
        model = onnx.load(str(path), load_external_data=False)
        _check_external_data(model, path)
        onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        onnx.checker.check_model(model)
    except SnnccError:  # our own refusals (LOD102, LOD103, LIM001)
        raise
    except Exception as exc:  # protobuf decode errors, checker failures: all mean "not a usable ONNX file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"not a readable ONNX model ({first})",
            code="LOD101",
            source=str(path),
            hint="export the ANN with torch.onnx.export (or another ONNX exporter) and pass the .onnx file",
        ) from exc
    return model


def _check_external_data(model: Any, path: Path) -> None:
    """Weights kept in files beside the model (torch's default exporter writes NAME.onnx.data) must be there."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    for tensor in model.graph.initializer:  # declared sizes, before any data is read or converted
        check_elements(math.prod(tensor.dims), f"initializer {tensor.name!r}", source=str(path))
    places = {ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)}
    folder = path.parent.resolve()
    outside = sorted(p for p in places if not _plain_file_inside(folder, p))
    if outside:  # onnx >= 1.16 refuses these too; snncc does not rely on the version
        raise ModelLoadError(
            f"the model's weights would be read from {', '.join(outside)}, outside the model's folder "
            "(an absolute path, '..' or a symbolic link)",
            code="LOD103",
            source=str(path),
            hint="keep the weights file (NAME.onnx.data) as a plain file beside the .onnx file",
        )
    missing = sorted(p for p in places if not (path.parent / p).is_file())
    if missing:
        raise ModelLoadError(
            f"the model keeps its weights in {', '.join(missing)}, which is not beside it",
            code="LOD102",
            source=str(path),
            hint="copy that file next to the .onnx file (torch.onnx.export writes both), or re-export with "
            "torch.onnx.export(..., external_data=False)",
        )


def _plain_file_inside(folder: Path, location: str) -> bool:
    """``location`` names a file in ``folder`` itself or below, reached without symbolic links."""
    candidate = folder / location
    if Path(location).is_absolute() or ".." in Path(location).parts or candidate.is_symlink():
        return False
    return candidate.resolve().is_relative_to(folder)
