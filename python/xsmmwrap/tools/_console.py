"""Tables and progress lines of the command's reports: the one implementation of both.

Plain text from the standard library, not a table or progress-bar package: the package's
users need nothing beyond numpy (``docs/ARCHITECTURE.md``), and a report is a few aligned
columns and one status line on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

__all__ = ["Progress", "fmt_count", "fmt_float", "format_table"]


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """A plain-text table: the first ``left`` columns left-aligned, the others right-aligned,
    a rule under the header, each line ending in a newline."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)]) + "\n"


def fmt_float(x: float | None, spec: str = ".2f", none: str = "-") -> str:
    """``format(x, spec)``, or ``none`` for a missing value."""
    return none if x is None else format(x, spec)


def fmt_ratio(x: float | None) -> str:
    """A ratio as the tables show it (``1.23x``), or ``-`` for a missing value."""
    return "-" if x is None else f"{x:.2f}x"


def fmt_count(x: float | None) -> str:
    """A count with k/M/G suffixes (``1.23M``)."""
    if x is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


@dataclass
class Progress:
    """One status line on stderr for a multi-step driver: only on a terminal, after ``delay``
    seconds (2).

    The sample programs draw their own progress; this names the step between them
    (:meth:`step`) or counts steps with a bar and the time left (:meth:`count`).
    """

    title: str
    stream: TextIO = sys.stderr
    delay: float = 2.0
    width: int = 30  #: of the bar

    def __post_init__(self) -> None:
        self._start = time.monotonic()
        self._shown = 0
        try:
            self._tty = self.stream.isatty()
        except (AttributeError, ValueError):
            self._tty = False

    def step(self, text: str) -> None:
        """Show ``title: text`` when the driver has run long enough."""
        if not self._tty or time.monotonic() - self._start < self.delay:
            return
        line = f"{self.title}: {text}"
        self.stream.write("\r" + line.ljust(self._shown))
        self.stream.flush()
        self._shown = len(line)

    def count(self, done: int, total: int, what: str) -> None:
        """Show ``title: [###...] done/total what (N s left)``, the time left extrapolated
        from the time since this line was made."""
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + "." * (self.width - filled)
        left = (time.monotonic() - self._start) * (total - done) / done if done else 0.0
        self.step(f"[{bar}] {done}/{total} {what} ({left:.0f} s left)")

    def done(self) -> None:
        """Erase the status line."""
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self.stream.flush()
            self._shown = 0
