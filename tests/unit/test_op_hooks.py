"""The cost and mapping hooks of the ops (issue 28): the compiler asks an op what it is and costs
instead of testing its class, so each hook must give what the mapping and energy code relied on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snncc.ir import (
    CLIF,
    LIF,
    AvgPool2d,
    BatchNorm,
    Const,
    Conv2d,
    Dense,
    IntCLIF,
    IntConv2d,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    MaxPool2d,
    Op,
    SumPool2d,
)
from snncc.ir.ops import FLOAT_OPS, INT_OPS

ROLES = ("IS_INPUT", "IS_OUTPUT", "IS_NEURON", "IS_SYNAPSE", "IS_POOL", "IS_RESHAPE", "HAS_STATE")


@pytest.mark.parametrize("cls", [*FLOAT_OPS, *INT_OPS], ids=lambda c: c.OP)
def test_every_op_has_one_role_or_is_an_affine_map(cls: type[Op]) -> None:
    """What a pass dispatches on: a new op that declares no role would fall through every pass silently."""
    roles = [r for r in ROLES if getattr(cls, r)]
    affine = cls.affine is not Op.affine
    assert len(roles) + affine == 1, (cls.OP, roles, affine)


def _ints(*shape: int) -> Const:
    return Const(np.arange(1, int(np.prod(shape)) + 1, dtype=np.int32).reshape(shape) % 5 - 2)


def test_macs_count_the_synapses_of_the_unrolled_op() -> None:
    """A conv's MACs are the nonzero entries of its unrolled matrix with all weights 1 and no padding;
    a split layer's conv part costs what its window does."""
    conv = IntConv2d(shape=(4, 4, 4), weight=Const(np.ones((4, 2, 3, 3), dtype=np.int32)))
    x = torch.eye(2 * 6 * 6, dtype=torch.float64).reshape(-1, 2, 6, 6)
    unrolled = F.conv2d(x, torch.ones(4, 2, 3, 3, dtype=torch.float64))
    assert conv.macs() == int(torch.count_nonzero(unrolled)) == 4 * 16 * 2 * 9
    dense = IntDense(shape=(3,), weight=_ints(3, 7))
    assert dense.macs() == 21
    part = IntPartialSum(shape=(4, 4, 4), weight=Const(np.ones((4, 2, 3, 3), dtype=np.int32)), start=1)
    assert part.is_conv and part.macs() == conv.macs()
    assert part.part_of_source() == (1, 3) and part.read_shape((5, 6, 6)) == (2, 6, 6)
    dense_part = IntPartialSum(shape=(3,), weight=_ints(3, 4), start=2)
    assert not dense_part.is_conv and dense_part.conv_view() is None and dense_part.read_shape((10,)) == (4,)


def test_payload_ports_bound_what_each_source_sends() -> None:
    assert IntInput(shape=(2,), bits=3, encoding="bitplane").payload_ports() == ((1, 0), (1, 1), (1, 2))
    assert IntInput(shape=(2,), bits=8).payload_ports() == ((255, 0),)
    assert IntPartialSum(shape=(3,), weight=_ints(3, 4), start=0, payload_bits=24).payload_ports() == ((1 << 23, 0),)
    zeros = Const(np.zeros(2, dtype=np.int32))
    spikes = IntLIF(shape=(2,), du=0, dv=0, vth=1, bias_mant=zeros, bias_exp=zeros, v_init=zeros)
    assert spikes.payload_ports() == ((1, 0),)


