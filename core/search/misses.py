"""Misses said out loud: which of a corpus's languages a top-k list leaves out, and where a chunk or file ranks
in a system's list far deeper than the k on screen.

A model that cannot cross languages fails silently: a Chinese question over a half-English corpus returns ten
Chinese chunks and nothing says the English half was never in reach. These helpers put that into words.

Rules (stated once, shown on the Compare page):

- A *major* language holds at least ``MAJOR_SHARE`` (15%) of the corpus's chunks ('unknown' and 'mixed' never
  count: code, tables and fragments have no language to miss).
- A top-k list *misses* a major language when none of its k hits is in it although at least one would be
  expected by share alone (``share * k >= 1``; a top 3 is not asked to hold a 15% language).
- A miss is *cross-language* when the missed language is not the query's own.
- Deep ranks: a dense model ranks the whole corpus exactly from the query vector it already has (no second
  embedding), BM25 ranks the whole corpus (a chunk sharing no term with the query is "not returned"); fused
  and reranked systems are searched ``DEEP_DEPTH`` deep, and a chunk beyond that depth is reported as
  "not in top N", never as a made-up rank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.ingest import language_name
from core.search.engine import ModelIndex
from core.search.index import truncate
from core.search.systems import System
from core.types import Corpus, Hit, SearchParams

__all__ = [
    "DEEP_DEPTH",
    "MAJOR_SHARE",
    "DeepList",
    "chunk_rows",
    "LanguageMiss",
    "Leaning",
    "SideLanguages",
    "deep_depth",
    "deep_list",
    "deep_of",
    "file_chunks",
    "file_rank",
    "leaning",
    "scored_list",
    "side_languages",
]

MAJOR_SHARE = 0.15  # a language with at least this share of the chunks is one whose absence is worth saying
DEEP_DEPTH = (
    100  # how deep systems without an exact whole-corpus ranking are searched for the other side's hits
)
_NO_LANGUAGE = {"unknown", "mixed"}


@dataclass(frozen=True)
class LanguageMiss:
    """A major language of the corpus that a top-k list does not contain."""

    lang: str  # code, 'zh-cn'
    share: float  # of the corpus's chunks, 0..1
    chunks: int  # corpus chunks in that language
    cross: bool  # not the query's language: a cross-language query that found nothing there

    @property
    def name(self) -> str:
        return language_name(self.lang)


@dataclass(frozen=True)
class SideLanguages:
    """The languages of one side's top k against the corpus's language shares."""

    slot: str
    k: int  # hits looked at
    counts: tuple[tuple[str, int], ...]  # (language code, hits in the top k), most first
    shares: tuple[tuple[str, float], ...]  # (language code, share of the corpus's chunks), largest first
    missing: tuple[LanguageMiss, ...]  # major languages with no hit although share * k >= 1
    query_lang: str

    @property
    def flagged(self) -> bool:
        return bool(self.missing)

    def sentences(self) -> list[str]:
        """One sentence per missed language: 'A returns no Chinese chunk in its top 10; 49% of the corpus is Chinese.'"""
        out = []
        for m in self.missing:
            whose = (
                f"for a {language_name(self.query_lang)} query"
                if not m.cross and self.query_lang not in _NO_LANGUAGE
                else "in its top " + str(self.k)
            )
            out.append(
                f"{self.slot} returns no {m.name} chunk {whose}; {_pct(m.share)} of the corpus is {m.name}."
            )
        return out

    def summary(self) -> str:
        """'A's top 10: 9 English, 1 Chinese' (what the list holds, by language)."""
        held = ", ".join(f"{n} {language_name(code)}" for code, n in self.counts) or "nothing"
        return f"{self.slot}'s top {self.k}: {held}"


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%" if share >= 0.01 else "<1%"


def side_languages(
    slot: str,
    hit_langs: Sequence[str],
    histogram: Mapping[str, int],
    *,
    query_lang: str,
    threshold: float = MAJOR_SHARE,
) -> SideLanguages:
    """The languages of a side's hits (``hit_langs``: each hit's chunk language, in rank order) against the
    corpus's chunk counts per language (``Corpus.lang_histogram()``), and the major languages it misses."""
    if not 0.0 < threshold <= 1.0:
        raise ValueError(
            f"threshold must be a share in (0, 1], got {threshold!r}; 0.15 means 15% of the chunks."
        )
    total = sum(histogram.values())
    k = len(hit_langs)
    held: dict[str, int] = {}
    for lang in hit_langs:
        held[lang] = held.get(lang, 0) + 1
    shares = (
        sorted(((lang, n / total) for lang, n in histogram.items() if n > 0), key=lambda kv: -kv[1])
        if total
        else []
    )
    missing = tuple(
        LanguageMiss(lang=lang, share=share, chunks=int(histogram[lang]), cross=lang != query_lang)
        for lang, share in shares
        if lang not in _NO_LANGUAGE and share >= threshold and share * k >= 1.0 and not held.get(lang)
    )
    return SideLanguages(
        slot=slot,
        k=k,
        counts=tuple(sorted(held.items(), key=lambda kv: -kv[1])),
        shares=tuple(shares),
        missing=missing,
        query_lang=query_lang,
    )


