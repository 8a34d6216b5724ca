"""What a compile is asked to do: the options of `snncc compile` (and of compile_model)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CompileOptions:
    target: str = "loihi"
    data: Path | None = None  # .npz with x (and y); default: the bundled digits test split if it fits
    calib: Path | None = None  # .npz with x to calibrate on; default: a part of `data` that is then not scored
    steps: int | None = None  # needed when the model is not an snncc.nn.SNN
    readout: str | None = None
    input_encoding: str | None = None  # default: the target's first
    allow_pickle: bool = False  # trust the model file to run code while loading
    arch: str | None = None  # "module:Class" (or "path/file.py:Class") for a state-dict checkpoint
    dt: float | None = None  # NIR time step in seconds (NIR leaves discretization to the backend)
    nir_from: str | None = None  # the tool that wrote a NIR file, where it departs from NIR's equations
    samples: int | None = None  # verify on the first N samples only
    calibration_samples: int = 256
    lava_samples: int = 0  # > 0: also run Lava on that many samples and compare with refsim bit for bit
    oracle_backend: str = "lava"  # what lava_samples run on: lava (Loihi targets) or xylosim (xylo)
    approximations: tuple[str, ...] = ()  # named approximations the user accepts (passes/approximate.py)
    tolerance: float = 0.99  # per-layer spike agreement below this marks a layer as diverged
    min_output_agreement: float = 0.95  # below this the compile exits with "verification failed"
    max_accuracy_drop: float = 1.0  # percentage points: deployed accuracy further below float fails too
    strict: bool = False  # warnings become errors
    workers: int = 1  # verification batches over this many local processes
    dask_scheduler: str | None = None  # or over a Dask cluster (its scheduler's address)
    device: str | None = None  # reference backend on torch tensors on this device ("cuda"); None: numpy
    netx_compatible: bool = False  # quantize within what lava-dl's netx format holds (exporters/netx.py)
    dump_after: tuple[str, ...] = ()  # print the graph after these passes (snncc.pipeline.PASS_NAMES)
