"""`snncc convert`: ONNX ANN -> calibrated float SNN -> the usual compile, plus the conversion report section.

The neuron settings follow the target: soft reset where it has one (Loihi 2), hard reset to 0
otherwise (Loihi 1), and a per-neuron initial potential only where the target can load one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from snncc.ann import Ann
from snncc.compile import CompileOptions, CompileResult, Progress, compile_model
from snncc.data import Dataset, load_dataset
from snncc.errors import DataError, MappingError
from snncc.importers.onnx import check_approximations, import_onnx
from snncc.limits import check_steps
from snncc.options import DataOptions, ModelOptions, VerificationOptions
from snncc.report import ReportSection
from snncc.target import Target, load_target

from .convert import Conversion, ConvertOptions, convert
from .oracle import onnxruntime_outputs
from .section import conversion_section


@dataclass(frozen=True)
class ConvertRequest:
    model: Path
    calib: Path
    steps: int
    target: str = "loihi"
    data: Path | None = None  # test data; default: the calibration data
    percentile: float | None = 99.9  # None or 100: the maximum activation
    shift: str = "threshold-half"
    reset: str | None = None  # None: soft reset if the target has it, else hard
    calibrate_bias: bool = True
    calibrate_potential: bool = False
    samples: int | None = None  # verify on the first N test samples only
    min_agreement: float = 0.95
    max_accuracy_drop: float = 1.0  # percentage points below the float SNN's accuracy a PASS allows
    approximations: tuple[str, ...] = ()  # named approximations of ANN layers (importers.onnx.APPROXIMATIONS)
    lava_samples: int = 0  # > 0: also run Lava on that many samples, compared with refsim bit for bit


def neuron_options(request: ConvertRequest, target: Target) -> ConvertOptions:
    """The conversion settings, checked against what the target's neurons can do."""
    if request.percentile is not None and not 0 < request.percentile <= 100:
        raise DataError(
            f"--percentile must be in (0, 100], got {request.percentile:g}",
            code="DAT101",
            hint="99.9 (the default) is robust to outliers; 100 takes each layer's maximum activation",
        )
    features = target.neuron_features
    reset = request.reset or ("subtract" if "reset_subtract" in features else "zero")
    wanted = {
        "reset_subtract": (reset == "subtract", "--reset subtract", "--reset zero"),
        "v_init": (
            request.shift == "initial-potential" or request.calibrate_potential,
            "--shift initial-potential / --calibrate-potential",
            "--shift threshold-half --no-calibrate-potential",
        ),
    }
    problems = [
        (feature, flags, instead)
        for feature, (needed, flags, instead) in wanted.items()
        if needed and feature not in features
    ]
    if problems:
        feature, flags, instead = problems[0]
        raise MappingError(
            f"{flags} needs the neuron feature {feature!r}, which target {target.name} does not have",
            code="MAP101",
            source=str(target.path),
            hint=f"use {instead}, or a target that has it (see `snncc targets`)",
        )
    percentile = None if request.percentile is None or request.percentile == 100 else request.percentile
    return ConvertOptions(
        steps=request.steps,
        percentile=percentile,
        shift=request.shift,  # type: ignore[arg-type]
        reset=reset,  # type: ignore[arg-type]
        calibrate_bias=request.calibrate_bias,
        calibrate_potential=request.calibrate_potential,
    )


def _load_for(ann: Ann, path: Path) -> Dataset:
    """The data in the SNN's sample shape; where the model reshapes its input first, data in the
    file's input shape is accepted too (same values per sample)."""
    try:
        return load_dataset(path, ann.input_shape)
    except DataError:
        if ann.file_input_shape is None:
            raise
    data = load_dataset(path, ann.file_input_shape)
    return Dataset(data.path, data.x.reshape(len(data.x), *ann.input_shape), data.y)


def run_convert(request: ConvertRequest, say: Progress) -> tuple[CompileResult, Conversion, ReportSection]:
    check_steps(request.steps)  # before the calibration simulates that many steps
    target = load_target(request.target)
    options = neuron_options(request, target)
    check_approximations(request.approximations)
    say(f"importing {request.model}")
    ann = import_onnx(request.model, request.approximations)
    calib = _load_for(ann, request.calib)
    test = _load_for(ann, request.data) if request.data is not None else calib
    say(f"converting: thresholds and corrections on {len(calib)} calibration samples, {request.steps} steps")
    conversion = convert(ann, calib.x, options)
    verify_set: Dataset = test.head(request.samples)
    say(f"running the ANN in onnxruntime on {len(verify_set)} samples")
    file_shape = ann.file_input_shape or ann.input_shape
    ann_outputs = onnxruntime_outputs(request.model, verify_set.x.reshape(len(verify_set), *file_shape))
    compile_options = CompileOptions(
        target=request.target,
        model=ModelOptions(steps=request.steps),
        data=DataOptions(samples=request.samples),
        verification=VerificationOptions(
            min_output_agreement=request.min_agreement,
            max_accuracy_drop=request.max_accuracy_drop,
            lava_samples=request.lava_samples,
        ),
    )
    result = compile_model(request.model, compile_options, say, imported=(test, conversion.graph), calibration=calib)
    section = conversion_section(conversion, request, result, ann_outputs, test_is_calib=request.data is None)
    return result, conversion, section
