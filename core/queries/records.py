"""What a generated query carries: its text, its id, where it came from (provenance) and the source-chunk qrels."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

from core.queries.filters import FILTER_ORDER
from core.queries.sampling import StrataReport

SOURCE_GRADE = 2  # the chunk a query was written from is graded relevant (2), as Promptagator and InPars do
QrelsLevel = Literal["chunk", "file"]
QRELS_RULE = (
    f"Each query's source chunk is graded {SOURCE_GRADE} (relevant), Promptagator/InPars style; no other document "
    "is judged, so other relevant chunks count as misses. File-level qrels grade the source chunk's file instead "
    "(for corpora judged per file, as the sample corpus is)."
)
BIAS_NOTE = (
    "Bias: the generator read the chunk's own words before writing each query, so these queries favour lexical "
    "matching (BM25 and models that reward shared terms) over models that match meaning; cross-lingual and "
    "paraphrase queries share fewer words and weigh this down."
)


@dataclass(frozen=True)
class Provenance:
    """Where a generated query came from, enough to reproduce and to group it."""

    source_chunk: str
    source_file: str
    source_lang: str  # short code of the chunk's language ("zh")
    query_lang: str  # short code of the language the query was asked in ("en")
    pair: str  # "en->zh": query language -> source language, as core.evaluation writes pairs
    type: str  # "keyword" | "question" | "paraphrase"
    generator: str  # the LLM's display name
    model: str
    host: str
    prompt_version: str
    seed: int


PROVENANCE_FIELDS = tuple(Provenance.__dataclass_fields__)


@dataclass(frozen=True)
class GeneratedQuery:
    """One kept query; ``id`` is core.judging.query_id(text), so the same text is one query everywhere."""

    id: str
    text: str
    provenance: Provenance

    @property
    def lang(self) -> str:
        return self.provenance.query_lang

    @property
    def cross_lingual(self) -> bool:
        return self.provenance.query_lang != self.provenance.source_lang

    def to_json(self) -> dict[str, object]:
        """The BEIR-like line: ``_id``, ``text``, ``lang``, ``cross_lingual`` and the ``provenance`` object."""
        return {
            "_id": self.id,
            "text": self.text,
            "lang": self.lang,
            "cross_lingual": self.cross_lingual,
            "provenance": asdict(self.provenance),
        }


@dataclass(frozen=True)
class Dropped:
    """An answer a filter dropped: the cleaned text, the raw answer, which filter, and what was asked."""

    text: str
    raw: str
    reason: str  # a key of core.queries.filters.FILTER_RULES
    source_chunk: str
    type: str
    query_lang: str


@dataclass(frozen=True)
class GeneratedSet:
    """The outcome of one generation run: kept queries, dropped answers with reasons, the sample, timings."""

    queries: tuple[GeneratedQuery, ...]
    dropped: tuple[Dropped, ...]
    strata: StrataReport
    seconds: float
    generator: str = ""
    family: str = ""
    cancelled: bool = False  # Cancel pressed: what was generated before it is kept
    asked: int = 0  # prompts answered (kept + dropped)

    @property
    def keep_rate(self) -> float:
        return len(self.queries) / self.asked if self.asked else 0.0

    def filter_counts(self) -> dict[str, int]:
        """{filter: answers it dropped}, every filter listed (0 where it dropped none), in the filters' order."""
        counts = dict.fromkeys(FILTER_ORDER, 0)
        for d in self.dropped:
            counts[d.reason] = counts.get(d.reason, 0) + 1
        return counts

    def pair_counts(self) -> dict[str, int]:
        """{"en->zh": kept queries}, sorted by pair."""
        counts: dict[str, int] = {}
        for q in self.queries:
            counts[q.provenance.pair] = counts.get(q.provenance.pair, 0) + 1
        return dict(sorted(counts.items()))

    def kept_by_language(self) -> dict[str, tuple[int, int]]:
        """{query language: (kept, answered)}: how well the generator writes each language."""
        out: dict[str, tuple[int, int]] = {}
        for lang, kept in [(q.lang, 1) for q in self.queries] + [(d.query_lang, 0) for d in self.dropped]:
            k, n = out.get(lang, (0, 0))
            out[lang] = (k + kept, n + 1)
        return dict(sorted(out.items()))

    def type_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for q in self.queries:
            counts[q.provenance.type] = counts.get(q.provenance.type, 0) + 1
        return dict(sorted(counts.items()))


def qrels_of(queries: list[GeneratedQuery] | tuple[GeneratedQuery, ...], *, level: QrelsLevel = "chunk"
             ) -> dict[str, dict[str, int]]:  # fmt: skip
    """{query id: {source chunk id (or its file): SOURCE_GRADE}} in the BEIR/ranx shape."""
    if level not in ("chunk", "file"):
        raise ValueError(f"qrels level {level!r} unknown: choose 'chunk' or 'file'.")
    return {
        q.id: {q.provenance.source_chunk if level == "chunk" else q.provenance.source_file: SOURCE_GRADE}
        for q in queries
    }
