"""Integer number formats of a target's neuron and synapse arithmetic.

The defaults are Lava's fixed-point LIF/Dense models (lava-nc 0.10.0), which model
Loihi: see ir/SPEC.md and ../shared/docs/loihi-lava-semantics.md section 2-3.
A target file may restate them; the integer graph records the numerics it was
quantized for, so an artifact is self-contained.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any


@dataclass(frozen=True)
class Numerics:
    family: str = "loihi"
    weight_bits: int = 8  # signed mantissa incl. sign handling of Lava's weight pipeline
    weight_exp_min: int = -8
    weight_exp_max: int = 7
    act_shift: int = 6  # synaptic input enters u as a * 2**act_shift
    vth_shift: int = 6  # spike when v > vth * 2**vth_shift
    vth_bits: int = 17  # vth in [0, 2**vth_bits - 1]
    decay_bits: int = 12  # decays are fractions of 2**decay_bits
    du_offset: int = 1  # Lava adds 1 to du (trap 1): du = -1 means no current decay
    state_bits: int = 24  # u wraps, v saturates at this signed width
    bias_mant_bits: int = 13  # signed
    bias_exp_min: int = 0
    bias_exp_max: int = 7
    input_bits: int = 8  # payload width of graded input messages
    # the dendritic accumulator: the signed width of a, the step's summed synaptic input in weight
    # units (before ·2^act_shift), and what the chip does beyond it: "wrap" (two's complement),
    # "saturate", or "unknown" (simulated as Lava does, int32, and only counted).  The default is
    # Lava's: a travels as int32 (lava/proc/lif/models.py), so 32 bits, wrapping.
    accumulator_bits: int = 32
    accumulator_overflow: str = "wrap"
    # the longest synaptic (axon) delay in steps (SPEC.md §int_delay): Lava's bit-accurate DelayDense
    # raises above 63, Loihi's 6-bit delay field; a target may allow less
    max_delay: int = 63

    @property
    def decay_unity(self) -> int:
        return 1 << self.decay_bits

    @property
    def vth_max(self) -> int:
        return (1 << self.vth_bits) - 1

    @property
    def v_max(self) -> int:
        return (1 << (self.state_bits - 1)) - 1

    @property
    def bias_mant_max(self) -> int:
        return (1 << (self.bias_mant_bits - 1)) - 1

    @property
    def weight_max(self) -> int:
        """Largest stored weight: Lava's pipeline holds 8-bit magnitudes plus sign; Xylo stores int8."""
        from .families import numerics_family  # the families' table holds Numerics defaults

        return numerics_family(self.family).weight_max(self)

    @property
    def accumulator_range(self) -> tuple[int, int]:
        """The smallest and largest a the accumulator holds."""
        half = 1 << (self.accumulator_bits - 1)
        return -half, half - 1

    def lava_semantics(self) -> Numerics:
        """These numerics with Lava's accumulator (int32, wrapping), which Lava computes whatever the chip does."""
        return replace(self, accumulator_bits=32, accumulator_overflow="wrap")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Numerics:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown numerics fields: {sorted(unknown)}")
        from .families import numerics_family

        numerics_family(data.get("family", cls.family))  # ValueError naming the families
        return cls(**data)


# What the integer simulator's int64 arithmetic and finite energy sums can hold; a target or an
# artifact outside these is a typo (weight_bits 80, energy 1e308 would give an Infinity in report.json).
NUMERICS_RANGES: dict[str, tuple[int, int]] = {
    "weight_bits": (1, 16),
    "weight_exp_min": (-32, 32),
    "weight_exp_max": (-32, 32),
    "act_shift": (0, 32),
    "vth_shift": (0, 32),
    "vth_bits": (1, 31),
    "decay_bits": (1, 24),
    "du_offset": (-16, 16),
    "state_bits": (2, 32),
    "bias_mant_bits": (1, 31),
    "bias_exp_min": (-32, 32),
    "bias_exp_max": (-32, 32),
    "input_bits": (1, 16),
    "accumulator_bits": (2, 32),
    "max_delay": (
        0,
        1023,
    ),  # a delay line holds max_delay + 1 steps of its input  # Lava's a is an int32: no wider accumulator can be simulated as Lava does
}


def out_of_range(data: dict[str, Any]) -> list[str]:
    """The fields of ``data`` (a numerics dict) outside NUMERICS_RANGES, as 'field: value is outside lo..hi'."""
    return [
        f"{k}: {data[k]!r} is outside {lo}..{hi}"
        for k, (lo, hi) in NUMERICS_RANGES.items()
        if isinstance(data.get(k), int) and not lo <= data[k] <= hi
    ]


LOIHI = Numerics()

# SynSense Xylo (ir/SPEC.md §6): the same fields, read as Xylo's formats; sources in targets/xylo.yaml
XYLO = Numerics(
    family="xylo",
    weight_bits=8,  # int8 weights
    weight_exp_min=0,  # weight_bit_shift: weights are shifted left only
    weight_exp_max=7,
    act_shift=0,
    vth_shift=0,
    vth_bits=15,  # int16 threshold, positive
    decay_bits=4,  # dash_mem / dash_syn are 4-bit shifts
    du_offset=0,
    state_bits=16,  # Isyn and Vmem saturate at int16
    bias_mant_bits=16,  # int16 bias, added unshifted
    bias_exp_min=0,
    bias_exp_max=0,
    input_bits=4,  # at most 15 input events per channel and step
    accumulator_bits=16,  # no accumulator of its own: weights add into Isyn, int16, saturating (the dialect's state)
    accumulator_overflow="saturate",
)
