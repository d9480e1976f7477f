"""The stated filters a generated query must pass, each a function that names why it drops a query (or None).

Order: empty, length, repeats, meta, copy, language, duplicate; a query is counted under the first filter it fails.
"""

from __future__ import annotations

import re
import unicodedata
from difflib import SequenceMatcher

from core.ingest import detect_language
from core.queries.sampling import short_lang
from core.text import has_visible_text

MIN_WORDS = 2  # fewer words is not a query (a Chinese "word" counted as two Han characters)
MAX_WORDS = 32
MAX_CHARS = 250
COPY_SHARE = 0.6  # a copied span covering more than this share of the query ...
COPY_MIN_CHARS = 20  # ... and at least this long (a few shared terms are fine: users type the docs' words)
COPY_MAX_CHARS = 40  # a span this long copied from the chunk drops the query whatever its share
WHOLE_COPY_SHARE = 0.9  # a question or paraphrase this much of which is one span of the chunk is a copy
REPEAT_CHARS = 14  # a span this long (a Han character counting as two) written twice is a degenerate answer

_HAN = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*|\d+")
_META = re.compile(
    r"\b(?:this|the|that|above|given|following|provided)\s+(?:passage|text|excerpt|paragraph|snippet|article|"
    r"section|chunk)\b|\b(?:this|that|the above|the following) question\b|\bthe author\b|^(?:sure|certainly|okay|here is|here's|i'm sorry|i am sorry|i cannot|i can't|"
    r"as an ai)\b|这段|本段|该段|上文|本文|文中|这篇|以下段落|该段落",
    re.I,
)

FILTER_RULES: dict[str, str] = {
    "empty": "no visible text once the answer is cleaned (first line, labels, numbering and quotes removed)",
    "length": (
        f"fewer than {MIN_WORDS} words or more than {MAX_WORDS} words or {MAX_CHARS} characters "
        "(two Han characters count as a word)"
    ),
    "repeats": (
        f"repeats itself: a span of {REPEAT_CHARS} characters or more (a Han character counting as two) written "
        "twice, as a small model stuck in a loop does"
    ),
    "meta": 'talks about the passage instead of asking ("This passage answers ...", "the text", "本文") or '
    'is chatter ("Sure", "I\'m sorry")',
    "copy": (
        f"copies the chunk: a common span of at least {COPY_MIN_CHARS} characters covering more than "
        f"{COPY_SHARE:.0%} of the query, or of {COPY_MAX_CHARS} characters or more, or a question or paraphrase that "
        f"is {WHOLE_COPY_SHARE:.0%} one span of the chunk (a copied heading); keyword queries may copy short terms "
        "(case and spacing ignored)"
    ),
    "language": "not in the language asked: Chinese needs Han characters and Chinese detected; another language "
    "must be detected as asked, or be too short to detect and in the right script (no Han for Latin-script languages)",
    "duplicate": "the same text as a query kept before it (case, width, spacing and punctuation ignored)",
}
FILTER_ORDER = tuple(FILTER_RULES)


def normalise(text: str) -> str:
    """Lower case, NFKC (full-width -> ASCII), punctuation and spacing dropped: what makes two queries one."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in text if ch.isalnum())


def _spaced(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def words(text: str) -> float:
    """Words in ``text``: Latin-script words and numbers, plus Han characters / 2."""
    han = len(_HAN.findall(text))
    return len(_LATIN_WORD.findall(_HAN.sub(" ", text))) + han / 2


def check_empty(query: str) -> str | None:
    return None if has_visible_text(query) else "empty"


def check_length(query: str) -> str | None:
    n = words(query)
    if n < MIN_WORDS:
        return "length"
    return "length" if n > MAX_WORDS or len(query) > MAX_CHARS else None


def check_repeats(query: str) -> str | None:
    han_heavy = len(_HAN.findall(query)) * 2 >= len(query)
    span = REPEAT_CHARS // 2 if han_heavy else REPEAT_CHARS
    return "repeats" if re.search(rf"(\S.{{{span - 1},}})(?:.*?)\1", query) else None


def check_meta(query: str) -> str | None:
    return "meta" if _META.search(query) else None


def longest_copied_span(query: str, chunk_text: str) -> int:
    """Characters of the longest span the query shares with the chunk (case and spacing ignored)."""
    a, b = _spaced(query), _spaced(chunk_text)
    if not a or not b:
        return 0
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def check_copy(query: str, chunk_text: str, qtype: str = "question") -> str | None:
    span = longest_copied_span(query, chunk_text)
    share = span / max(1, len(_spaced(query)))
    if qtype != "keyword" and share >= WHOLE_COPY_SHARE:
        return "copy"  # a question that is only a span of the chunk (a heading, a sentence) asks nothing
    return "copy" if span >= COPY_MAX_CHARS or (span >= COPY_MIN_CHARS and share > COPY_SHARE) else None


def check_language(query: str, lang: str) -> str | None:
    """``lang`` is the short code asked for ("en", "zh", ...)."""
    target = short_lang(lang)
    han = len(_HAN.findall(query))
    detected = short_lang(detect_language(query))
    if target == "zh":
        return None if han >= 2 and detected == "zh" else "language"
    if target in ("ja", "ko"):
        return None if detected == target else "language"
    if han:
        return "language"
    if detected == target:
        return None
    latin = sum(ch.isalpha() for ch in query)
    return None if detected == "unknown" and latin >= 0.5 * len(query.replace(" ", "")) else "language"


def check_duplicate(query: str, seen: set[str]) -> str | None:
    return "duplicate" if normalise(query) in seen else None


def first_failure(
    query: str, *, chunk_text: str, lang: str, seen: set[str], qtype: str = "question"
) -> str | None:
    """The first filter (in ``FILTER_ORDER``) that drops ``query``, or None when it is kept."""
    return (
        check_empty(query)
        or check_length(query)
        or check_repeats(query)
        or check_meta(query)
        or check_copy(query, chunk_text, qtype)
        or check_language(query, lang)
        or check_duplicate(query, seen)
    )
