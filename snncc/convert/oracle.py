"""The ANN's own predictions, by onnxruntime: an independent check of the import and the conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from snncc.errors import ModelLoadError

ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16}


def onnxruntime_outputs(path: Path, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """The model's output on x (N, *input_shape), computed by onnxruntime on the CPU."""
    import onnxruntime as ort  # imported only when converting

    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for models it cannot run
        raise ModelLoadError(
            f"onnxruntime cannot run the model ({str(exc).strip().splitlines()[0]})",
            code="LOD102",
            source=str(path),
            hint="check the model with onnx.checker and onnxruntime; snncc needs the ANN's own outputs",
        ) from exc
    spec = session.get_inputs()[0]
    dtype = ORT_TYPES.get(spec.type, np.float32)
    fixed = spec.shape[0] if spec.shape and isinstance(spec.shape[0], int) else None
    batch = fixed or batch  # a model exported without a dynamic batch axis takes exactly that many samples
    parts = []
    for i in range(0, len(x), batch):
        chunk = x[i : i + batch].astype(dtype)
        pad = batch - len(chunk) if fixed else 0
        chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), dtype)]) if pad else chunk
        parts.append(session.run(None, {spec.name: chunk})[0][: len(chunk) - pad])
    return np.concatenate(parts).astype(np.float64)


def version() -> str:
    import onnxruntime as ort

    return f"onnxruntime {ort.__version__}"