class DeepList:
    """One system's ranking of a query, deeper than the k on screen: where any chunk sits in it.

    Two forms: ranked chunk ids (what a system returned, ``depth`` deep), or every chunk's score in corpus order
    (``scores`` and ``rows``, chunk id -> row), whose ranks are counted on demand: ranking a 50k-chunk corpus in
    full is a sort (~45 ms on 2 cores), a rank is a comparison over the scores (~0.05 ms). Ties go to the lower
    row, as in ``exact_search``.
    """

    def __init__(
        self,
        ids: Sequence[str] = (),
        *,
        depth: int,
        complete: bool,
        scores: np.ndarray | None = None,
        rows: Mapping[str, int] | None = None,
    ) -> None:
        self.depth = depth  # how deep it was asked for (the whole corpus when ``complete``)
        self.complete = (
            complete  # every chunk the system can rank was ranked: one absent is not returned at all
        )
        self._scores = scores
        self._rows = rows or {}
        self._ids = tuple(ids) if scores is None else None
        self._pos = {cid: r for r, cid in enumerate(self._ids or (), start=1)}

    @property
    def ids(self) -> tuple[str, ...]:
        """Chunk ids, best first (sorted on first use for the scored form)."""
        if self._ids is None:
            scores = self._scores if self._scores is not None else np.zeros(0, dtype=np.float32)
            by_row = {r: cid for cid, r in self._rows.items()}
            self._ids = tuple(by_row[int(i)] for i in np.argsort(-scores, kind="stable"))
        return self._ids

    def rank(self, chunk_id: str) -> int | None:
        """1-based rank, or None when the chunk is not in the list as deep as it was searched."""
        if self._scores is None:
            return self._pos.get(chunk_id)
        row = self._rows.get(chunk_id)
        if row is None:
            return None
        s = self._scores[row]
        return 1 + int(np.count_nonzero(self._scores > s)) + int(np.count_nonzero(self._scores[:row] == s))

    def best_of(self, chunk_ids: Iterable[str]) -> tuple[int, str] | None:
        """The best (rank, chunk id) among ``chunk_ids``, or None when none of them is in the list."""
        scores = self._scores
        if scores is None:
            found = [(r, cid) for cid in chunk_ids if (r := self._pos.get(cid)) is not None]
            return min(found) if found else None
        rows = [(r, cid) for cid in chunk_ids if (r := self._rows.get(cid)) is not None]
        if not rows:
            return None
        best = max(
            rows, key=lambda rc: (float(scores[rc[0]]), -rc[0])
        )  # the best score; a tie: the lower row
        rank = self.rank(best[1])
        return (rank, best[1]) if rank is not None else None

    def where(self, chunk_id: str) -> str:
        """'#37', 'not in top 100' (searched that deep only) or 'not returned' (ranked in full, not in it)."""
        r = self.rank(chunk_id)
        return f"#{r}" if r is not None else self.beyond()

    def beyond(self) -> str:
        """What 'absent' means here: 'not returned' (ranked in full) or 'not in top 100' (searched that deep)."""
        return "not returned" if self.complete else f"not in top {self.depth}"


def deep_depth(system: System, k: int) -> int:
    """How deep to rank for deep ranks: the whole corpus for dense models (exact, from the query vector) and BM25
    (cheap, and it lists every chunk sharing a term), ``max(DEEP_DEPTH, k)`` for fused or reranked systems
    (each of their stages searches that deep); never more than the corpus."""
    n = len(system.corpus.chunks)
    return n if system.kind in ("dense", "bm25") else min(max(DEEP_DEPTH, k), n)


def deep_list(
    system: System,
    query: str,
    params: SearchParams = SearchParams(),
    *,
    query_vector: np.ndarray | None = None,
    rows: Mapping[str, int] | None = None,
) -> DeepList:
    """The system's ranking of ``query`` ``deep_depth`` deep.

    A dense model with its ``query_vector`` (from ``ModelIndex.answer``) ranks every chunk exactly at
    ``params.dims`` (no second embedding); any other system is searched again that deep.
    """
    n = len(system.corpus.chunks)
    if n == 0:
        return DeepList(ids=(), depth=0, complete=True)
    if isinstance(system, ModelIndex) and query_vector is not None:
        return scored_list(system, query_vector, params, rows=rows)
    k = deep_depth(system, params.k)
    result = system.search_many([query], replace(params, k=k))[0]
    return deep_of(result.hits, depth=k, corpus_size=n)


