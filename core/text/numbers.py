"""One number format for the sentences and tables people read (core.evaluation.decide, core.report.sections and its renderers).

``number(x, digits, sign=)``: fixed decimals, U+2212 for a minus, '+' when ``sign``, '–' for no value. A figure
that is not zero but rounds to zero keeps its sign with one significant digit ("−0.0004", not "−0.00" nor
"0.00"): a CI bound of −0.0004 printed "0.00" would hide which side of 0 it lies on, and "−0.00" contradicts
itself. Below ``FLOOR`` (1e-6) a figure is float noise and prints as an unsigned "0.00".
"""

from __future__ import annotations

import math
import re

MINUS = "\u2212"  # every negative figure people read: "−0.012", never "-0.012"
FLOOR = 1e-6
_ASCII_MINUS = re.compile(r"(?:(?<![\w.\-\u2212])|(?<=\.\.))-(?=\d*\.?\d)")


def number(x: float | None, digits: int = 3, *, sign: bool = False) -> str:
    """``x`` to ``digits`` decimals ('+' first when ``sign``); more decimals when it would round to a signed 0."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) < FLOOR:
        return f"{0:.{digits}f}"
    if round(abs(x), digits) == 0:
        digits = -math.floor(math.log10(abs(x)))  # 0.0004 -> 4 decimals: its first significant digit
    return f"{x:{'+' if sign else ''}.{digits}f}".replace("-", MINUS)


def format_bytes(n: float) -> str:
    """Bytes in binary units, the one byte format people read: '820 B', '3.1 KiB', '12.0 MiB', '1,536.0 GiB'."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def format_count(n: float) -> str:
    """A large count in short form, the one format for parameter counts: '850', '22.7M', '4.0B', '110M'."""
    for unit in ("", "K", "M", "B"):
        if abs(n) < 1000 or unit == "B":
            return f"{n:.0f}{unit}" if unit == "" or abs(n) >= 100 else f"{n:.1f}{unit}"
        n /= 1000.0
    return f"{n:.0f}B"


def format_share(part: int, total: int) -> str:
    """A share as a whole percent that never reads as none or all when it is not: '<1%', '40%', '>99%'."""
    if total <= 0 or part <= 0:
        return "0%"
    if part >= total:
        return "100%"
    whole = round(100 * part / total)  # the percent shown; at the edges it would say none or all
    return "<1%" if whole < 1 else ">99%" if whole > 99 else f"{whole}%"


def minus_signs(text: str) -> str:
    """A sentence written elsewhere ('+0.05..-0.03') with its negative figures in U+2212; hyphens inside words,
    ids and dates ('e5-small', 'q-1', '2025-12-02') stay as they are."""
    return _ASCII_MINUS.sub(MINUS, text)
