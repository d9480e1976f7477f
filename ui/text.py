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
from collections.abc import Iterable

from core.ingest import CODE_EXTS, DATA_EXTS, extension
from core.text import display_name
from core.types import Chunk  # re-exported: names in tables and plain text go through it

__all__ = [
    "card_snippet",
    "chunk_place",
    "display_name",
    "escape_md",
    "escape_name",
    "highlight_md",
    "one_line",
    "page_parts",
    "passage_md",
    "path_md",
    "query_terms",
    "short_path",
    "snippet",
    "strip_markdown",
]

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


# CJK bigrams not worth a bold run: those with a particle (的 in 的用户 lit up every 的), and question words.
_CJK_PARTICLES = set("的了吗呢吧啊么")
_CJK_QUESTION_WORDS = {"如何", "什么", "怎么", "怎样", "哪些", "哪个", "为什", "是否", "可以"}


def escape_md(text: str) -> str:
    """Escape user text for st.markdown: the result renders as the input characters, with no live link."""
    text = "".join(ch if unicodedata.category(ch)[0] != "C" or ch in "\n\t" else " " for ch in text)
    return _PUNCT.sub(r"\\\1", _AUTOLINK_SEAMS.sub(WORD_JOINER, text))


def escape_name(name: str) -> str:
    """A file or document name for st.markdown: bidi controls neutralised (U+FFFD), then escaped."""
    return escape_md(display_name(name))


def cut_to_width(text: str, columns: int) -> str:
    """Whitespace collapsed and cut to about ``columns`` Latin-letter widths (a CJK character counts two), with
    ' …' when cut: what fits a table cell of fixed width and line count, whatever the script."""
    flat = " ".join(text.split())
    used = 0
    for i, ch in enumerate(flat):
        used += 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used > columns:
            return flat[:i].rstrip() + " …"
    return flat


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
            terms.extend(
                pair
                for i in range(len(match) - 1)
                if not (set(pair := match[i : i + 2]) & _CJK_PARTICLES) and pair not in _CJK_QUESTION_WORDS
            )
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
    # a lookahead finds overlapping matches too: in 用户鉴权 the bigrams 用户, 户鉴 and 鉴权 overlap, and a plain
    # scan resumed after 户鉴 and left 权 out of the bold run
    pattern = re.compile("(?=(" + "|".join(re.escape(t) for t in terms) + "))", re.IGNORECASE)
    spans: list[list[int]] = []
    for m in pattern.finditer(text):
        start, end = m.start(), m.start() + len(m.group(1))
        if spans and start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], end)  # merge adjacent or overlapping terms into one bold run
        else:
            spans.append([start, end])
    out: list[str] = []
    last = 0
    for start, end in spans:
        out.append(escape_md(text[last:start]))
        out.append("**" + escape_md(text[start:end]) + "**")
        last = end
    out.append(escape_md(text[last:]))
    return "".join(out)


