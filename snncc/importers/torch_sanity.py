"""Checks of a torch model that no trained network fails, but a hand-edited or hostile one may:
a module that contains itself, complex tensors, layers whose tensors or settings contradict each
other (a bias of the wrong length, a 3-D Linear weight, stride or kernel 0).  Each would otherwise
end in an unbounded recursion, a silently dropped imaginary part, or a crash deep in a pass.

Codes: IMT015 a module contains itself; IMT016 a layer is malformed; IMT017 a complex tensor.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from snncc.errors import Diagnostic, ImportFailed


def reject_module_cycles(model: nn.Module, source: str | None = None) -> None:
    """ImportFailed (IMT015) if a module is among its own submodules (torch would recurse forever)."""
    path = _cycle(model, "", [])
    if path is not None:
        raise ImportFailed(
            f"module {path or '(the model)'} contains itself (a cycle in the module tree)",
            code="IMT015",
            source=source,
            hint="a torch module cannot be its own child; build the model without adding a module to itself",
        )


def _cycle(module: nn.Module, name: str, ancestors: list[nn.Module]) -> str | None:
    if any(module is a for a in ancestors):
        return name
    ancestors.append(module)
    try:
        for child_name, child in module._modules.items():
            if child is not None:
                found = _cycle(child, f"{name}.{child_name}" if name else child_name, ancestors)
                if found is not None:
                    return found
    finally:
        ancestors.pop()
    return None


def layer_problems(name: str, module: nn.Module) -> list[Diagnostic]:
    """Complex tensors and contradictory settings of one layer, each as a diagnostic naming it."""
    problems = [
        Diagnostic(
            "error",
            "IMT017",
            f"tensor {tensor_name!r} is complex ({tensor.dtype}); snncc would drop its imaginary part",
            node=name,
            hint="chips compute with real numbers: train a real-valued model",
        )
        for tensor_name, tensor in _own_tensors(module)
        if tensor.is_complex()
    ]
    if problems:
        return problems
    message = _malformed(module)
    if message is not None:
        problems.append(
            Diagnostic(
                "error",
                "IMT016",
                f"malformed {type(module).__name__}: {message}",
                node=name,
                hint="torch itself cannot run this layer; rebuild it with its constructor (the file was edited)",
            )
        )
    return problems


def _own_tensors(module: nn.Module) -> Iterator[tuple[str, torch.Tensor]]:
    yield from module.named_parameters(recurse=False)
    yield from ((n, b) for n, b in module.named_buffers(recurse=False) if b is not None)


def _malformed(m: nn.Module) -> str | None:
    if isinstance(m, nn.Linear):
        return _weight_and_bias(m, 2) or (
            None
            if m.weight.shape[1] == m.in_features
            else f"weight {tuple(m.weight.shape)} but in_features={m.in_features}"
        )
    if isinstance(m, nn.Conv2d):
        return (
            _weight_and_bias(m, 4)
            or _at_least("stride", m.stride, 1)
            or _at_least("dilation", m.dilation, 1)
            or (None if isinstance(m.padding, str) else _at_least("padding", m.padding, 0))
            or _at_least("kernel_size", tuple(m.weight.shape[2:]), 1)
            or (
                None
                if m.groups >= 1 and m.weight.shape[1] * m.groups == m.in_channels
                else f"weight {tuple(m.weight.shape)} with groups={m.groups} but in_channels={m.in_channels}"
            )
        )
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        kernel = _pair(m.kernel_size)
        stride = _pair(m.stride or m.kernel_size)
        padding = _pair(m.padding)
        problem = (
            _at_least("kernel_size", kernel, 1) or _at_least("stride", stride, 1) or _at_least("padding", padding, 0)
        )
        if problem is None and any(2 * p > k for p, k in zip(padding, kernel, strict=True)):
            problem = f"padding {padding} is more than half the kernel {kernel}"
        return problem
    if isinstance(m, nn.modules.batchnorm._BatchNorm):
        sizes = {n: tuple(t.shape) for n, t in _own_tensors(m) if n != "num_batches_tracked"}
        wrong = [f"{n} {s}" for n, s in sizes.items() if s != (m.num_features,)]
        return f"{', '.join(wrong)} but num_features={m.num_features}" if wrong else None
    return None


def _weight_and_bias(m: nn.Module, rank: int) -> str | None:
    weight, bias = m.weight, m.bias
    if weight.dim() != rank:
        return f"weight has {weight.dim()} dimensions {tuple(weight.shape)}, expected {rank}"
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        return f"bias {tuple(bias.shape)} does not match the {weight.shape[0]} outputs of weight {tuple(weight.shape)}"
    return None


def _at_least(field: str, values: object, low: int) -> str | None:
    values = _pair(values)
    return None if all(v >= low for v in values) else f"{field}={values}: each must be at least {low}"


def _pair(value: object) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)  # type: ignore[return-value]


# frameworks whose models snncc reads as their NIR export, not as torch modules: package -> how to export
NIR_ONLY = {
    "norse": (
        "norse.torch.to_nir(model, sample_input) and nir.write('model.nir', graph); then "
        "`snncc compile model.nir --nir-from norse --dt 1e-3` (norse's default dt)"
    ),
    "sinabs": "sinabs.nir.to_nir(model, sample_input) and nir.write('model.nir', graph); then `snncc compile model.nir --dt 1`",
    "rockpool": (
        "rockpool.nn.modules.torch.nir.to_nir(model) and nir.write('model.nir', graph); then `snncc compile model.nir`"
    ),
}


def reject_nir_only_frameworks(model: nn.Module, source: str | None = None) -> None:
    """ImportFailed (IMT018) naming the modules of a framework snncc reads through NIR only (norse,
    sinabs, rockpool), with that framework's export: tracing their cells' state handling would
    otherwise end in hundreds of unsupported-operation errors about code the user never wrote."""
    found: dict[str, list[str]] = {}
    for name, module in model.named_modules():
        package = type(module).__module__.split(".")[0]
        if package in NIR_ONLY:
            found.setdefault(package, []).append(f"{name or '(the model)'} ({type(module).__name__})")
    if found:
        package, modules = next(iter(found.items()))
        shown = ", ".join(modules[:3]) + (f" and {len(modules) - 3} more" if len(modules) > 3 else "")
        raise ImportFailed(
            f"the model is built from {package} modules: {shown}; snncc reads {package} models as NIR graphs, "
            "not as torch modules",
            code="IMT018",
            source=source,
            hint=f"export it: {NIR_ONLY[package]}",
        )
