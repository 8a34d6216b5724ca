"""The snncc command line.  Exit codes: 0 ok, 1 verification failed, 2 bad input, 3 internal error."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import signal
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from snncc import __version__
from snncc.errors import (
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_VERIFICATION_FAILED,
    DataError,
    ModelLoadError,
    ResourceLimitError,
    SnnccError,
)
from snncc.limits import Limits, set_limits
from snncc.progress import Progress, counter

EPILOG = "exit codes: 0 success, 1 verification below tolerance, 2 bad input, 3 internal error"
EXIT_STDOUT_CLOSED = 141  # 128 + SIGPIPE, as a shell tool killed by it


# --- options several commands share (argparse parents: one definition, one help text) ----------


def _parent() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(add_help=False)


def _common_options() -> argparse.ArgumentParser:
    """compile, check, convert, simulate: progress and input limits."""
    p = _parent()
    p.add_argument("-q", "--quiet", action="store_true", help="no progress messages")
    _add_limit_options(p)
    return p


def _json_option() -> argparse.ArgumentParser:
    """compile, check, convert, targets: the result as one JSON object on stdout."""
    p = _parent()
    p.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON object on stdout and nothing else there (progress stays on stderr); "
        'an error prints {"error": ...} and exits 2 as usual',
    )
    return p


def _target_option() -> argparse.ArgumentParser:
    p = _parent()
    p.add_argument("--target", default="loihi", help="chip to deploy to (see `snncc targets`); default loihi")
    return p


def _deploy_options() -> argparse.ArgumentParser:
    """compile and convert: where the deployment goes and how it is verified."""
    p = _parent()
    p.add_argument("--out", type=Path, required=True, help="output directory (must not exist unless --force)")
    p.add_argument("--force", action="store_true", help="replace an existing output directory")
    p.add_argument("--samples", type=int, help="verify on the first N samples only")
    p.add_argument("--lava-samples", type=int, default=8, help="samples to run on the --backend simulator (default 8)")
    p.add_argument(
        "--min-agreement",
        type=float,
        default=0.95,
        help="minimum fraction of samples on which the deployed network decides as the float model does (argmax, "
        "the first class on a tie) to pass (default 0.95)",
    )
    p.add_argument(
        "--max-accuracy-drop",
        type=float,
        default=1.0,
        metavar="PP",
        help="with labels: fail when the deployed accuracy is more than PP percentage points below float's (default 1)",
    )
    return p


def _model_options() -> argparse.ArgumentParser:
    """compile and check: the model and how to read it."""
    p = _parent()
    p.add_argument("model", type=Path, help="trained model: .pt (torch.save of a module or a state dict) or .nir")
    p.add_argument(
        "--data", type=Path, help=".npz with x (N, *input_shape) and optional labels y; default: bundled digits"
    )
    p.add_argument("--steps", type=int, help="time steps per sample (taken from an snncc.nn.SNN model if omitted)")
    p.add_argument(
        "--readout", choices=["mean", "sum", "last"], help="output readout for models that are not snncc.nn.SNN"
    )
    p.add_argument("--input-encoding", choices=["graded", "bitplane"], help="how analog input reaches the chip")
    p.add_argument(
        "--allow-pickle",
        action="store_true",
        help="trust the model file: allow it to run code while loading (only for files you trust)",
    )
    p.add_argument(
        "--arch",
        metavar="MODULE:CLASS",
        help="the model's class for a state-dict checkpoint (module or path/to/file.py, then the class name), "
        "built with no arguments; imports that module, running its code: passing --arch is the opt-in",
    )
    p.add_argument("--dt", type=float, help="time step in seconds for NIR models (NIR leaves it to the backend)")
    p.add_argument(
        "--nir-from",
        choices=["norse"],
        help="the tool that wrote a NIR file whose fields depart from NIR's equations: norse "
        "(norse 1.1.0's to_nir: tau written as dt*tau, LIFCell's current jump, IAFCell's per-step sum); "
        "give --dt as norse's dt",
    )
    p.add_argument("--strict", action="store_true", help="treat warnings (e.g. saturation) as errors")
    p.add_argument(
        "--approximate",
        action="append",
        default=[],
        metavar="NAME",
        help="accept a named approximation where the target lacks a neuron feature (repeatable): "
        "clif-as-hard-reset, clif-as-soft-reset, soft-reset-as-hard, drop-initial-potential, drop-floor; "
        "maxpool-after-neuron (calibrated; or maxpool-as-avgpool, costly) for max pooling of analog values",
    )
    p.add_argument(
        "--dump-after",
        action="append",
        default=[],
        metavar="PASS",
        help="print the graph IR after this pass to stderr (repeatable): approximate, canonicalize, "
        "approximate-canonical, align-depths, calibrate, quantize, map (and verify, energy, lava for compile)",
    )
    return p


def _add_limit_options(p: argparse.ArgumentParser) -> None:
    defaults = Limits()
    p.add_argument(
        "--max-elements",
        type=int,
        default=defaults.max_elements,
        metavar="N",
        help="the largest array an input file may declare, and the most weights and neurons a model may have "
        f"(protects against crafted files; default {defaults.max_elements:,})",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=defaults.max_steps,
        metavar="N",
        help=f"the most time steps per sample (default {defaults.max_steps:,})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snncc", description="Deployment compiler for spiking neural networks.", epilog=EPILOG
    )
    parser.add_argument("--version", action="version", version=f"snncc {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    common, json_option, target, deploy, model = (
        _common_options(),
        _json_option(),
        _target_option(),
        _deploy_options(),
        _model_options(),
    )
    c = sub.add_parser(
        "compile",
        help="import, quantize, map, simulate, verify and report",
        epilog=EPILOG,
        parents=[target, model, deploy, json_option, common],
    )
    c.add_argument(
        "--backend",
        choices=["refsim", "lava", "xylosim"],
        default="refsim",
        help="lava (Loihi targets) or xylosim (xylo): also run that simulator and compare bit for bit",
    )
    c.add_argument(
        "--calib",
        type=Path,
        help=".npz (or x.npy directory) of samples to calibrate the quantization on; default: the first quarter "
        "of --data (at most 256 samples), which is then not scored",
    )
    c.add_argument("--workers", type=int, default=1, help="verify in N local processes (default 1)")
    c.add_argument("--dask-scheduler", metavar="ADDRESS", help="verify on a Dask cluster (tcp://host:8786)")
    c.add_argument(
        "--netx-compatible",
        action="store_true",
        help="quantize within what lava-dl's netx format holds (no weight exponents, bias exponent 6), "
        "so that `snncc export --netx` can write the deployment",
    )
    c.add_argument("--device", help="run the reference backend with torch on this device (cuda, cpu); default numpy")
    c.add_argument(
        "--energy-check",
        choices=["sanafe"],
        help="sanafe: also run the placed network in SANA-FE 2.2.9's Loihi model and put its energy and time per "
        "step beside snncc's in the report (Loihi 1 targets, bit-plane input, du = 4095 layers)",
    )
    c.add_argument("--energy-check-samples", type=int, default=8, help="samples for --energy-check (default 8)")
    c.add_argument(
        "--neurobench",
        action="store_true",
        help="also print NeuroBench's metrics of the float model and the integer network (report.json always has them)",
    )

    sub.add_parser(
        "check",
        help="preflight: import, quantize and check the design rules, without simulating",
        epilog=EPILOG,
        parents=[target, model, json_option, common],
    )

    s = sub.add_parser(
        "simulate",
        help="run a compiled artifact (an --out directory) on a backend",
        epilog=EPILOG,
        parents=[json_option, common],
    )
    s.add_argument("artifact", type=Path, help="directory written by `snncc compile`")
    s.add_argument(
        "--data",
        type=Path,
        help=".npz with x (and y); default: the data the artifact was compiled with (its scored rows), "
        "as report.json records it (file and sha256)",
    )
    s.add_argument(
        "--backend",
        choices=["refsim", "lava", "nengo-loihi", "xylosim"],
        default="refsim",
        help="nengo-loihi: nengo-loihi 1.1.0's Loihi 1 chip emulator (a second oracle; Loihi 1 artifacts); "
        "xylosim: rockpool's XyloSim (xylo artifacts)",
    )
    s.add_argument("--samples", type=int, help="run the first N samples only")
    s.add_argument("--device", help="refsim with torch on this device (cuda, cpu); default numpy")

    e = sub.add_parser(
        "export", help="write a model or a compiled artifact in another format", epilog=EPILOG, parents=[json_option]
    )
    e.add_argument("source", type=Path, help="a compiled artifact (--out directory of `snncc compile`)")
    fmt = e.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--nir", type=Path, metavar="FILE.nir", help="the float graph as a NIR graph")
    fmt.add_argument("--netx", type=Path, metavar="FILE.net", help="the deployed integer network as lava-dl netx HDF5")
    e.add_argument("--force", action="store_true", help="replace an existing output file")
    e.add_argument("-q", "--quiet", action="store_true", help="no progress messages")

    v = sub.add_parser(
        "convert",
        help="convert a trained ANN (.onnx) to an SNN, then compile it like `compile`",
        epilog=EPILOG,
        parents=[target, deploy, json_option, common],
    )
    v.add_argument("model", type=Path, help="the trained ANN as an .onnx file (ReLU network, average pooling)")
    v.add_argument("--calib", type=Path, required=True, help=".npz with x (N, *input_shape): calibration inputs")
    v.add_argument("--steps", type=int, required=True, help="time steps per sample")
    v.add_argument("--data", type=Path, help=".npz with x and labels y to test on; default: the calibration data")
    v.add_argument(
        "--percentile",
        type=float,
        default=99.9,
        help="threshold = this percentile of each layer's positive ANN activations (100: the maximum); default 99.9",
    )
    v.add_argument(
        "--shift",
        choices=["threshold-half", "initial-potential", "none"],
        default="threshold-half",
        help="round-to-nearest: a bias of threshold/(2T) per step, or an initial potential threshold/2 (targets "
        "with initial potentials); default threshold-half",
    )
    v.add_argument(
        "--reset",
        choices=["subtract", "zero"],
        help="neuron reset; default: subtract (soft) if the target has it, else zero (Loihi 1)",
    )
    v.add_argument(
        "--calibrate-bias",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="layer-wise bias correction on the calibration data (default on)",
    )
    v.add_argument(
        "--calibrate-potential",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="layer-wise initial-potential correction (targets with initial potentials; default off)",
    )
    v.add_argument(
        "--approximate",
        action="append",
        default=[],
        metavar="NAME",
        help="accept a named approximation of an ANN layer that has no exact spiking form (repeatable): "
        "maxpool-as-avgpool (each MaxPool becomes average pooling over the same window; the report compares "
        "with the real ANN)",
    )
    v.add_argument(
        "--backend", choices=["refsim", "lava"], default="refsim", help="lava: also run Lava and compare bit for bit"
    )

    f = sub.add_parser(
        "finetune",
        help="adapt a trained model to the target's deployable form by brief training with its quantization, "
        "and write a model that compile deploys",
        epilog=EPILOG,
        parents=[target, common],
    )
    f.add_argument("model", type=Path, help="the trained model: .pt (with --arch for a state dict) or .nir")
    f.add_argument("--data", type=Path, required=True, help="training data: .npz with x (N, *input_shape) and labels y")
    f.add_argument(
        "--test", type=Path, help=".npz with x and y to score on; default: the last fifth of --data, not trained on"
    )
    f.add_argument("--out", type=Path, required=True, help="output directory (must not exist unless --force)")
    f.add_argument("--force", action="store_true", help="replace an existing output directory")
    f.add_argument("--arch", metavar="MODULE:CLASS", help="the model's class for a state-dict checkpoint (as compile)")
    f.add_argument("--allow-pickle", action="store_true", help="trust the model file to run code while loading")
    f.add_argument("--steps", type=int, help="time steps per sample, where the model does not fix them")
    f.add_argument("--readout", choices=["mean", "sum", "last"], help="output readout, where the model does not fix it")
    f.add_argument("--dt", type=float, help="time step in seconds for NIR models")
    f.add_argument("--nir-from", choices=["norse"], help="as compile's --nir-from")
    f.add_argument("--seconds", type=float, default=90.0, help="training budget in CPU seconds (default 90)")
    f.add_argument("--epochs", type=int, default=30, help="at most this many epochs (default 30)")
    f.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate (default 0.002)")
    f.add_argument("--seed", type=int, default=0, help="random seed of the sample order (default 0)")
    f.add_argument("--json", action="store_true", help="print finetune.json's content on stdout and nothing else")

    t = sub.add_parser("targets", help="list the available targets with their key limits", parents=[json_option])
    t.add_argument("-q", "--quiet", action="store_true", help=argparse.SUPPRESS)

    sub.add_parser("errors", help="list the diagnostic codes snncc reports, with exit status and meaning")
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (`timeout`, `kill`, a CI cancel, a closed terminal), handled as Ctrl-C is:
    a KeyboardInterrupt, so that every cleanup that runs on Ctrl-C runs on these too."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_received: list[int] = []  # signals raised as Terminated: code that swallowed one (an import) must not go on


def _terminate(signum: int, _frame: object) -> None:
    _received.append(signum)
    raise Terminated(signum)  # the clean-up itself holds signals back (snncc/output_dir.py)


def _still_running() -> None:
    """Raise again a signal that a library swallowed (torch imports sympy inside try/except blocks)."""
    if _received:
        raise Terminated(_received[0])


def _checked(say):
    """The progress callback, also a point where a swallowed signal is raised again."""

    def report(message: str) -> None:
        _still_running()
        say(message)

    def count(done: int, total: int) -> None:  # keeps the Progress's bar (progress.counter looks for it)
        _still_running()
        counter(say)(done, total)

    report.count = count  # type: ignore[attr-defined]
    return report


def main(argv: list[str] | None = None) -> int:
    with _signals_as_interrupts():  # before anything that could create a file
        if sys.stdout is None:  # started with stdout closed (`snncc ... >&-`): as if its reader had gone
            print("snncc: standard output is closed; nothing was done", file=sys.stderr)
            return EXIT_STDOUT_CLOSED
        try:
            args = _parse(argv)
            return _run(args)
        except BrokenPipeError:  # stdout piped into a reader that stopped (`| head`): not an error of ours
            with contextlib.suppress(OSError):  # so that the exit flush cannot fail again
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_STDOUT_CLOSED
        except KeyboardInterrupt as exc:  # a signal while an error or the result was being printed
            return _interrupted(exc)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    """The options; a command line that does not parse is argparse's usage message on stderr and,
    with --json, also the one error object a script reads on stdout."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None) and "--json" in (sys.argv[1:] if argv is None else argv):
            err = DataError("the command line does not parse (see the usage message)", code="DAT033")
            _failed(err, argparse.Namespace(json=True), quiet=True)
        raise


