"""Plain-text output of the commands: tables and lines on stdout."""

from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence

__all__ = ["format_table", "write_lines"]


def format_table(headers: Sequence[str], rows: Iterable[Sequence[object]], indent: str = "") -> list[str]:
    """Rows of text in left-aligned columns, headers first, then a rule."""
    body = [[str(c) for c in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in body:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: Sequence[str]) -> str:
        return (indent + "  ".join(c.ljust(w) for c, w in zip(cells, widths))).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out.extend(line(row) for row in body)
    return out


def write_lines(lines: Iterable[str], stream: Any = None) -> None:
    """Each of ``lines`` and a line feed on ``stream`` (stdout), then flush."""
    stream = stream or sys.stdout
    for text in lines:
        stream.write(text + "\n")
    stream.flush()
