"""The prompt that asks an LLM for one test query about a chunk, the rotation of types and languages, and the
clean-up of its answer (first line, no quotes, labels or numbering)."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.ingest import language_name
from core.llm import Prompt
from core.queries.sampling import short_lang
from core.types import Chunk

PROMPT_VERSION = "queries-v1"
PASSAGE_CHARS = 600  # the passage shown to the LLM is cut here (the bundled model reads ~150 prompt tokens/s)
MAX_TOKENS = 40  # the longest answer asked for: one query

QUERY_TYPES = ("keyword", "question", "paraphrase")
TYPE_ASKS = {
    "keyword": "a short keyword search (2 to 6 words, no question mark)",
    "question": "a question a user would type into a search box",
    "paraphrase": "a question that uses different words than the passage",
}
TYPE_RULES = (
    "keyword: 2 to 6 search words; question: a natural question as a user would type it; paraphrase: a question "
    "that avoids the passage's own words. Types and query languages rotate with the sample's order."
)
SYSTEM = "You write search queries that a passage answers."


@dataclass(frozen=True)
class Ask:
    """One request: the chunk, the query type and the language the query must be written in (short code)."""

    chunk: Chunk
    qtype: str
    lang: str

    @property
    def source_lang(self) -> str:
        return short_lang(self.chunk.lang)

    @property
    def pair(self) -> str:
        """'en->zh': the query's language -> its source chunk's language (as core.evaluation writes pairs)."""
        return f"{self.lang}->{self.source_lang}"


def plan_asks(
    chunks: list[Chunk], *, languages: list[str], types: tuple[str, ...] = QUERY_TYPES
) -> list[Ask]:
    """One Ask per chunk: the i-th chunk gets ``types[i % len(types)]``; its language rotates over its own
    language (first, when among ``languages``) and the other ``languages`` (cross-lingual probes)."""
    unknown = [t for t in types if t not in QUERY_TYPES]
    if unknown or not types:
        raise ValueError(f"Query types {unknown or '(none)'} unknown: choose from {list(QUERY_TYPES)}.")
    langs = list(dict.fromkeys(short_lang(lang) for lang in languages))
    if not langs:
        raise ValueError("No query language: name at least one (e.g. en or zh).")
    asks = []
    for i, chunk in enumerate(chunks):
        own = short_lang(chunk.lang)
        options = ([own] if own in langs else []) + [lang for lang in langs if lang != own]
        c = i % (len(types) * len(options))  # every (type, language) combination once per cycle
        asks.append(
            Ask(chunk, types[c % len(types)], options[(c % len(types) + c // len(types)) % len(options)])
        )
    return asks


def passage(chunk: Chunk, limit: int = PASSAGE_CHARS) -> str:
    """The chunk's text (with its title, runs of spaces collapsed) cut at ``limit`` characters, at a space near the end."""
    text = re.sub(
        r"\n\s*\n\s*", "\n\n", re.sub(r"[ \t]+", " ", chunk.embed_text)
    ).strip()  # no runs of spacing
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ", limit - 80)
    return (cut[:space] if space > 0 else cut).rstrip() + " ..."


def build_prompt(ask: Ask) -> Prompt:
    """The chat prompt for one Ask: short, because the bundled model is tiny and slow."""
    user = (
        f"Passage:\n{passage(ask.chunk)}\n\n"
        f"Write {TYPE_ASKS[ask.qtype]} in {language_name(ask.lang)} that this passage answers. "
        "Reply with the query only."
    )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


_LABEL = re.compile(
    r"^(?:\*\*|__)?\s*(?:(?:search|keyword|user|short|natural|paraphrased?|english|chinese)\s+)?"
    r"(?:query|question|keywords?|search|answer|paraphrase|output|response|q|问题|查询|关键词|搜索|请求|回答|答案)\s*\d*\s*"
    r"(?:\*\*|__)?\s*[:：]\s*(?:\*\*|__)?",
    re.I,
)
_NUMBERING = re.compile(r"^(?:\d{1,2}\s*[.)、:]|[-*•>]|#{1,6})\s+")
_QUOTES = "\"'`“”‘’「」『』«»*_"
_QUOTED = re.compile(r'"([^"]{3,})"|“([^”]{3,})”|「([^」]{2,})」')
_LEAD_IN = re.compile(r"passage|question|query|queries|search|type|answer|问题|查询|搜索", re.I)


def clean_answer(raw: str) -> str:
    """The query in an LLM's answer: its first line with text, without labels ("Question:"), numbering or quotes.

    A lead-in line ending in a colon ("Question:", "Here is a question a user would type:") is skipped; a line that
    quotes the query inside a sentence about it ('This passage answers the question "How ...?"') gives the quote.
    """
    text = unicodedata.normalize("NFC", raw or "")
    for line in text.splitlines():
        line = line.strip()
        if line.endswith((":", "：")) and (len(line.split()) <= 6 or _LEAD_IN.search(line)):
            continue
        quoted = [next(g for g in m.groups() if g) for m in _QUOTED.finditer(line)]
        if quoted and _LEAD_IN.search(_QUOTED.sub(" ", line)):
            line = max(quoted, key=len).strip()
        line = line.replace("**", "").replace("__", "")  # markdown emphasis
        for _ in range(4):  # "1. Query: "x"" -> x
            stripped = _NUMBERING.sub("", _LABEL.sub("", line, count=1), count=1).strip(_QUOTES + " \t")
            if stripped == line:
                break
            line = stripped
        if line:
            return " ".join(line.split())
    return ""
