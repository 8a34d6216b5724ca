"""Step 2 of a torch import: one IR op per layer, reproducing its equations exactly.

torch.nn layers here, snncc.nn neurons in snncc_neurons.py (SPEC.md §2 lif), other frameworks'
modules in their importers (frameworks.py).  A setting snncc cannot import is collected as an
``Unsupported`` diagnostic (IMT002 unsupported module, IMT003 unsupported setting); a shape
mismatch raises InvalidGraph.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from snncc.errors import Diagnostic, InvalidGraph
from snncc.ir import LIF, AvgPool2d, BatchNorm, Const, Conv2d, Dense, Flatten, MaxPool2d, Op, Shape
from snncc.ir.op import pair

from .frameworks import Converter, LayerCall, framework_of
from .snncc_neurons import NEURON_CONVERTERS
from .torch_sanity import layer_problems

BYPASSED: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)
NEURONS: tuple[type[nn.Module], ...] = tuple(NEURON_CONVERTERS)
LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv2d,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Flatten,
    *BYPASSED,
    *NEURONS,
)
SUPPORTED_NAMES = "Linear, Conv2d, AvgPool2d, MaxPool2d of spikes, BatchNorm1d/2d, Flatten, Dropout, Identity and the snncc.nn neurons"


class Unsupported(Exception):
    """A layer or setting snncc cannot import; build_chain collects them to report all at once."""

    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _unsupported_module(name: str, module: nn.Module) -> Diagnostic:
    kind = type(module)
    framework = framework_of(kind)
    subclass = None if framework else next((base.__name__ for base in LAYERS if isinstance(module, base)), None)
    message = f"unsupported layer {kind.__module__}.{kind.__qualname__}"
    if subclass:
        message += f" (a subclass of {subclass}; its forward may differ)"
    supported = framework.supported_names if framework else SUPPORTED_NAMES
    return Diagnostic("error", "IMT002", message, node=name, hint=f"snncc imports {supported}")


def unsupported_setting(name: str, message: str, hint: str) -> Unsupported:
    """For converters: an unsupported setting of a supported layer (IMT003), collected with the others."""
    return Unsupported(Diagnostic("error", "IMT003", message, node=name, hint=hint))


def layer_converter(kind: type[nn.Module]) -> Converter:
    """The converter of a torch layer class (framework wrappers of torch layers reuse it)."""
    return _CONVERTERS[kind]


def bypassed(module: nn.Module | None) -> bool:
    if module is None:
        return False
    kind = type(module)
    framework = framework_of(kind)
    return kind in BYPASSED or (framework is not None and kind in framework.bypassed)


def _const(t: torch.Tensor | None) -> Const | None:
    return None if t is None else Const(t.detach().cpu().to(torch.float64).numpy())


def convert(call: LayerCall, src: Shape | None) -> Op | None:
    """The IR op of one layer (None: bypassed), with its output shape when ``src`` is known.

    Raises Unsupported for settings snncc cannot import, InvalidGraph for shape mismatches.
    """
    module, name = call.module, call.name
    if module is None:
        return shaped(Flatten(shape=()), src, name)
    kind = type(module)
    if bypassed(module):
        return None
    problems = layer_problems(name, module)
    if problems:
        raise Unsupported(problems[0])
    framework = framework_of(kind)
    converter = framework.converters.get(kind) if framework else _CONVERTERS.get(kind)
    if converter is None:
        raise Unsupported(_unsupported_module(name, module))
    return shaped(converter(name, module, src), src, name)


def shaped(op: Op, src: Shape | None, name: str) -> Op:
    if src is None:
        return op
    if op.IS_NEURON:  # a neuron layer takes the shape of its input
        op = dataclasses.replace(op, shape=src)
    return dataclasses.replace(op, shape=op.infer_shape([src], name))


def _linear(name: str, m: nn.Linear, src: Shape | None) -> Op:
    if src is not None and len(src) > 1 and src[-1] != m.in_features:
        raise InvalidGraph(
            f"Linear(in_features={m.in_features}) cannot take a {src} input (torch applies it to the last axis)",
            code="GRF004",
            node=name,
        )
    if src is not None and len(src) > 1 and src[-1] == m.in_features:
        raise unsupported_setting(
            name,
            f"Linear applied to a {src} input acts on its last axis; snncc's dense layer flattens its input",
            "add nn.Flatten() before the Linear layer",
        )
    return Dense(shape=(), weight=_const(m.weight), bias=_const(m.bias))


def _conv2d(name: str, m: nn.Conv2d, src: Shape | None) -> Op:
    if m.padding_mode != "zeros":
        raise unsupported_setting(name, f"padding_mode={m.padding_mode!r}", "use padding_mode='zeros' (the default)")
    padding = m.padding
    if isinstance(padding, str):
        spans = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
        if padding == "same" and any(s % 2 for s in spans):
            raise unsupported_setting(
                name,
                "padding='same' with an even kernel pads asymmetrically",
                "use an odd kernel or explicit padding",
            )
        padding = tuple(s // 2 for s in spans) if padding == "same" else (0, 0)
    return Conv2d(
        shape=(),
        weight=_const(m.weight),
        bias=_const(m.bias),
        stride=m.stride,
        padding=padding,
        dilation=m.dilation,
        groups=m.groups,
    )


def _avgpool2d(name: str, m: nn.AvgPool2d, src: Shape | None) -> Op:
    if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
        raise unsupported_setting(
            name,
            "AvgPool2d with ceil_mode, count_include_pad=False or divisor_override",
            "use AvgPool2d(kernel, stride, padding) with the default options",
        )
    return AvgPool2d(shape=(), kernel=m.kernel_size, stride=m.stride or m.kernel_size, padding=m.padding)


def _maxpool2d(name: str, m: nn.MaxPool2d, src: Shape | None) -> Op:
    """Max pooling as trained; build_chain turns it into an exact OR where it pools spikes."""
    if m.return_indices or m.ceil_mode or pair(m.dilation) != (1, 1):
        raise unsupported_setting(
            name,
            "MaxPool2d with return_indices, ceil_mode or dilation",
            "use MaxPool2d(kernel, stride, padding) with the default options",
        )
    return MaxPool2d(shape=(), kernel=m.kernel_size, stride=m.stride or m.kernel_size, padding=m.padding)


def spike_or(pooled: Shape, source: LIF) -> LIF:
    """The neuron after a MaxPool2d's window sums: the max of 0-or-a spikes is a times their OR,
    which a relay-like lif computes exactly (passes/align_depths.py): it fires when the sum exceeds
    a/2, resets to 0, and holds 0 otherwise, so in aligned time its spikes are the pooled spikes.
    Firing on ">" (sums are multiples of a, so ">=" would fire alike) keeps it NIR's IF exactly.
    Max pooling of analog values stays a maxpool2d op (canonicalize refuses it unless approximated)."""
    a = source.amplitude
    return LIF(shape=pooled, beta=1.0, threshold=0.5 * a, fire=">", reset="zero", amplitude=a)


def _batchnorm(name: str, m: nn.BatchNorm1d | nn.BatchNorm2d, src: Shape | None) -> Op:
    if m.running_mean is None or m.running_var is None:
        raise unsupported_setting(
            name, "batch norm without running statistics", "use track_running_stats=True (the default)"
        )
    if src is not None and len(src) not in ((1, 2) if isinstance(m, nn.BatchNorm1d) else (3,)):
        raise InvalidGraph(f"{type(m).__name__} cannot take a {src} input", code="GRF004", node=name)
    ones = torch.ones_like(m.running_mean)
    return BatchNorm(
        shape=(),
        mean=_const(m.running_mean),
        var=_const(m.running_var),
        weight=_const(m.weight if m.weight is not None else ones),
        bias=_const(m.bias if m.bias is not None else ones * 0),
        eps=float(m.eps),
    )


def _flatten(name: str, m: nn.Flatten, src: Shape | None) -> Op:
    if m.start_dim != 1 or m.end_dim != -1:
        raise unsupported_setting(
            name, f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim})", "use nn.Flatten() (start_dim=1)"
        )
    return Flatten(shape=())


_CONVERTERS: dict[type[nn.Module], Converter] = {
    nn.Linear: _linear,
    nn.Conv2d: _conv2d,
    nn.AvgPool2d: _avgpool2d,
    nn.MaxPool2d: _maxpool2d,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.Flatten: _flatten,
    **NEURON_CONVERTERS,
}
