"""One error hierarchy for snncc.

Every user-facing failure is an :class:`SnnccError` carrying one or more
:class:`Diagnostic` records.  The CLI prints them (no traceback) and exits with
``err.exit_code``.  Code never matches on message text: it matches on the class
or on ``Diagnostic.code``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from snncc.text import escape_controls

Severity = Literal["error", "warning"]

EXIT_OK = 0
EXIT_VERIFICATION_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERNAL_ERROR = 3


@dataclass(frozen=True)
class Diagnostic:
    """One finding, located as precisely as we can (graph node, source path, file)."""

    severity: Severity
    code: str  # stable, e.g. "MAP002"
    message: str
    node: str | None = None  # graph node name (dotted source path, e.g. "features.0")
    source: str | None = None  # file path, YAML path ("resources.per_core.neurons"), torch qualname
    hint: str | None = None  # what the user can do about it

    def render(self) -> str:
        # names and messages quote input files: no terminal escape or stray line may pass through
        where = ""
        if self.node is not None:
            where += f" layer '{escape_controls(self.node)}'"
        if self.source is not None:
            where += f" ({escape_controls(self.source)})"
        text = f"{self.severity}[{self.code}]{where}: {escape_controls(self.message, keep=chr(10))}"
        if self.hint:
            text += f"\n  hint: {escape_controls(self.hint, keep=chr(10))}"
        return text


class SnnccError(Exception):
    """Base class: a failure that is reported to the user without a traceback."""

    exit_code = EXIT_BAD_INPUT
    default_code = "SNN000"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        node: str | None = None,
        source: str | None = None,
        hint: str | None = None,
        diagnostics: tuple[Diagnostic, ...] | list[Diagnostic] = (),
    ) -> None:
        diags = list(diagnostics)
        if message is not None:
            diags.insert(
                0,
                Diagnostic(
                    "error",
                    code or self.default_code,
                    message,
                    node=node,
                    source=source,
                    hint=hint,
                ),
            )
        if not diags:
            raise ValueError("an SnnccError needs a message or diagnostics")
        self.diagnostics: tuple[Diagnostic, ...] = tuple(diags)
        super().__init__(self.render())

    @property
    def code(self) -> str:
        return self.diagnostics[0].code

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)

    def located(self, source: str) -> SnnccError:
        """The same error with ``source`` (e.g. the model file) filled in where a diagnostic has none."""
        diags = [d if d.source else dataclasses.replace(d, source=source) for d in self.diagnostics]
        located = type(self)(diagnostics=diags)
        located.__cause__ = self.__cause__
        return located


class ModelLoadError(SnnccError):
    """LOD: the model file cannot be read safely (missing, corrupt, untrusted pickle)."""

    default_code = "LOD001"


class ImportFailed(SnnccError):
    """IMT: the model uses layers or settings snncc cannot import (all listed at once)."""

    default_code = "IMT001"


class InvalidGraph(SnnccError):
    """GRF: the graph breaks an IR invariant (dangling edge, shape mismatch, bad dtype)."""

    default_code = "GRF001"


class TargetSpecError(SnnccError):
    """TGT: a target description is malformed or unknown."""

    default_code = "TGT001"


class QuantizationError(SnnccError):
    """QNT: a value cannot be represented in the target's integer formats."""

    default_code = "QNT001"


class MappingError(SnnccError):
    """MAP: the network does not fit the target's cores."""

    default_code = "MAP001"


class BackendError(SnnccError):
    """BKD: an executor is unknown, missing, or failed."""

    default_code = "BKD001"


class DataError(SnnccError):
    """DAT: an input data file is missing, malformed, or does not match the model."""

    default_code = "DAT001"


class OutputError(SnnccError):
    """OUT: the output location cannot be written."""

    default_code = "OUT001"


class ResourceLimitError(SnnccError):
    """LIM: an input declares more than the limits allow (arrays, steps); the hint names the flag."""

    default_code = "LIM001"


class VerificationFailed(SnnccError):
    """VER: the deployed network disagrees with the float model beyond tolerance."""

    exit_code = EXIT_VERIFICATION_FAILED
    default_code = "VER001"


class FinetuneError(SnnccError):
    """FTN: `snncc finetune` cannot adapt this model (no labels, too few samples, a target it cannot train for)."""

    default_code = "FTN001"


class StrictModeError(SnnccError):
    """STR: a warning was raised while ``--strict`` turns warnings into errors."""

    default_code = "STR001"
