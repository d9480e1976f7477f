"""Cut an extracted text into overlapping chunks by characters or tokens, never across sections."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.errors import IngestError
from core.ingest.document import Extracted, Section
from core.ingest.options import TOKENIZER_NEEDED, ChunkOptions

# a Hugging Face fast tokenizer: called as tokenizer(text, return_offsets_mapping=True, ...)
Tokenizer = Callable[..., Any]

_SENTENCE_ENDS = ("。", "！", "？", "；", ". ", "! ", "? ", "; ", ".\t", ": ")


@dataclass(frozen=True)
class Piece:
    """A chunk's span in ``Extracted.text`` and where it sits in the source."""

    start: int
    end: int
    heading: tuple[str, ...] = ()
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None


def _break_at(text: str, lo: int, hi: int) -> int:
    """Best end position in (lo, hi]: after a blank line, a newline, a sentence end, a space; else hi."""
    pos = text.rfind("\n\n", lo, hi)
    if pos >= 0:
        return pos + 2
    pos = text.rfind("\n", lo, hi)
    if pos >= 0:
        return pos + 1
    best = max(text.rfind(p, lo, hi) for p in _SENTENCE_ENDS)
    if best >= 0:
        return best + 1
    pos = max(text.rfind(" ", lo, hi), text.rfind("\t", lo, hi))
    return pos + 1 if pos >= 0 else hi


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def char_spans(text: str, start: int, end: int, *, size: int, overlap: int) -> list[tuple[int, int]]:
    """Windows of at most ``size`` characters over text[start:end], ``overlap`` shared, ends at natural breaks."""
    spans: list[tuple[int, int]] = []
    a, end = _trim(text, start, end)
    while a < end:
        if end - a <= size:
            b = end
        else:
            b = _break_at(text, a + max(1, size // 2), a + size)
        ca, cb = _trim(text, a, b)
        if cb > ca:
            spans.append((ca, cb))
        if b >= end:
            break
        nxt = max(b - overlap, a + 1)
        if overlap:
            ws = min((p for p in (text.find(" ", nxt, b), text.find("\n", nxt, b)) if p >= 0), default=-1)
            if ws >= 0 and ws + 1 < b:
                nxt = ws + 1
        a = max(nxt, a + 1)
        while a < end and text[a].isspace():
            a += 1
    return spans


def _offsets(tokenizer: Tokenizer | None, text: str) -> list[tuple[int, int]]:
    if tokenizer is None:
        raise IngestError(TOKENIZER_NEEDED)
    try:
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False, verbose=False)
    except TypeError:
        enc = tokenizer(text, return_offsets_mapping=True, add_special_tokens=False)
    except Exception as exc:  # tokenizers raise their own error types
        raise IngestError(
            f"the tokenizer failed ({type(exc).__name__}: {exc}); chunk by characters instead"
        ) from exc
    return [(int(s), int(e)) for s, e in enc["offset_mapping"] if e > s]


def token_spans(
    tokenizer: Tokenizer | None, text: str, start: int, end: int, *, size: int, overlap: int
) -> list[tuple[int, int]]:
    """Windows of at most ``size`` tokens over text[start:end]; offsets keep the exact character span."""
    offs = [(start + s, start + e) for s, e in _offsets(tokenizer, text[start:end])]
    spans: list[tuple[int, int]] = []
    i, n = 0, len(offs)
    while i < n:
        k = min(i + size, n)
        if k < n:
            for cand in range(k, i + max(1, size // 2), -1):
                gap = text[offs[cand - 1][1] : offs[cand][0]]
                if "\n" in gap or text[offs[cand - 1][1] - 1] in ".!?。！？；;":
                    k = cand
                    break
        a, b = _trim(text, offs[i][0], offs[k - 1][1])
        if b > a:
            spans.append((a, b))
        if k >= n:
            break
        i = max(k - overlap, i + 1)
    return spans


def _merge_small(sections: list[Section], measure: Callable[[Section], int], size: int) -> list[Section]:
    """Join neighbouring mergeable sections (code definitions) while they fit in one chunk together."""
    out: list[Section] = []
    cur: Section | None = None
    cur_len = 0
    for sec in sections:
        n = measure(sec)
        if cur is not None and sec.merge and cur.merge and cur_len + n <= size:
            heading = cur.heading or sec.heading
            cur = Section(cur.start, sec.end, heading, cur.page, cur.line, merge=True)
            cur_len += n
            continue
        if cur is not None:
            out.append(cur)
        cur, cur_len = sec, n
    if cur is not None:
        out.append(cur)
    return out


def chunk_pieces(doc: Extracted, options: ChunkOptions, *, tokenizer: Tokenizer | None = None) -> list[Piece]:
    """Chunk spans over ``doc.text`` with their heading path, page and line span."""
    text = doc.text
    size, overlap = options.chunk_size, options.chunk_overlap
    if options.unit == "tokens" and tokenizer is None:
        raise IngestError(TOKENIZER_NEEDED)
    sections = doc.sections or [Section(0, len(text))]
    if options.unit == "tokens":

        def measure(sec: Section) -> int:
            return len(_offsets(tokenizer, text[sec.start : sec.end])) if sec.merge else size + 1
    else:

        def measure(sec: Section) -> int:
            return sec.end - sec.start

    work = _merge_small(sections, measure, size) if options.structure else [Section(0, len(text))]
    starts = [s.start for s in sections]
    newlines = [m.start() for m in re.finditer("\n", text)] if doc.line_numbers else []
    pieces: list[Piece] = []
    for sec in work:
        if options.unit == "tokens":
            spans = token_spans(tokenizer, text, sec.start, sec.end, size=size, overlap=overlap)
        else:
            spans = char_spans(text, sec.start, sec.end, size=size, overlap=overlap)
        for a, b in spans:
            origin = sec if options.structure else sections[max(0, bisect.bisect_right(starts, a) - 1)]
            line_start = line_end = origin.line
            if doc.line_numbers:
                line_start = bisect.bisect_right(newlines, a) + 1
                line_end = bisect.bisect_right(newlines, b - 1) + 1
            heading = sec.heading if options.structure else ()
            pieces.append(Piece(a, b, heading, origin.page, line_start, line_end))
    return pieces
