"""What a compile is asked to do: the options of `snncc compile` (and of compile_model), in groups,
one per part of the compiler that reads them; each group is frozen, like the whole."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelOptions:
    """How the model file is read (importers)."""

    steps: int | None = None  # needed when the model is not an snncc.nn.SNN
    readout: str | None = None
    allow_pickle: bool = False  # trust the model file to run code while loading
    arch: str | None = None  # "module:Class" (or "path/file.py:Class") for a state-dict checkpoint
    dt: float | None = None  # NIR time step in seconds (NIR leaves discretization to the backend)
    nir_from: str | None = None  # the tool that wrote a NIR file, where it departs from NIR's equations


@dataclass(frozen=True)
class DataOptions:
    """The samples the model is calibrated and verified on."""

    file: Path | None = None  # --data: .npz with x (and y); default: the bundled digits test split if it fits
    calib: Path | None = None  # .npz with x to calibrate on; default: a part of `file` that is then not scored
    samples: int | None = None  # verify on the first N samples only
    calibration_samples: int = 256


@dataclass(frozen=True)
class QuantizationOptions:
    """How the float model becomes the integer network."""

    input_encoding: str | None = None  # default: the target's first
    approximations: tuple[str, ...] = ()  # named approximations the user accepts (passes/approximate.py)
    netx_compatible: bool = False  # quantize within what lava-dl's netx format holds (exporters/netx.py)


@dataclass(frozen=True)
class VerificationOptions:
    """What the integer network is checked against, and when the compile fails."""

    tolerance: float = 0.99  # per-layer spike agreement below this marks a layer as diverged
    min_output_agreement: float = 0.95  # below this the compile exits with "verification failed"
    max_accuracy_drop: float = 1.0  # percentage points: deployed accuracy further below float fails too
    lava_samples: int = 0  # > 0: also run Lava on that many samples and compare with refsim bit for bit
    oracle_backend: str = "lava"  # what lava_samples run on: lava (Loihi targets) or xylosim (xylo)


@dataclass(frozen=True)
class ParallelOptions:
    """Where the verification's simulations run."""

    workers: int = 1  # verification batches over this many local processes
    dask_scheduler: str | None = None  # or over a Dask cluster (its scheduler's address)
    device: str | None = None  # reference backend on torch tensors on this device ("cuda"); None: numpy


@dataclass(frozen=True)
class OutputOptions:
    """What the compile prints besides its report, and whether its warnings are errors."""

    strict: bool = False  # warnings become errors
    dump_after: tuple[str, ...] = ()  # print the graph after these passes (snncc.pipeline.PASS_NAMES)


@dataclass(frozen=True)
class CompileOptions:
    target: str = "loihi"
    model: ModelOptions = field(default_factory=ModelOptions)
    data: DataOptions = field(default_factory=DataOptions)
    quantization: QuantizationOptions = field(default_factory=QuantizationOptions)
    verification: VerificationOptions = field(default_factory=VerificationOptions)
    parallel: ParallelOptions = field(default_factory=ParallelOptions)
    output: OutputOptions = field(default_factory=OutputOptions)

    @classmethod
    def of(cls, **options: Any) -> CompileOptions:
        """The options named as the command line names them (``data`` for ``data.file``), each put in
        its group: for callers holding one flat list, e.g. `snncc compile`'s arguments."""
        groups: dict[str, dict[str, Any]] = {}
        for name, value in options.items():
            if name != "target":
                group, field_name = _GROUP_OF.get(name, (None, name))
                if group is None:
                    raise TypeError(f"CompileOptions has no option {name!r}")
                groups.setdefault(group, {})[field_name] = value
        kinds = {f.name: f.default_factory for f in fields(cls) if f.name != "target"}
        target = {"target": options["target"]} if "target" in options else {}
        return cls(**target, **{g: kinds[g](**values) for g, values in groups.items()})


# option name (as `snncc compile` spells it) -> (group, field)
_GROUP_OF = {
    ("data" if f.name == "file" else f.name): (group.name, f.name)
    for group in fields(CompileOptions)
    if group.name != "target"
    for f in fields(group.default_factory)
}
