"""Text hygiene shared by every reader: code points no tokenizer accepts are replaced, invisible text detected.

- An unpaired UTF-16 surrogate (``"\\ud800"`` is a legal JSON escape) cannot be encoded as UTF-8, so fast
  tokenizers raise on it; Unicode non-characters (U+FDD0..U+FDEF, U+xFFFE, U+xFFFF) are not text either.
  ``clean_text`` replaces each with U+FFFD (one code point for one, so offsets into the text stay valid).
- Text made only of whitespace, zero-width and bidi-control characters shows nothing: ``has_visible_text``
  is False for it, and the readers treat such text as empty.
"""

from __future__ import annotations

import re
import unicodedata

REPLACEMENT = "\ufffd"
_BAD = re.compile(
    "[\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff"
    + "".join(f"{chr(p * 0x10000 + 0xFFFE)}{chr(p * 0x10000 + 0xFFFF)}" for p in range(1, 17))
    + "]"
)
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Cn", "Zs", "Zl", "Zp", "Mn", "Me"})
# candidates for a visible character: not whitespace, C0/C1 controls, zero-width or bidi controls,
# BOM, soft hyphen, fillers or invisible operators (the category check settles the rest)
_CANDIDATE = re.compile(
    r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8]"
)


def clean_text(text: str) -> tuple[str, int]:
    """``text`` with unpaired surrogates and non-characters replaced by U+FFFD, and how many were replaced."""
    if text.isascii():
        return text, 0
    return _BAD.subn(REPLACEMENT, text)


def has_visible_text(text: str) -> bool:
    """Whether ``text`` holds at least one character that shows (not whitespace, format or control only)."""
    return any(
        unicodedata.category(m.group()) not in _INVISIBLE_CATEGORIES for m in _CANDIDATE.finditer(text)
    )


def cleaned_note(name: str, replaced: int) -> str:
    """The note shown with a file or query set whose text ``clean_text`` had to change."""
    return (
        f"{name}: {replaced} unpaired UTF-16 surrogate(s) or non-character(s) replaced with U+FFFD "
        "(tokenizers cannot encode them)"
    )
