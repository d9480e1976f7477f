"""Safe rendering of untrusted text (documents, file names, PDF metadata) in Streamlit Markdown.

Nothing here ever produces HTML: every ASCII punctuation character of user text is backslash-escaped
(CommonMark allows that for all of them), so `<script>`, links, emphasis, LaTeX ($) and Streamlit's
`:color[...]` directives all show as the literal characters.

Escaping alone does not stop GitHub-flavoured Markdown's autolink literals: Streamlit's renderer finds
`www.`, `http://` and `name@host.tld` in the text *after* escapes are resolved and turns them into live
`<a target=_blank>` links. A WORD JOINER (U+2060: invisible, no line break) goes in front of the `.` after
`www`, the `:` of `://` and every `@`, where those patterns need two characters side by side.
"""

from __future__ import annotations

import re
import unicodedata

from core.safe_text import display_name  # re-exported: names in tables and plain text go through it

__all__ = ["display_name", "escape_md", "escape_name", "highlight_md", "one_line", "query_terms", "snippet"]

_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character
WORD_JOINER = "\u2060"
# Where GFM autolink literals need two characters side by side: www|. , http|:// , name|@host
_AUTOLINK_SEAMS = re.compile(r"(?i)(?<=www)(?=\.)|(?=://)|(?=@)")
_WORD = re.compile(r"[A-Za-z0-9_]{2,}|[\u4e00-\u9fff]{2,}")
_STOPWORDS = {
    "the",
    "a",
    "an",
    "of",
    "in",
    "on",
    "for",
    "to",
    "and",
    "or",
    "is",
    "are",
    "how",
    "what",
    "do",
    "does",
    "with",
    "by",
    "be",
    "can",
    "i",
    "we",
    "it",
    "this",
    "that",
    "from",
    "at",
    "as",
    "explain",
}


def escape_md(text: str) -> str:
    """Escape user text for st.markdown: the result renders as the input characters, with no live link."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in text)
    return _PUNCT.sub(r"\\\1", _AUTOLINK_SEAMS.sub(WORD_JOINER, text))


def escape_name(name: str) -> str:
    """A file or document name for st.markdown: bidi controls neutralised (U+FFFD), then escaped."""
    return escape_md(display_name(name))


def one_line(text: str, limit: int = 300) -> str:
    """Collapse whitespace and cut to limit characters at a word boundary."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit].rsplit(" ", 1)[0] if " " in flat[: limit // 2 :] else flat[:limit]
    return cut + " …"


def query_terms(query: str) -> list[str]:
    """Terms worth highlighting: latin words (no stopwords) and CJK bigrams of the query."""
    terms: list[str] = []
    for match in _WORD.findall(query):
        if match[0] >= "\u4e00":
            terms.extend(match[i : i + 2] for i in range(len(match) - 1))
        elif match.lower() not in _STOPWORDS:
            terms.append(match)
    return sorted(set(terms), key=len, reverse=True)


def snippet(text: str, query: str, *, limit: int = 320) -> str:
    """A window of text around the first query term, whitespace collapsed."""
    flat = " ".join(text.split())
    lower = flat.lower()
    first = min((p for t in query_terms(query) if (p := lower.find(t.lower())) >= 0), default=0)
    start = max(0, first - limit // 3)
    if start:  # begin at a word boundary (CJK text has none: keep the cut)
        space = flat.find(" ", start, first if first > start else start + 20)
        start = space + 1 if space >= 0 else start
    window = flat[start : start + limit]
    return ("… " if start else "") + window + (" …" if start + limit < len(flat) else "")


def highlight_md(text: str, query: str) -> str:
    """Escaped Markdown of text with query terms in bold; safe for st.markdown (no HTML)."""
    terms = query_terms(query)
    if not terms:
        return escape_md(text)
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    spans: list[list[int]] = []
    for m in pattern.finditer(text):
        if spans and m.start() <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], m.end())  # merge adjacent CJK bigrams into one bold run
        else:
            spans.append([m.start(), m.end()])
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(escape_md(text[last:start]))
        out.append("**" + escape_md(text[start:end]) + "**")
        last = end
    out.append(escape_md(text[last:]))
    return "".join(out)