# Markdown / reStructuredText syntax that a result snippet shows as noise: line markers, then inline markers.
_FENCE = re.compile(r"^ {0,3}(```+|~~~+)[^\n]*\n(.*?)(?:^ {0,3}\1[^\n]*$|\Z)", re.M | re.S)
_MD_LINES = [
    (re.compile(r"^ {0,3}#{1,6}[ \t]+", re.M), ""),  # ATX headings
    (re.compile(r"[ \t]+#+[ \t]*$", re.M), ""),  # closing hashes of a heading
    (re.compile(r"^ {0,3}(?:[-=*_~^][ \t]*){3,}$", re.M), ""),  # rules, setext and RST underlines
    (
        re.compile(r"^ {0,3}\|?[ \t]*:?-{2,}:?[ \t]*(\|[ \t]*:?-{2,}:?[ \t]*)*\|?[ \t]*$", re.M),
        "",
    ),  # table rules
    (re.compile(r"^[ \t]*(?:>[ \t]?)+", re.M), ""),  # blockquotes
    (re.compile(r"^[ \t]*[-*+][ \t]+(?:\[[ xX]\][ \t]+)?", re.M), ""),  # bullets and task boxes
    (re.compile(r"^[ \t]*\.\. [\w-]+::.*$", re.M), ""),  # RST directives
    (re.compile(r"^[ \t]*\|[ \t]*|[ \t]*\|[ \t]*$", re.M), ""),  # outer pipes of a table row
]
_MD_INLINE = [
    (re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)"), r"\1"),  # images: the alt text
    (re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)"), r"\1"),  # links: the link text
    (re.compile(r"`+([^`\n]*?)`+"), r"\1"),  # inline code (also RST ``literal``)
    (re.compile(r"\*\*(?=\S)((?:(?!\n\n).)+?)(?<=\S)\*\*", re.S), r"\1"),  # strong, across a line break
    (
        re.compile(r"(?<!\w)__(?=\S)([^_\n]*\s[^_\n]*?)(?<=\S)__(?!\w)"),
        r"\1",
    ),  # __strong words__, not __init__
    (re.compile(r"(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *emphasis*
    (re.compile(r"(?<![\w_])_(?=[^\s_])([^_\n]+?)(?<=\S)_(?![\w_])"), r"\1"),  # _emphasis_
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),  # strikethrough
    (re.compile(r"</?[A-Za-z][A-Za-z0-9]*(?:\s[^<>\n]*)?/?>"), " "),  # inline HTML tags
    (re.compile(r"[ \t]*\|[ \t]*"), " · "),  # table cells
    (re.compile(r"\*\*|`"), ""),  # markers left unpaired where a chunk boundary cut a span
]


def strip_markdown(text: str) -> str:
    """Markdown (and common RST) text without its syntax: what a reader sees, for a one-line result snippet.

    Headings, emphasis, inline code, list bullets, quotes, links, fences and table rules lose their markers;
    their words stay. Not for code: ``**kwargs`` or a ``# comment`` are content there (see card_snippet).
    """
    out, last = [], 0
    for m in _FENCE.finditer(text):  # fenced code keeps its characters ('# comment', '**kwargs'); fences go
        out += [_strip_prose(text[last : m.start()]), m.group(2)]
        last = m.end()
    out.append(_strip_prose(text[last:]))
    return "".join(out)


def _strip_prose(text: str) -> str:
    for pattern, repl in _MD_LINES:
        text = pattern.sub(repl, text)
    for pattern, repl in _MD_INLINE:
        text = pattern.sub(repl, text)
    return re.sub(r"(?: · )+", " · ", text)


def card_snippet(chunk: Chunk, query: str, *, limit: int = 240) -> str:
    """The escaped, highlighted snippet of a result card: prose sources lose their Markdown syntax, code keeps
    its own (only docstring markup goes: see code_preview)."""
    raw = chunk.text
    prose = extension(chunk.source) not in CODE_EXTS | DATA_EXTS
    return highlight_md(
        snippet(strip_markdown(raw) if prose else code_preview(raw), query, limit=limit), query
    )


_DOC_QUOTES = re.compile(r"[rRbBuU]?(?:\"\"\"|\'\'\')")  # the triple quotes that open and close a docstring


def code_preview(text: str) -> str:
    """Source text for a preview: reStructuredText ``literals`` keep their words, docstring triple quotes go;
    everything else (operators, '# comments', '**kwargs') is the code itself and stays."""
    return _DOC_QUOTES.sub("", _RST_LITERAL.sub(r"\1", text))


def short_path(path: str, limit: int = 56) -> str:
    """A long path cut in the middle ('big.zip/docs/…/api/auth.md'): the start and the file name stay readable."""
    path = display_name(path)
    if len(path) <= limit:
        return path
    head, _, name = path.rpartition("/")
    if len(name) >= limit - 8 or not head:  # the file name alone is too long: cut its middle
        keep = limit - 1
        return path[: keep // 2] + "…" + path[len(path) - (keep - keep // 2) :]
    room = limit - len(name) - 2  # '…/' before the name
    return head[:room] + "…/" + name


ZERO_WIDTH_SPACE = "\u200b"  # an invisible line-break opportunity
_PATH_SEAMS = re.compile(r"(\\/)")  # an escaped '/' of escape_md's output


def path_md(path: str, limit: int = 56) -> str:
    """A file path for st.markdown (short_path, escaped) that wraps after a '/', not inside a file name.

    A path has no spaces, so a browser that must wrap it in a narrow card breaks it wherever the line ends
    (Streamlit's Markdown wraps long words anywhere): 'policies/security_p|olicy.md', 'classif|y.md'. A ZERO
    WIDTH SPACE after each '/' gives it a better place. (It goes in after escaping: escape_md blanks format characters
    of user text.)
    """
    return _PATH_SEAMS.sub(r"\1" + ZERO_WIDTH_SPACE, escape_md(short_path(path, limit)))


def page_parts(chunks: Iterable[Chunk]) -> dict[str, tuple[int, int]]:
    """For chunks that share a PDF page with others: chunk id -> (its place on the page, chunks on that page)."""
    by_page: dict[tuple[str, int], list[str]] = {}
    for c in chunks:
        if c.page is not None:
            by_page.setdefault((c.source, c.page), []).append(c.id)
    return {cid: (i, len(ids)) for ids in by_page.values() if len(ids) > 1 for i, cid in enumerate(ids, 1)}


def chunk_place(chunk: Chunk, parts: dict[str, tuple[int, int]] | None = None) -> str:
    """Where a chunk sits in its file, distinct for two chunks of one page: 'p. 17 · part 2 of 3', 'lines 10-24'."""
    if chunk.page is not None:
        part = (parts or {}).get(chunk.id)
        lines = f" · lines {chunk.line_start}-{chunk.line_end}" if chunk.line_start is not None else ""
        return f"p. {chunk.page}" + (f" · part {part[0]} of {part[1]}" if part else "") + lines
    return chunk.location


# a raw line that starts a block of its own (never joined to the line above): headings, list items, quotes,
# table rows, fences, rules and underlines, directives, and the line after a blank one
_BLOCK_START = re.compile(r"^\s*(?:$|#|[-*+]\s|\d+[.)]\s|>|\||```|~~~|\.\. |(?:[-=*_~^]\s*){3,}$)")
_SINGLE_LINE_BLOCK = re.compile(r"^\s*(?:#|\||```|~~~|\.\. |(?:[-=*_~^]\s*){3,}$)")
_CJK_END = re.compile(r"[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]$")
_CJK_START = re.compile(r"^[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]")
_RST_LITERAL = re.compile(r"``([^`\n]+)``")  # ``literal`` of reStructuredText docstrings


def _join_wrapped(text: str) -> str:
    """Prose with hard-wrapped paragraph lines joined (a space between words, none between CJK characters).

    A line joins the one above when it starts no block of its own and the line above is paragraph text, a
    list item or a quote (not a heading, table row, fence or rule); fenced code keeps its lines.
    """
    out: list[str] = []
    fence = False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            fence = not fence
        above = out[-1] if out else ""
        if (
            above.strip()
            and not fence
            and not _BLOCK_START.match(line)
            and not _SINGLE_LINE_BLOCK.match(above)
        ):
            sep = "" if _CJK_END.search(above) and _CJK_START.match(stripped) else " "
            out[-1] = above.rstrip() + sep + stripped
        else:
            out.append(line)
    return "\n".join(out)


_CJK_HASHES = re.compile(r"^#{1,6}(?=[^\x00-\x7f])")  # '###难度' (no space): not a heading, still noise
_EDGE_CELLS = re.compile(r"^(?: ?· ?)+|(?: ?· ?)+$")  # empty first/last table cells left as ' · '


def passage_md(chunk: Chunk, query: str, *, limit: int = 700) -> str:
    """A longer passage for the blind Judge and Votes cards: card_snippet's cleaning, its lines kept.

    Prose sources lose their Markdown syntax (strip_markdown), code keeps it; every line is escaped and
    highlighted (highlight_md) and the lines are joined by hard breaks, so nothing of the text renders as
    active Markdown. The window starts a few lines before the first query term and holds about ``limit``
    characters; '…' marks a cut at either end.
    """
    raw = chunk.text
    prose = extension(chunk.source) not in CODE_EXTS | DATA_EXTS
    text = strip_markdown(_join_wrapped(raw)) if prose else code_preview(raw)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    if prose:
        lines = [_EDGE_CELLS.sub("", _CJK_HASHES.sub("", line)) for line in lines]
    lines = [line for line in lines if line]
    if not lines:
        return ""
    terms = [t.lower() for t in query_terms(query)]
    first = next((i for i, line in enumerate(lines) if any(t in line.lower() for t in terms)), 0)
    start, before = first, 0
    while start > 0 and before + len(lines[start - 1]) <= limit // 3:
        start -= 1
        before += len(lines[start])
    shown: list[str] = []
    room = limit
    cut = False
    for line in lines[start:]:
        if len(line) > room:  # the last line shown: cut at a word, or left out when little room is left
            cut = True
            if not shown:
                shown.append(snippet(line, query, limit=room))
            elif room >= 60:
                shown.append(one_line(line, room))
            break
        shown.append(line)
        room -= len(line)
    more = (cut or start + len(shown) < len(lines)) and not shown[-1].endswith("…")
    head = "… " if start and not shown[0].startswith("…") else ""
    body = "  \n".join(highlight_md(line, query) for line in shown)
    return head + body + (" …" if more else "")