def scored_list(
    mi: ModelIndex,
    query_vector: np.ndarray,
    params: SearchParams = SearchParams(),
    *,
    rows: Mapping[str, int] | None = None,
) -> DeepList:
    """A dense model's exact ranking of every chunk at ``params.dims`` (``params.reduction``) for a query vector
    (full dimension, as ``ModelIndex.answer`` returns it): one matrix-vector product, no sort. ``rows`` (chunk
    id -> row, ``chunk_rows(corpus)``) may be passed in, kept by the caller per corpus."""
    q = np.asarray(query_vector, dtype=np.float32)[None, :]
    d = params.dims or mi.dim
    if params.reduction != "prefix":
        q = mi.rotate(q)
    scores = mi.vectors_at(d, params.reduction) @ truncate(q, d)[0]
    rows = rows if rows is not None else chunk_rows(mi.corpus)
    return DeepList(depth=len(rows), complete=True, scores=scores, rows=rows)


def chunk_rows(corpus: Corpus) -> dict[str, int]:
    """Chunk id -> its row in the corpus (and in every vector matrix of it)."""
    return {c.id: i for i, c in enumerate(corpus.chunks)}


def deep_of(hits: Iterable[Hit], *, depth: int, corpus_size: int) -> DeepList:
    """A DeepList of hits a system returned when asked ``depth`` deep (complete when that is the whole corpus)."""
    return DeepList(ids=tuple(h.chunk_id for h in hits), depth=depth, complete=depth >= corpus_size)


def file_rank(ranking: DeepList, chunk_ids: Iterable[str]) -> tuple[int, str] | None:
    """The best (rank, chunk id) among a file's chunks in a ranking, or None when none of them is in it."""
    return ranking.best_of(chunk_ids)


def file_chunks(corpus: Corpus) -> dict[str, tuple[str, ...]]:
    """Per source file (in corpus order): its chunk ids."""
    out: dict[str, list[str]] = {}
    for c in corpus.chunks:
        out.setdefault(c.source, []).append(c.id)
    return {src: tuple(ids) for src, ids in out.items()}


@dataclass(frozen=True)
class Leaning:
    """Which side of a disagreement looked better (by labels) or whose top hits the other ranked lower."""

    side: str | None  # "A", "B", or None when even
    by: str  # "labels" or "ranks"
    text: str  # the finding in words, with its numbers


def _median_rank(ids: Sequence[str], other: DeepList) -> float:
    """Median rank of ``ids`` in ``other``; a chunk beyond what was searched counts as depth + 1."""
    ranks = [r if (r := other.rank(cid)) is not None else other.depth + 1 for cid in ids]
    return float(np.median(ranks)) if ranks else 0.0


def leaning(
    top_a: Sequence[str],
    top_b: Sequence[str],
    deep_a: DeepList,
    deep_b: DeepList,
    labels: Mapping[str, int] | None = None,
) -> Leaning:
    """Which side of a query looked better.

    With labels for any chunk of either top k: the side with more chunks labelled relevant (label >= 1) in its
    top k. Without: whose top hits the other side ranks lower (the median of their ranks in the other's deep
    list; a chunk beyond the depth searched counts as depth + 1). That says whose picks the other disputes, not
    which is right.
    """
    judged = labels or {}
    if any(cid in judged for cid in (*top_a, *top_b)):
        rel_a = sum(1 for cid in top_a if judged.get(cid, 0) >= 1)
        rel_b = sum(1 for cid in top_b if judged.get(cid, 0) >= 1)
        if rel_a == rel_b:
            return Leaning(None, "labels", f"even by labels: {rel_a} relevant each")
        side = "A" if rel_a > rel_b else "B"
        return Leaning(side, "labels", f"{side} better by labels: {rel_a} vs {rel_b} relevant (A vs B)")
    med_a, med_b = _median_rank(top_a, deep_b), _median_rank(top_b, deep_a)
    if med_a == med_b:
        return Leaning(
            None, "ranks", f"no judged hit; each ranks the other's top hits alike (median #{med_a:g})"
        )
    side = "A" if med_a > med_b else "B"
    other = "B" if side == "A" else "A"
    hi, lo = max(med_a, med_b), min(med_a, med_b)
    return Leaning(
        side,
        "ranks",
        f"no judged hit; {other} ranks {side}'s top hits lower (median #{hi:g} vs #{lo:g})",
    )
