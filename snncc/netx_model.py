"""A lava-dl netx network (``.net``, HDF5) as the model of `snncc compile`, `check` and `simulate`.

A netx file holds an integer network in Lava's fixed-point LIF numerics (snncc/importers/netx.py
reads it as lava-dl's ``netx.hdf5.Network`` runs it): there is no float model to quantize, so the
network as the file defines it is the reference the deployment is verified against, and a compile
only places it on the target's cores (splitting fan-ins where the target relays partial sums).
Files are recognized by content, the HDF5 signature, whatever their name.
"""

from __future__ import annotations

from pathlib import Path

from snncc.data import Dataset, verification_data
from snncc.errors import MappingError
from snncc.families import family_of
from snncc.ir import Graph, IntInput
from snncc.options import CompileOptions
from snncc.passes.quantize import InputQuantization, QuantizationReport
from snncc.target import Target

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
REFERENCE = "the netx network as lava-dl runs it (an integer network: no float model)"


def is_hdf5(path: Path) -> bool:
    """An HDF5 file (lava-dl's netx format) by its signature at the start of the file."""
    try:
        with open(path, "rb") as f:
            return f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE
    except OSError:
        return False


def import_netx_model(path: Path, options: CompileOptions) -> tuple[Dataset, Graph]:
    """The file's INTEGER graph (``--steps`` overrides its tSample, ``--readout`` its output) and the
    samples to run it on (``--data``, or the bundled digits where the input shape fits)."""
    from snncc.importers.netx import read_netx

    graph = read_netx(path, steps=options.model.steps, readout=options.model.readout)
    (_, op), *_ = graph.of_type(IntInput)
    return verification_data(options.data.file, input_shape=op.shape, steps=graph.meta.steps), graph


def check_target(graph: Graph, target: Target) -> None:
    """A netx network runs on the Loihi family's LIF: its numerics are the file's, not the target's."""
    if family_of(target.numerics) is not family_of(graph.meta.numerics):
        raise MappingError(
            f"a netx network runs Lava's Loihi LIF; {target.name} is a {target.numerics.family} chip",
            code="MAP051",
            hint="compile a netx file for loihi or loihi2",
        )
    for name, op in graph.of_type(IntInput):
        if op.encoding not in target.input_encodings:  # fixed by the file: --input-encoding cannot change it
            raise MappingError(
                f"the netx network takes {op.encoding} input ({op.bits}-bit values), which {target.name} cannot "
                "receive",
                code="MAP001",
                node=name,
                hint="deploy it on a target that receives it, e.g. --target loihi2",
            )


def as_given(graph: Graph) -> QuantizationReport:
    """The quantization report of a network that arrived integer: its inputs as the file takes them."""
    return QuantizationReport(
        tuple(
            InputQuantization(name, op.encoding, op.bits, op.scale, exact=True, max_abs_error=0.0)
            for name, op in graph.of_type(IntInput)
        ),
        (),
    )
