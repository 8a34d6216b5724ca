"""The VGG-style CIFAR-sized example: refused by one Loihi 1 chip with a per-layer breakdown, placed on a board."""

from __future__ import annotations

from pathlib import Path

import pytest

from snncc.compile import CompileOptions, preflight
from snncc.errors import MappingError
from snncc.mapping import check_placement
from snncc.options import DataOptions

pytestmark = pytest.mark.slow  # maps a 57k-neuron network several times

VGG = Path(__file__).resolve().parents[2] / "examples" / "vgg"


def options(target: str) -> CompileOptions:
    return CompileOptions(target=target, data=DataOptions(file=VGG / "test_data.npz"))


def test_one_chip_is_too_small_and_says_which_layers_need_the_cores():
    with pytest.raises(MappingError) as err:
        preflight(VGG / "model.pt", options("loihi"))
    (diag,) = err.value.diagnostics
    assert diag.code == "MAP013" and "has 128" in diag.message and "body.2" in diag.message
    assert diag.node is not None and "nahuku32" in diag.hint


def test_a_32_chip_board_takes_it_within_a_few_times_the_lower_bound():
    d = preflight(VGG / "model.pt", options("nahuku32"))
    placement = d.placement
    assert check_placement(d.int_graph, placement, d.target) == []
    assert placement.lower_bound_cores <= placement.cores_used <= 4 * placement.lower_bound_cores
    assert len({c.chip for c in placement.cores}) >= 3  # more cores than one chip has
    assert sum(c.usage.neurons for c in placement.cores) == 57482


def test_shared_conv_kernels_need_far_fewer_cores_and_respect_output_axons():
    board = preflight(VGG / "model.pt", options("nahuku32")).placement
    d = preflight(VGG / "model.pt", options("loihi2"))
    assert check_placement(d.int_graph, d.placement, d.target) == []
    assert d.placement.cores_used < board.cores_used / 2
    limit = d.target.per_core.fan_out_axons.value
    assert all(c.usage.fan_out_axons <= limit for c in d.placement.cores)
