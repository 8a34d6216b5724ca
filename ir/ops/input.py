"""A graph input: the float model's input and the chip's integer input (SPEC.md §input, §int_input)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from snncc.errors import InvalidGraph

from ..op import Op, Shape, expect_inputs

InputEncoding = Literal["graded", "bitplane", "events"]
ENCODINGS: tuple[str, ...] = ("graded", "bitplane", "events")


@dataclass(frozen=True, kw_only=True)
class Input(Op):
    """A graph input; one sample has ``shape``; the same value is presented at every step."""

    OP = "input"
    IS_INPUT = True

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs, 0)
        return self.shape


@dataclass(frozen=True, kw_only=True)
class IntInput(Op):
    """Integer input presented at every step of a sample.

    Values are integers of ``bits`` bits (two's complement if ``signed``).
    encoding "graded": one graded message per input per step (Lava num_message_bits > 0).
    encoding "bitplane": bit b of each value is sent as a binary spike on its own axon,
    through a copy of the next synapse with weight exponent weight_exp + b.
    encoding "events" (Xylo): x events on the input channel in that step, each adding the weight.
    ``scale`` is the float value of one input unit.
    """

    OP = "int_input"
    IS_INPUT = True
    bits: int
    signed: bool = False
    encoding: InputEncoding = "graded"
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs, 0)
        if self.encoding not in ENCODINGS:
            raise InvalidGraph(f"unknown input encoding {self.encoding!r}", code="GRF005", node=name)
        if self.encoding in ("bitplane", "events") and self.signed:
            raise InvalidGraph(f"{self.encoding} input encodes unsigned values only", code="GRF005", node=name)
        return self.shape
