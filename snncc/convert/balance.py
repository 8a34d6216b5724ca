"""Threshold balancing: one firing threshold per ReLU layer from the ANN's activations on calibration data.

θ_ℓ = the largest activation of layer ℓ (Deng & Gu 2021: max over the data), or a percentile
of its positive activations (robust normalization; DSR initialises Vth from the 99.9th
percentile).  The positive values only: zeros say nothing about the scale a layer needs, and in
sparse layers they would drag any percentile to 0.  A spiking neuron then carries at most one
spike of value θ_ℓ per step, so activations above θ_ℓ are clipped to θ_ℓ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.ann import Ann, forward

# a layer that never fires on the calibration data: any threshold gives the same (silent) layer
DEAD_LAYER_THRESHOLD = 1.0


@dataclass(frozen=True)
class Balance:
    method: str  # "max" or "percentile"
    percentile: float | None  # of the positive activations, when method is "percentile"
    thresholds: dict[str, float]  # ReLU layer -> θ
    max_activation: dict[str, float]  # ReLU layer -> largest activation seen
    dead: tuple[str, ...]  # layers never active on the calibration data

    def describe(self) -> str:
        if self.method == "max":
            return "per-layer maximum ANN activation on the calibration data"
        return f"per-layer {self.percentile:g}th percentile of the positive ANN activations on the calibration data"


def balance(ann: Ann, x: np.ndarray, *, percentile: float | None = None, batch: int = 512) -> Balance:
    """Thresholds of every ReLU layer of ``ann`` from calibration inputs ``x`` (N, *input_shape)."""
    positives: dict[str, list[np.ndarray]] = {name: [] for name in ann.relus}
    for start in range(0, len(x), batch):
        _, acts = forward(ann, x[start : start + batch], keep=ann.relus)
        for name, a in acts.items():
            positives[name].append(a[a > 0])
    thresholds, maxima, dead = {}, {}, []
    for name, parts in positives.items():
        values = np.concatenate(parts)
        if values.size == 0:
            thresholds[name], maxima[name] = DEAD_LAYER_THRESHOLD, 0.0
            dead.append(name)
            continue
        maxima[name] = float(values.max())
        thresholds[name] = maxima[name] if percentile is None else float(np.percentile(values, percentile))
    return Balance("max" if percentile is None else "percentile", percentile, thresholds, maxima, tuple(dead))
