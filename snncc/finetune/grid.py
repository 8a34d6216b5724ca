"""The target's integer grid in float units: what the deployed network computes, for training through it.

The canonical graph is quantized by snncc's own quantizer (passes/quantize.py, the scales it would
choose on the same calibration) and every integer value is read back in float units (SPEC.md §4):
weights W_int·2^e/(s·u_src), thresholds vth/s, biases bias_mant·2^bias_exp·lsb, decays
1 − dv/4096 and (4096 − du_offset − du)/4096, initial potentials v_init·lsb.  The fine-tuned model
then lies on the grid itself, so compiling it quantizes it to the same integers.
"""

from __future__ import annotations

import numpy as np

from snncc.ir import Graph, IntInput, IntLIF, Numerics
from snncc.passes.calibrate import Calibration
from snncc.passes.quantize import Quantize, quantize


def on_grid(graph: Graph, settings: Quantize, calibration: Calibration) -> dict[str, dict[str, np.ndarray]]:
    """layer or synapse name -> its values on the integer grid, in float units."""
    int_graph, report = quantize(graph, settings, calibration)
    n = settings.numerics
    scales = {layer.layer: layer.scale for layer in report.layers}
    input_unit = {name: op.scale for name, op in int_graph.of_type(IntInput)}
    values: dict[str, dict[str, np.ndarray]] = {}
    for name, op in int_graph.of_type(IntLIF):
        s = scales[name]
        lsb = op.scale  # float value of one v LSB = 1/(s·2^act_shift)
        act = 1 << n.act_shift
        fire_strict = graph[name].fire == ">"
        # the integer layer fires on v > vth·2^6 (LSB); ">=" in float units is one LSB above that
        threshold = op.vth / s if fire_strict else (op.vth * act + 1) * lsb
        values[name] = {
            "bias": op.bias_mant.array * 2.0**op.bias_exp.array * lsb,
            "threshold": np.float64(threshold),
            "beta": np.float64(1.0 - op.dv / n.decay_unity),
            "alpha": np.float64(_alpha(op.du, n)),
            "v_init": op.v_init.array * lsb,
        }
        for syn in int_graph.predecessors(name):
            sop = int_graph[syn]
            if sop.IS_SYNAPSE:
                src = int_graph.predecessors(syn)[0]
                unit = input_unit.get(src, 1.0)
                values[syn] = {"weight": sop.weight.array * 2.0**sop.weight_exp / (s * unit)}
    return values


def _alpha(du: int, n: Numerics) -> float:
    """u' = T12(u·(4096 − (du + du_offset))): the current's decay factor."""
    return (n.decay_unity - du - n.du_offset) / n.decay_unity


def grid_inputs(int_graph_inputs: dict[str, float], x: np.ndarray) -> np.ndarray:
    """Input values as the chip receives them: on the input's integer grid (unit: its scale)."""
    (unit,) = int_graph_inputs.values()
    return np.rint(x / unit) * unit
