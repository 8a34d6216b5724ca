"""Fusing linear chains into one synapse is exact: checked against torch's own layers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snncc.errors import ImportFailed
from snncc.ir import AvgPool2d, BatchNorm, Const, Conv2d, Dense, Flatten, SumPool2d
from snncc.passes.linear_chain import apply_linear, fuse_chain

rng = np.random.default_rng(7)


def torch_conv(x, w, stride=1, padding=0, dilation=1, groups=1):
    return F.conv2d(torch.from_numpy(x), torch.from_numpy(w), None, stride, padding, dilation, groups).numpy()


@pytest.mark.parametrize(("groups", "stride", "padding"), [(1, 1, 1), (2, 2, 0)])
def test_conv_matches_torch(groups, stride, padding):
    x = rng.normal(size=(3, 4, 9, 8))
    w = rng.normal(size=(6, 4 // groups, 3, 3))
    op = Conv2d(shape=(6, 1, 1), weight=Const(w), stride=stride, padding=padding, groups=groups)
    np.testing.assert_allclose(apply_linear(op, x), torch_conv(x, w, stride, padding, 1, groups), atol=1e-12)


def test_pools_match_torch():
    x = rng.normal(size=(2, 3, 8, 8))
    avg = AvgPool2d(shape=(3, 4, 4), kernel=3, stride=2, padding=1)
    ref = F.avg_pool2d(torch.from_numpy(x), 3, 2, 1, count_include_pad=True).numpy()
    np.testing.assert_allclose(apply_linear(avg, x), ref, atol=1e-12)
    summ = SumPool2d(shape=(3, 4, 4), kernel=2, stride=2)
    np.testing.assert_allclose(apply_linear(summ, x), 4 * F.avg_pool2d(torch.from_numpy(x), 2).numpy(), atol=1e-12)


def run_chain(chain, x):
    for _, op in chain:
        x = apply_linear(op, x)
    return x


def conv(cin, cout, k, hw, **kw):
    from snncc.ir.op import conv_out_hw, pair

    oh, ow = conv_out_hw(hw, pair(k), pair(kw.get("stride", 1)), pair(kw.get("padding", 0)))
    return Conv2d(
        shape=(cout, oh, ow),
        weight=Const(rng.normal(size=(cout, cin, k, k))),
        bias=Const(rng.normal(size=cout)),
        **kw,
    )


def bn(c, shape):
    return BatchNorm(
        shape=shape,
        mean=Const(rng.normal(size=c)),
        var=Const(rng.uniform(0.5, 2, size=c)),
        weight=Const(rng.normal(size=c)),
        bias=Const(rng.normal(size=c)),
    )


CHAINS = {
    "conv+bn": ((2, 6, 6), [("c", conv(2, 3, 3, (6, 6), padding=1)), ("bn", bn(3, (3, 6, 6)))]),
    "conv+bn+avgpool": (
        (2, 6, 6),
        [
            ("c", conv(2, 3, 3, (6, 6), padding=1)),
            ("bn", bn(3, (3, 6, 6))),
            ("p", AvgPool2d(shape=(3, 3, 3), kernel=2, stride=2)),
        ],
    ),
    "avgpool+flatten+dense": (
        (3, 4, 4),
        [
            ("p", AvgPool2d(shape=(3, 2, 2), kernel=2, stride=2)),
            ("f", Flatten(shape=(12,))),
            ("d", Dense(shape=(5,), weight=Const(rng.normal(size=(5, 12))), bias=Const(rng.normal(size=5)))),
        ],
    ),
    "avgpool+conv": (
        (2, 8, 8),
        [("p", AvgPool2d(shape=(2, 4, 4), kernel=2, stride=2)), ("c", conv(2, 3, 3, (4, 4), padding=1))],
    ),
    "sumpool alone": ((3, 4, 4), [("p", SumPool2d(shape=(3, 2, 2), kernel=2, stride=2))]),
    "dense+dense": (
        (4,),
        [
            ("d1", Dense(shape=(3,), weight=Const(rng.normal(size=(3, 4))), bias=Const(rng.normal(size=3)))),
            ("d2", Dense(shape=(2,), weight=Const(rng.normal(size=(2, 3))), bias=Const(rng.normal(size=2)))),
        ],
    ),
}


@pytest.mark.parametrize("case", sorted(CHAINS))
def test_fused_chain_equals_the_chain(case):
    shape, chain = CHAINS[case]
    x = rng.normal(size=(4, *shape))
    fused = fuse_chain(chain, shape)
    assert fused.op.bias is None
    expected = run_chain(chain, x)
    got = apply_linear(fused.op, x).reshape(expected.shape) + fused.bias
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_fused_chain_is_named_after_the_last_weighted_layer():
    shape, chain = CHAINS["conv+bn+avgpool"]
    assert fuse_chain(chain, shape).name == "c"


def test_unfusable_pair_names_the_layer():
    chain = [("c1", conv(2, 2, 3, (6, 6), padding=1)), ("c2", conv(2, 2, 3, (6, 6), padding=1))]
    with pytest.raises(ImportFailed) as err:
        fuse_chain(chain, (2, 6, 6))
    assert err.value.diagnostics[0].node == "c2"


def test_batchnorm_without_a_layer_before_it_is_refused():
    with pytest.raises(ImportFailed) as err:
        fuse_chain([("bn", bn(2, (2, 4, 4)))], (2, 4, 4))
    assert err.value.code == "IMT010"
