"""Names that are safe to show: bidi and control characters neutralised (shared by the UI and the CLI).

A file name holding U+202E (RIGHT-TO-LEFT OVERRIDE) displays reversed from that point on ("invoice‮fdp.exe"
reads as "invoiceexe.pdf"), and a C0/C1 control character in a name can move a terminal's cursor or colour
its output. Names are shown with each such character replaced by U+FFFD, so the reader sees that something
was there and the surrounding text keeps its order.
"""

from __future__ import annotations

import unicodedata

BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # LRE RLE PDF LRO RLO
    "\u2066\u2067\u2068\u2069"  # LRI RLI FSI PDI
    "\u200e\u200f\u061c"  # LRM RLM ALM
)
REPLACEMENT = "\ufffd"


def neutralise_bidi(text: str, *, replacement: str = REPLACEMENT) -> str:
    """Text with every bidi control character (embedding, override, isolate, mark) replaced."""
    if not any(ch in BIDI_CONTROLS for ch in text):
        return text
    return "".join(replacement if ch in BIDI_CONTROLS else ch for ch in text)


def display_name(name: str, *, replacement: str = REPLACEMENT) -> str:
    """A file or document name fit to print: bidi controls and control characters (Cc) replaced."""
    return "".join(
        replacement if ch in BIDI_CONTROLS or unicodedata.category(ch) == "Cc" else ch for ch in name
    )
