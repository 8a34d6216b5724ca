"""ANN -> FLOAT-stage SNN graph: IF neurons, balanced thresholds, rounding shift, calibration.

Methods (neuron-models.md §4):
- every ReLU becomes a layer of IF neurons (beta 1), fire ">=", reset "subtract" (soft: keeps
  the residual potential, so the count over T steps is the rounded activation) or "zero" where
  the target has no soft reset; threshold θ_ℓ from balance.py; a spike is worth θ_ℓ
  (``amplitude``), so the next layer sees rate·θ_ℓ ≈ the ANN activation;
- the rounding shift: a bias of θ/(2T) per step (Deng & Gu) or, equivalently for constant input,
  an initial potential θ/2 (both turn floor into round-to-nearest; §4.3);
- layer by layer on calibration data (Li et al. 2021), comparing the SNN's mean firing rate·θ with
  the ANN activation of the same layer: bias correction b_c -= mean over samples and positions of
  (rate·θ − a) per channel, potential correction v_init += T·mean over samples of (a − rate·θ)
  per neuron;
- the last layer stays analog: a non-spiking integrator (beta 1) read as v_T / T, the mean of
  W·s_t + b over the steps (importers/readout.py's "mean" readout).
Every layer and its name come from the ANN; nothing is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from snncc.ann import Add, Ann, Relu, forward
from snncc.backends import get_backend
from snncc.errors import DataError
from snncc.importers.readout import add_readout
from snncc.ir import LIF, Const, Graph, GraphBuilder, GraphMeta, Input, Output, Stage, verify

from .balance import Balance, balance

Shift = Literal["threshold-half", "initial-potential", "none"]
SHIFTS: tuple[str, ...] = ("threshold-half", "initial-potential", "none")
RESETS: tuple[str, ...] = ("subtract", "zero")
SHIFT_TEXT = {
    "threshold-half": "bias θ/(2T) per step (round to nearest; Deng & Gu 2021)",
    "initial-potential": "initial potential v_init = θ/2 (round to nearest; equivalent to θ/(2T) for constant input)",
    "none": "none (spike counts floor the activation)",
}


@dataclass(frozen=True)
class ConvertOptions:
    steps: int
    percentile: float | None = 99.9  # None: the maximum activation
    shift: Shift = "threshold-half"
    reset: Literal["subtract", "zero"] = "subtract"
    calibrate_bias: bool = True
    calibrate_potential: bool = False
    batch: int = 256  # samples per simulation chunk (bounds memory)


@dataclass(frozen=True)
class LayerConversion:
    """One spiking layer: its threshold and how well its rates match the ANN on calibration data."""

    layer: str  # the ReLU node: the spiking layer
    synapse: str | None  # the Conv/Gemm/MatMul feeding it
    threshold: float
    max_activation: float
    firing_rate: float  # spikes per neuron per step, calibrated network
    error_uncorrected: float  # RMS of (rate·θ − a)/θ over samples and neurons, before any correction
    error: float  # the same after the corrections
    mean_error_uncorrected: float  # mean of (rate·θ − a)/θ: the systematic part
    mean_error: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Conversion:
    graph: Graph  # FLOAT stage, one Output
    options: ConvertOptions
    balance: Balance
    layers: tuple[LayerConversion, ...]
    calibration_samples: int
    notes: tuple[str, ...] = field(default_factory=tuple)
    approximated: tuple[tuple[str, str], ...] = ()  # (approximation, ONNX node) the user accepted

    def methods(self) -> dict[str, str]:
        o = self.options
        return {
            "neuron": f"IF (no leak), fire '>=', reset '{o.reset}'"
            + (
                " (soft: subtract the threshold)"
                if o.reset == "subtract"
                else " (hard: to 0; the target has no soft reset)"
            ),
            "threshold": self.balance.describe(),
            "spike_value": "a spike of layer ℓ is worth θ_ℓ (folded into the next layer's weights)",
            "shift": SHIFT_TEXT[o.shift],
            "bias_correction": "per channel, layer by layer (Li et al. 2021)" if o.calibrate_bias else "off",
            "potential_correction": "per neuron, layer by layer (Li et al. 2021)" if o.calibrate_potential else "off",
            "readout": "last layer analog: non-spiking integrator, mean over the steps",
        }


def convert(ann: Ann, calib_x: np.ndarray, options: ConvertOptions) -> Conversion:
    """The SNN of ``ann`` for ``options.steps`` steps, balanced and calibrated on ``calib_x``."""
    _check(ann, calib_x, options)
    bal = balance(ann, calib_x, percentile=options.percentile, batch=options.batch)
    snn = _Snn(ann, bal.thresholds, options)
    _, target = forward(ann, calib_x, keep=ann.relus)
    before = snn.rates(calib_x)
    for layer in ann.relus:  # in order: each layer is corrected with its corrected predecessors in place
        if options.calibrate_bias:
            snn.correct_bias(layer, target[layer], snn.rates(calib_x, upto=layer)[layer])
        if options.calibrate_potential:
            snn.correct_potential(layer, target[layer], snn.rates(calib_x, upto=layer)[layer])
    after = snn.rates(calib_x) if (options.calibrate_bias or options.calibrate_potential) else before
    synapses = _synapses(ann)
    layers = tuple(
        LayerConversion(
            layer=name,
            synapse=synapses[name],
            threshold=bal.thresholds[name],
            max_activation=bal.max_activation[name],
            firing_rate=float(after[name].mean() / bal.thresholds[name]),
            error_uncorrected=_rms(before[name] - target[name], bal.thresholds[name]),
            error=_rms(after[name] - target[name], bal.thresholds[name]),
            mean_error_uncorrected=float((before[name] - target[name]).mean() / bal.thresholds[name]),
            mean_error=float((after[name] - target[name]).mean() / bal.thresholds[name]),
        )
        for name in ann.relus
    )
    notes = (*ann.notes, *(f"ReLU {name!r} never active on the calibration data" for name in bal.dead))
    return Conversion(snn.graph(), options, bal, layers, len(calib_x), notes, ann.approximated)


def _check(ann: Ann, x: np.ndarray, options: ConvertOptions) -> None:
    if options.steps < 1:
        raise DataError(f"steps must be at least 1, got {options.steps}", code="DAT012")
    if options.shift not in SHIFTS or options.reset not in RESETS:
        raise DataError(f"unknown shift {options.shift!r} or reset {options.reset!r}", code="DAT101")
    if options.percentile is not None and not 0 < options.percentile <= 100:
        raise DataError(f"the percentile must be in (0, 100], got {options.percentile}", code="DAT101")
    if tuple(x.shape[1:]) != tuple(ann.input_shape) or len(x) == 0:
        raise DataError(
            f"calibration samples have shape {tuple(x.shape[1:])} but the model takes {tuple(ann.input_shape)}",
            code="DAT008",
            hint="pass calibration data (x: (N, *input_shape)) drawn like the model's training inputs",
        )


def _synapses(ann: Ann) -> dict[str, str | None]:
    """What feeds each ReLU: its weighted layers (Conv/Gemm/MatMul), joined by " + " over the branches
    of a residual sum; "skip from X" for a branch without weights (an identity skip)."""

    def feeder(name: str) -> str:
        node = None if name == ann.input_name else ann.node(name)
        if node is None or isinstance(node.layer, Relu):
            return f"skip from {name}"
        if hasattr(node.layer, "weight"):
            return name
        return feeder(node.inputs[0])  # pooling, flatten: look further back

    return {
        n.name: " + ".join(feeder(i) for i in ann.summands(n.inputs)) for n in ann.nodes if isinstance(n.layer, Relu)
    }


def _rms(diff: np.ndarray, theta: float) -> float:
    return float(np.sqrt(np.mean(diff**2)) / theta)


class _Snn:
    """The SNN being calibrated: thresholds fixed, per-neuron biases and initial potentials mutable."""

    def __init__(self, ann: Ann, thresholds: dict[str, float], options: ConvertOptions) -> None:
        self.ann, self.thresholds, self.options = ann, thresholds, options
        shapes = {n.name: n.layer.shape for n in ann.nodes if isinstance(n.layer, Relu)}
        t = options.steps
        shift_bias = {"threshold-half": 0.5 / t, "initial-potential": 0.0, "none": 0.0}[options.shift]
        shift_v = 0.5 if options.shift == "initial-potential" else 0.0
        self.bias = {n: np.full(shapes[n], shift_bias * thresholds[n]) for n in shapes}
        self.v_init = {n: np.full(shapes[n], shift_v * thresholds[n]) for n in shapes}

    def graph(self, *, probes: bool = False, upto: str | None = None) -> Graph:
        """The FLOAT graph; ``probes``: one rate·θ output per spiking layer instead of the readout."""
        steps = self.options.steps
        builder = GraphBuilder()
        builder.add(self.ann.input_name or "input", Input(shape=self.ann.input_shape))
        needed = self.ann.ancestors(upto or self.ann.output)
        spiking: list[tuple[str, LIF]] = []
        last = None
        for node in self.ann.nodes:
            if node.name not in needed or isinstance(node.layer, Add):
                continue  # a residual sum is done by the neuron layer reading it
            op = self._lif(node.name) if isinstance(node.layer, Relu) else node.layer
            last = (builder.add(node.name, op, self.ann.summands(node.inputs)), op)
            if op.IS_NEURON:
                spiking.append(last)
        if probes:
            for name, op in spiking:
                builder.add(
                    f"{name}.rate", Output(shape=op.shape, readout="spike_count", scale=op.amplitude / steps), [name]
                )
        else:  # a ReLU's rate·θ; an analog last layer's W·s_t + b integrated, read as v_T / T
            add_readout(builder, [last], "mean", steps)
        meta = GraphMeta(
            stage=Stage.FLOAT,
            steps=steps,
            source=f"onnx:{self.ann.source}",
            notes=(("converter", "ann-to-snn"), ("importer", "onnx")),
        )
        return verify(builder.build(meta))

    def _lif(self, name: str) -> LIF:
        """The IF layer of ReLU ``name``: threshold θ, a spike worth θ, the shift and corrections."""
        theta, v_init = self.thresholds[name], self.v_init[name]
        return LIF(
            shape=self.ann.node(name).layer.shape,
            beta=1.0,
            threshold=theta,
            fire=">=",
            reset=self.options.reset,
            bias=Const(self.bias[name]),
            v_init=Const(v_init) if v_init.any() else None,
            amplitude=theta,
        )

    def rates(self, x: np.ndarray, *, upto: str | None = None) -> dict[str, np.ndarray]:
        """rate·θ per sample and neuron of every spiking layer (up to ``upto``), by the float simulator."""
        graph = self.graph(probes=True, upto=upto)
        sim = get_backend("floatsim")
        input_name = graph.of_type(Input)[0][0]
        outputs: dict[str, list[np.ndarray]] = {}
        for start in range(0, len(x), self.options.batch):
            trace = sim.run(graph, {input_name: x[start : start + self.options.batch]})
            for name, value in trace.outputs.items():
                outputs.setdefault(name.removesuffix(".rate"), []).append(value)
        return {name: np.concatenate(parts) for name, parts in outputs.items()}

    def correct_bias(self, layer: str, target: np.ndarray, rate: np.ndarray) -> None:
        """b_c -= mean over samples and positions of (rate·θ − a), per channel."""
        axes = (0, *range(2, target.ndim))
        error = (rate - target).mean(axis=axes)
        self.bias[layer] = self.bias[layer] - error.reshape((-1,) + (1,) * (target.ndim - 2))

    def correct_potential(self, layer: str, target: np.ndarray, rate: np.ndarray) -> None:
        """v_init += T·mean over samples of (a − rate·θ), per neuron."""
        self.v_init[layer] = self.v_init[layer] + self.options.steps * (target - rate).mean(axis=0)
