"""Progress on stderr: a tqdm bar for counted work when stderr is a terminal, plain lines otherwise.

Plain lines keep logs and CI output readable (no carriage returns); stdout is never written, so
`--json` output stays the only thing there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any


class Progress:
    """Call it with a message (a line "snncc: message"); ``count(done, total)`` for counted work."""

    def __init__(self, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.bars = not quiet and self.stream.isatty()
        self._bar: Any = None  # the tqdm bar of the counted work in progress

    def __call__(self, message: str) -> None:
        self.close()
        if not self.quiet:
            print(f"snncc: {message}", file=self.stream, flush=True)

    def count(self, done: int, total: int) -> None:
        if self.quiet:
            return
        if not self.bars:
            if done > 0:  # a log gets a line per finished batch, not one for the start
                print(f"snncc:   {done}/{total} samples", file=self.stream, flush=True)
            return
        if self._bar is None or self._bar.total != total:
            from tqdm import tqdm

            self.close()  # the first report starts the bar, at its count (the rate counts from there)
            self._bar = tqdm(total=total, initial=done, desc="snncc", unit="sample", file=self.stream)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self.close()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()  # before an error message is printed below a half-drawn bar


def counter(say: Callable[[str], None]) -> Callable[[int, int], None]:
    """How ``say`` reports counted work: its bar where it is a Progress, else a line per update."""
    count = getattr(say, "count", None)
    return count if callable(count) else (lambda done, total: say(f"  {done}/{total} samples"))