def test_neuron_features_name_what_the_chip_must_implement() -> None:
    assert LIF(shape=(2,), reset="subtract").neuron_features() == {"reset_subtract"}
    assert LIF(shape=(2,), reset="subtract", spiking=False).neuron_features() == set()
    assert LIF(shape=(2,), v_floor=-1.0, i_init=Const(np.array([0.0, 0.5]))).neuron_features() == {"v_floor", "v_init"}
    assert CLIF(shape=(2,), reset="subtract").neuron_features() == {"clif"}  # its soft reset is the clif's own
    zeros = Const(np.zeros(2, dtype=np.int32))
    lif = IntLIF(shape=(2,), du=0, dv=0, vth=1, bias_mant=zeros, bias_exp=zeros, v_init=zeros, reset="subtract")
    assert lif.neuron_features() == {"reset_subtract"}
    table = Const(np.zeros(4, dtype=np.int32))
    fields = {f: getattr(lif, f) for f in ("shape", "du", "dv", "vth", "bias_mant", "bias_exp", "v_init", "reset")}
    clif = IntCLIF(**fields, m_frac_bits=8, h_shift=0, lut_h=table, m_shift=0, lut_m=table)
    assert clif.neuron_features() == {"reset_subtract", "clif"}


def test_a_batch_norm_folds_into_the_synapse_before_it() -> None:
    rng = np.random.default_rng(0)
    bn = BatchNorm(
        shape=(3, 4, 4),
        mean=Const(rng.normal(size=3)),
        var=Const(rng.uniform(0.5, 2, size=3)),
        weight=Const(rng.normal(size=3)),
        bias=Const(rng.normal(size=3)),
    )
    conv = Conv2d(shape=(3, 4, 4), weight=Const(rng.normal(size=(3, 2, 3, 3))), padding=1)
    x = torch.tensor(rng.normal(size=(1, 2, 4, 4)))
    y = F.conv2d(x, torch.tensor(conv.weight.array), padding=1)
    bn_torch = F.batch_norm(y, *(torch.tensor(c.array) for c in (bn.mean, bn.var, bn.weight, bn.bias)), eps=bn.eps)
    folded = conv.fold_affine(*bn.affine())
    got = F.conv2d(x, torch.tensor(folded.weight.array), torch.tensor(folded.bias.array), padding=1)
    np.testing.assert_allclose(got.numpy(), bn_torch.numpy(), atol=1e-12)
    dense = Dense(shape=(3,), weight=Const(rng.normal(size=(3, 5))), bias=Const(rng.normal(size=3)))
    v = rng.normal(size=5)
    scale, shift = np.array([2.0, -1.0, 0.5]), np.array([1.0, 0.0, -3.0])
    folded_dense = dense.fold_affine(scale, shift)
    np.testing.assert_allclose(
        folded_dense.weight.array @ v + folded_dense.bias.array,
        (dense.weight.array @ v + dense.bias.array) * scale + shift,
    )


def test_a_synapse_gives_its_integer_form_and_its_split_join() -> None:
    conv = Conv2d(shape=(4, 3, 3), weight=Const(np.ones((4, 1, 2, 2))), stride=2, padding=1, dilation=1, groups=2)
    w = np.full((4, 1, 2, 2), 3, dtype=np.int32)
    as_int = conv.to_int(w, -2)
    assert (as_int.stride, as_int.padding, as_int.groups, as_int.weight_exp) == ((2, 2), (1, 1), 2, -2)
    join = as_int.identity_join()  # channel c of a part on to channel c
    x = torch.arange(4 * 9, dtype=torch.float64).reshape(1, 4, 3, 3)
    np.testing.assert_array_equal(F.conv2d(x, torch.tensor(join.weight.array).double(), groups=join.groups), x)
    dense_join = IntDense(shape=(3,), weight=_ints(3, 5), weight_exp=1).identity_join()
    assert dense_join.weight_exp == 1 and np.array_equal(dense_join.weight.array, np.eye(3))


def test_pools_say_whether_they_are_linear() -> None:
    window = {"shape": (1, 2, 2), "kernel": 3, "stride": 3}
    assert AvgPool2d(**window).window_divisor() == 9
    assert SumPool2d(**window).window_divisor() == 1
    assert MaxPool2d(**window).window_divisor() is None  # not a linear map: no synapse form
