"""snncc: a deployment compiler for spiking neural networks.

Import order is one way: snncc.errors <- snncc.ir <- snncc.backends <- the front end.
The public API below is loaded lazily so that ``import snncc`` (and ``import snncc.ir``) stays
light: ``dir(snncc)`` and ``help(snncc)`` list it, and each name imports its module on first use.

    compile_module(model, x, y, options, calib=x_cal)   a torch module in memory, data as arrays
    compile_model("model.pt", CompileOptions(target="loihi2", data=DataOptions(file="d.npz")))
    check_model("model.pt", options)                    `snncc check`: import, quantize, map
    simulate_artifact(out_dir, data=..., backend="lava")
    export_netx(out_dir, "model.net"), export_nir(out_dir, "model.nir")
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "CompileOptions": ("snncc.options", "CompileOptions"),
    # its groups: CompileOptions(model=ModelOptions(steps=8), verification=VerificationOptions(...))
    **{
        group: ("snncc.options", group)
        for group in (
            "ModelOptions",
            "DataOptions",
            "QuantizationOptions",
            "VerificationOptions",
            "ParallelOptions",
            "OutputOptions",
        )
    },
    "compile_module": ("snncc.in_memory", "compile_module"),
    "compile_model": ("snncc.compile", "compile_model"),
    "check_model": ("snncc.compile", "preflight"),
    "write_report": ("snncc.report", "write_report"),
    "simulate_artifact": ("snncc.simulate", "simulate_artifact"),
    "export_netx": ("snncc.export", "export_netx"),
    "export_nir": ("snncc.export", "export_nir"),
    "load_target": ("snncc.target", "load_target"),
    "CompileResult": ("snncc.result", "CompileResult"),
    "SnnccError": ("snncc.errors", "SnnccError"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> object:  # the public names, imported on first use
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module 'snncc' has no attribute {name!r}")


def __dir__() -> list[str]:  # the public API, not the module's imports: what tab completion offers
    return sorted(__all__)