@contextlib.contextmanager
def _signals_as_interrupts() -> Iterator[None]:
    handled = [s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None]
    try:
        previous = {s: signal.signal(s, _terminate) for s in handled}
    except ValueError:  # not the main thread: signals stay as they are
        previous = {}
    _received.clear()
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _run(args: argparse.Namespace) -> int:
    try:
        set_limits(_limits(args))  # for this command: what input files may declare
        if args.command == "compile":
            return _compile(args)
        if args.command == "targets":
            return _targets(args.json)
        if args.command == "errors":
            return _errors()
        if args.command == "check":
            return _check(args)
        if args.command == "simulate":
            return _simulate(args)
        if args.command == "export":
            return _export(args)
        if args.command == "convert":
            return _convert(args)
        if args.command == "finetune":
            return _finetune(args)
    except SnnccError as err:
        return _failed(err, args)
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except SystemExit as exc:  # snncc never exits from inside: the model's own code (--arch, a pickle) did
        err = ModelLoadError(
            f"the model's own code exited (SystemExit {exc.code!r}) while snncc ran it; nothing was written",
            code="LOD018",
            hint="a model module must not call sys.exit() or parse the command line on import, construction "
            "or in forward(); keep scripts under `if __name__ == '__main__':`",
        )
        return _failed(err, args)
    except BrokenPipeError:  # main() exits 141
        raise
    except MemoryError:  # an input larger than the estimates before each allocation foresaw
        err = ResourceLimitError(
            "snncc ran out of memory; nothing was written",
            code="LIM004",
            hint="run fewer --samples, or a smaller --max-elements / --max-steps to be refused earlier",
        )
        return _failed(err, args)
    except Exception:  # an snncc bug, not a user error: show everything
        traceback.print_exc()
        print("snncc: internal error (a bug); please report it with the traceback above", file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    return EXIT_OK


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Ctrl-C, SIGTERM, SIGHUP: every temporary file was removed on the way out (snncc/output_dir.py)."""
    signum = getattr(exc, "signum", signal.SIGINT)
    print(f"snncc: interrupted ({signal.Signals(signum).name}); no partial output was left", file=sys.stderr)
    return 128 + signum


def _failed(err: SnnccError, args: argparse.Namespace, quiet: bool = False) -> int:
    """The error on stderr as always; with --json also as {"error": ...} on stdout, so a script reads one object."""
    if not quiet:
        print(err.render(), file=sys.stderr)
    if getattr(args, "json", False):
        diagnostics = [dataclasses.asdict(d) for d in err.diagnostics]
        _print_json({"error": {"code": err.code, "exit_code": err.exit_code, "diagnostics": diagnostics}})
    return err.exit_code


def _limits(args: argparse.Namespace) -> Limits:
    limits = Limits(
        max_elements=getattr(args, "max_elements", Limits.max_elements),
        max_steps=getattr(args, "max_steps", Limits.max_steps),
    )
    if limits.max_elements < 1 or limits.max_steps < 1:
        raise ResourceLimitError("--max-elements and --max-steps must be at least 1", code="LIM003")
    return limits


def _compile(args: argparse.Namespace) -> int:
    from snncc.compile import CompileOptions, compile_model, write_report
    from snncc.option_checks import check_accuracy_drop, check_agreement, check_parallel_options
    from snncc.output_dir import check_output_dir
    from snncc.pipeline import check_dump_after

    bit_exact = "the lava pass runs only with a bit-exact --backend (lava, xylosim)"
    check_dump_after(args.dump_after, {} if args.backend != "refsim" else {"lava": bit_exact})
    _check_positive(args.steps, "--steps")
    _check_positive(args.samples, "--samples")
    _check_positive(args.lava_samples, "--lava-samples")
    _check_positive(args.energy_check_samples, "--energy-check-samples")
    check_parallel_options(args.workers, args.dask_scheduler)
    check_agreement(args.min_agreement)
    check_accuracy_drop(args.max_accuracy_drop)
    check_output_dir(args.out, args.force, _inputs(args))  # fail before any work
    options = CompileOptions.of(  # the flags' names, each put in its group
        target=args.target,
        data=args.data,
        calib=args.calib,
        steps=args.steps,
        readout=args.readout,
        input_encoding=args.input_encoding,
        allow_pickle=args.allow_pickle,
        arch=args.arch,
        dt=args.dt,
        nir_from=args.nir_from,
        samples=args.samples,
        lava_samples=args.lava_samples if args.backend != "refsim" else 0,
        oracle_backend=args.backend,
        workers=args.workers,
        dask_scheduler=args.dask_scheduler,
        device=args.device,
        netx_compatible=args.netx_compatible,
        dump_after=tuple(args.dump_after),
        min_output_agreement=args.min_agreement,
        max_accuracy_drop=args.max_accuracy_drop,
        strict=args.strict,
        approximations=tuple(args.approximate),
    )
    with Progress(args.quiet) as say:
        say = _checked(say)
        result = compile_model(args.model, options, progress=say)
        sections = []
        if args.energy_check == "sanafe":
            from snncc import sanafe_check
            from snncc.report import ReportSection

            say(f"running SANA-FE on {args.energy_check_samples} samples")
            check = sanafe_check.compare(result, args.energy_check_samples)
            sections.append(ReportSection("sanafe", check, sanafe_check.markdown(check)))
    _still_running()
    report = write_report(result, args.out, force=args.force, inputs=_inputs(args), sections=sections)
    for d in result.diagnostics:  # also in report.md: warnings the user should see at once
        print(d.render(), file=sys.stderr)
    if args.json:
        _print_json(report["summary"])
    else:
        from snncc.report import verdict_details

        print(
            f"{_shown(args.out)}/report.md: {'PASS' if result.verification_passed else 'FAIL'} — {verdict_details(report)} "
            f"Target {report['target']['name']}, {report['cores']['used']} cores, "
            f"{report['energy']['total_pj'] / 1e6:.3f} uJ/sample"
            + ("" if result.lava is None else f", {result.lava['backend']} bit-exact: {result.lava['bit_exact']}")
        )
    if args.neurobench and not args.json:  # --json prints one object: the metrics are in report.json
        from snncc.neurobench import summary

        print(summary(report["neurobench"]))
    if not result.verification_passed:
        print("snncc: verification below tolerance (see report.md)", file=sys.stderr)
        return EXIT_VERIFICATION_FAILED
    return EXIT_OK


def _check(args: argparse.Namespace) -> int:
    from snncc.compile import CompileOptions, preflight
    from snncc.pipeline import check_dump_after

    after_check = "`snncc check` stops before this pass; `snncc compile` runs it"
    check_dump_after(args.dump_after, dict.fromkeys(("verify", "energy", "lava"), after_check))
    _check_positive(args.steps, "--steps")
    options = CompileOptions.of(  # the flags' names, each put in its group
        target=args.target,
        data=args.data,
        steps=args.steps,
        readout=args.readout,
        input_encoding=args.input_encoding,
        allow_pickle=args.allow_pickle,
        arch=args.arch,
        dt=args.dt,
        nir_from=args.nir_from,
        strict=args.strict,
        approximations=tuple(args.approximate),
        dump_after=tuple(args.dump_after),
    )
    with Progress(args.quiet) as say:
        result = preflight(args.model, options, progress=_checked(say))
    _still_running()
    for d in result.diagnostics:
        print(d.render(), file=sys.stderr)
    p = result.placement.to_dict()
    neurons = sum(c["neurons"] for c in p["cores"])
    if args.json:
        _print_json(
            {
                "model": str(args.model),
                "target": result.target.name,
                "fits": True,  # a design that does not fit is an error (exit 2)
                "cores_used": p["cores_used"],
                "cores_available": result.target.total_cores,
                "lower_bound_cores": p["lower_bound_cores"],
                "neurons": neurons,
                "layers": p["layers"],
                "warnings": [d.render() for d in result.diagnostics],
            }
        )
        return EXIT_OK
    print(
        f"{args.model}: fits {result.target.name}: {p['cores_used']} of {result.target.total_cores} cores "
        f"(lower bound {p['lower_bound_cores']}), {neurons} neurons" + _split_note(result.int_graph)
    )
    return EXIT_OK


def _split_note(graph) -> str:
    """'; fan-in split: L into 2 partial sums' where a layer was wider than a core (snncc/mapping/split.py)."""
    from snncc.mapping.split import splits_of

    splits = splits_of(graph)
    return "".join(f"; fan-in of {layer} split into {len(parts)} partial sums" for layer, parts in splits.items())


def _simulate(args: argparse.Namespace) -> int:
    import json

    from snncc.simulate import simulate_artifact

    _check_positive(args.samples, "--samples")
    with Progress(args.quiet) as say:
        summary = simulate_artifact(
            args.artifact, data=args.data, backend=args.backend, samples=args.samples, device=args.device, say=say
        )
    print(json.dumps(summary, indent=1))
    if "bit_exact_with_refsim" in summary:  # lava, nengo-loihi: say plainly whether it ran the specified network
        exact = summary["bit_exact_with_refsim"]
        name = {"lava": "Lava", "nengo-loihi": "nengo-loihi's emulator"}[summary["backend"]]
        print(
            f"{name} {'matched' if exact else 'DID NOT match'} the reference backend bit for bit "
            f"({', '.join(summary['compared_with_refsim'])} of every layer at every step, {summary['samples']} samples; "
            f"compared with {summary['semantics']})"
            + ("" if exact else f"; first mismatch: {summary['first_mismatch']}"),
            file=sys.stderr,
        )
        if not exact:
            return EXIT_VERIFICATION_FAILED
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from snncc.export import export_netx, export_nir

    written = (
        export_nir(args.source, args.nir, force=args.force)
        if args.nir
        else export_netx(args.source, args.netx, force=args.force)
    )
    if args.json:
        _print_json({"written": str(written), "format": "nir" if args.nir else "netx"})
    else:
        print(_shown(written))
    return EXIT_OK


def _convert(args: argparse.Namespace) -> int:
    from snncc.option_checks import check_accuracy_drop, check_agreement
    from snncc.output_dir import atomic_output_dir, check_output_dir

    _check_positive(args.steps, "--steps")
    _check_positive(args.samples, "--samples")
    _check_positive(args.lava_samples, "--lava-samples")
    check_agreement(args.min_agreement)
    check_accuracy_drop(args.max_accuracy_drop)
    check_output_dir(args.out, args.force, _inputs(args))  # fail before any work

    from snncc.convert.run import ConvertRequest, run_convert
    from snncc.report import write_outputs

    request = ConvertRequest(
        model=args.model,
        calib=args.calib,
        steps=args.steps,
        target=args.target,
        data=args.data,
        percentile=args.percentile,
        shift=args.shift,
        reset=args.reset,
        calibrate_bias=args.calibrate_bias,
        calibrate_potential=args.calibrate_potential,
        samples=args.samples,
        min_agreement=args.min_agreement,
        max_accuracy_drop=args.max_accuracy_drop,
        approximations=tuple(args.approximate),
        lava_samples=args.lava_samples if args.backend == "lava" else 0,
    )
    with Progress(args.quiet) as say:
        result, _, section = run_convert(request, _checked(say))
    _still_running()
    with atomic_output_dir(args.out, force=args.force, inputs=_inputs(args)) as tmp:
        report = write_outputs(result, tmp, [section])
    a = report["conversion"]["accuracy"]
    if args.json:
        _print_json(report["summary"])
    else:
        print(
            f"{_shown(args.out)}/report.md: target {report['target']['name']}, {report['cores']['used']} cores, "
            f"accuracy ANN {_fmt(a['ann'])}, SNN float {_fmt(a['snn_float'])}, deployed {_fmt(a['deployed'])}, "
            f"same decision {_fmt(report['verification']['output_agreement'])}: "
            f"{'PASS' if result.verification_passed else 'FAIL'}"
            + ("" if result.lava is None else f", Lava bit-exact: {result.lava['bit_exact']}")
        )
    if not result.verification_passed:
        print("snncc: verification below tolerance (see report.md)", file=sys.stderr)
        return EXIT_VERIFICATION_FAILED
    return EXIT_OK


def _finetune(args: argparse.Namespace) -> int:
    from snncc.finetune.run import FinetuneRequest, run_finetune
    from snncc.finetune.train import Schedule
    from snncc.output_dir import check_output_dir

    _check_positive(args.steps, "--steps")
    _check_positive(args.epochs, "--epochs")
    if not (args.seconds > 0 and args.lr > 0):
        from snncc.errors import DataError

        raise DataError("--seconds and --lr must be positive", code="DAT012")
    check_output_dir(args.out, args.force, _inputs(args))  # fail before any work
    request = FinetuneRequest(
        model=args.model,
        target=args.target,
        data=args.data,
        out=args.out,
        test=args.test,
        arch=args.arch,
        allow_pickle=args.allow_pickle,
        steps=args.steps,
        readout=args.readout,
        dt=args.dt,
        nir_from=args.nir_from,
        force=args.force,
        schedule=Schedule(seconds=args.seconds, max_epochs=args.epochs, lr=args.lr, seed=args.seed),
    )
    with Progress(args.quiet) as say:
        report = run_finetune(request, say)
    if args.json:
        _print_json(report)
        return EXIT_OK
    a = report["accuracy"]
    print(
        f"{args.out}/model.nir: float before {_fmt(a['float_before'])}, deployable form before fine-tuning "
        f"{_fmt(a['deployable_form_before'])}, float after {_fmt(a['float_after'])}, deployed on "
        f"{report['target']} {_fmt(a['deployed'])} ({report['training']['cpu_seconds']} s CPU); deploy it: "
        f"{report['compile']}"
    )
    return EXIT_OK


def _targets(as_json: bool) -> int:
    from snncc.target import load_target
    from snncc.target_loader import available_targets

    targets = [load_target(name) for name in available_targets()]
    if as_json:
        _print_json({"targets": [_target_summary(t) for t in targets]})  # one object, as every command prints
        return EXIT_OK
    print(f"{'name':<10} {'cores':>8} {'neurons/core':>13} {'fan-in/core':>12} {'synapse bits/core':>18}  title")
    for t in targets:
        pc = t.per_core
        print(
            f"{t.name:<10} {t.total_cores:>8} {int(pc.neurons):>13} {int(pc.fan_in_axons):>12} "
            f"{int(pc.synapse_memory_bits):>18}  {t.title}"
        )
    return EXIT_OK


def _target_summary(t: Any) -> dict[str, Any]:
    pc = t.per_core
    return {
        "name": t.name,
        "title": t.title,
        "cores": t.total_cores,
        "chips": int(t.chips),
        "cores_per_chip": int(t.cores_per_chip),
        "per_core": {
            "neurons": int(pc.neurons),
            "fan_in_axons": int(pc.fan_in_axons),
            "fan_out_axons": int(pc.fan_out_axons),
            "synapse_memory_bits": int(pc.synapse_memory_bits),
        },
        "input_encodings": list(t.input_encodings),
        "backends": list(t.backends),
    }


def _print_json(data: Any) -> None:
    from snncc.report import to_json

    print(to_json(data))


def _errors() -> int:
    from snncc.error_codes import catalog

    print(f"{'code':<7} {'exit':>4}  {'class':<19} meaning")
    for row in catalog():
        exit_status = f"{row.exit_status}w" if row.warning else str(row.exit_status)
        print(f"{row.code:<7} {exit_status:>4}  {row.error_class:<19} {row.meaning}")
    print("\nexit: the status of a compile that stops on the code; 0w: a warning, reported while the compile goes on")
    print("(--strict turns warnings into STR001, exit 2)")
    return EXIT_OK


def _check_positive(value: int | None, flag: str) -> None:
    if value is not None and value < 1:
        raise DataError(f"{flag} must be at least 1, got {value}", code="DAT012")


def _inputs(args: argparse.Namespace) -> list[Path]:
    """The files a command reads: its output directory must not hold them (--force would delete them)."""
    named = [getattr(args, key, None) for key in ("model", "data", "calib", "test", "target")]
    arch = getattr(args, "arch", None)
    if arch and ":" in arch:
        named.append(arch.rpartition(":")[0])
    return [Path(p) for p in named if p]


def _shown(path: Path) -> str:
    """A path as printed: control characters escaped (a name can hold an ANSI escape or a CR)."""
    from snncc.text import escape_controls

    return escape_controls(str(path))


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


if __name__ == "__main__":
    sys.exit(main())
