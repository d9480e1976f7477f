"""Counts in words: '1 file', '5 files', '1 query', '2 queries' (no 'file(s)' in what users read)."""

from __future__ import annotations

_IRREGULAR = {
    "query": "queries",
    "is": "are",
    "was": "were",
    "has": "have",
    "repeats": "repeat",
    "mixes": "mix",
}


def plural(n: int, word: str, many: str | None = None) -> str:
    """``word`` for n == 1, else its plural (``many``, a known irregular form, or word + 's')."""
    if n == 1:
        return word
    return many or _IRREGULAR.get(word) or word + "s"


def count(n: int, word: str, many: str | None = None) -> str:
    """'1 file', '1,024 files', '0 queries'."""
    return f"{n:,} {plural(n, word, many)}"
