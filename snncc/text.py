"""Names from input files, made safe to print: in a terminal, in Markdown, in a log.

A layer name is whatever the model file says.  Names with control characters (ANSI escapes,
CR/LF, bidi overrides) are refused where a graph is built (ir/graph.py, GRF008); what is
printed anyway, e.g. the refused name itself, goes through ``escape_controls``.  Markdown
tables get their cells through ``markdown_cell`` so that a ``|`` or a backtick in a name
cannot break the table or the code span.
"""

from __future__ import annotations

import unicodedata

# control (Cc: C0, DEL, C1), format (Cf: bidi overrides, zero-width), line and paragraph separators
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def is_unsafe(ch: str) -> bool:
    return unicodedata.category(ch) in _UNSAFE_CATEGORIES


def has_control_characters(text: str) -> bool:
    return any(is_unsafe(ch) for ch in text)


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with each unsafe character (except those in ``keep``) written as a Python escape."""
    if not has_control_characters(text):
        return text
    return "".join(ch if ch in keep or not is_unsafe(ch) else ascii(ch)[1:-1] for ch in text)


# what could break a table cell, open a code span, a link or HTML; emphasis (_ *) is left alone,
# as layer names like "1.w_rec" are common and their underscores cannot escape the cell
_MARKDOWN_SPECIAL = str.maketrans({c: f"\\{c}" for c in "\\`[]<>|"})


def markdown_cell(value: object) -> str:
    """``value`` as literal Markdown text in a table cell: no table break, code span, link or HTML."""
    return escape_controls(str(value)).translate(_MARKDOWN_SPECIAL)
