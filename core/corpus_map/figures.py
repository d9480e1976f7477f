"""Queries on the map and per-region wins of A vs B.

Placement (``place_queries``): a query sits at one chunk and takes that chunk's region. The chunk is the best of
A's and B's lists fused by reciprocal rank (RRF, k = 60; ties go to A's order), so neither model's view decides
alone; for a judged query, the best fused chunk among the relevant ones (grade >= 1) when either list found one.
A query that neither list places (both empty) is left off the map.

Per query: ``diff`` = nDCG@10 of A minus nDCG@10 of B (``core.evaluation.ndcg``, trec_eval's), on the document
rankings the chunk lists make (``doc_of``: chunk id -> judged document id, e.g. the file for file-level qrels;
a document ranks at its first chunk), for queries with judgments; ``overlap`` = top-10 overlap of the two chunk
lists, |A@10 ∩ B@10| / 10.

Outcome: a judged query goes to A when diff > ``TIE_BAND`` (0.01 nDCG@10), to B when diff < -0.01, else "tie".
An unjudged query goes to the side whose top 10 holds more chunks of the query's own region ("tie" when equal):
a model that stays on the query's topic is the better guess without judgments; the region figures say how many
outcomes rest on judgments (``judged``).

Per region (``region_figures``): counts of all its queries' outcomes; ``mean_diff`` and its 95% percentile
bootstrap interval (``core.evaluation.bootstrap_ci``, 10,000 seeded resamples) over its judged queries only; the
interval needs at least ``MIN_CI_QUERIES`` (3) judged queries, else None.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from core.corpus_map.regions import Region
from core.evaluation import bootstrap_ci, ndcg

TIE_BAND = 0.01
RRF_K = 60
K = 10
MIN_CI_QUERIES = 3


@dataclass(frozen=True)
class QueryPoint:
    """One query on the map: where it sits and who did better there."""

    query_id: str
    query: str
    region: int
    chunk_id: str  # the chunk it is placed at (see the module docstring)
    diff: float | None  # nDCG@10 of A minus B where judged, else None
    overlap: float  # top-10 overlap of A's and B's chunk lists, |A@10 ∩ B@10| / 10
    outcome: str  # "A" | "B" | "tie"
    judged: bool

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> QueryPoint:
        """The inverse of ``to_dict``."""
        diff = d.get("diff")
        return cls(
            query_id=str(d["query_id"]), query=str(d["query"]), region=int(d["region"]),
            chunk_id=str(d["chunk_id"]), diff=None if diff is None else float(diff),
            overlap=float(d["overlap"]), outcome=str(d["outcome"]), judged=bool(d["judged"]),
        )  # fmt: skip


@dataclass(frozen=True)
class RegionFigures:
    """A vs B in one region: outcomes of its queries, mean nDCG@10 difference with its 95% CI."""

    region: int
    queries: int
    wins_a: int
    wins_b: int
    ties: int
    mean_diff: float | None  # mean of A - B over the judged queries
    ci_low: float | None
    ci_high: float | None
    judged: int

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RegionFigures:
        """The inverse of ``to_dict``."""
        return cls(**{f: d[f] for f in cls.__dataclass_fields__})


def outcome_of(diff: float) -> str:
    """'A', 'B' or 'tie' for an nDCG@10 difference A - B (ties within ``TIE_BAND``)."""
    return "A" if diff > TIE_BAND else "B" if diff < -TIE_BAND else "tie"


def fused_order(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """Chunk ids of both lists by reciprocal-rank fusion (k = 60), ties in A's order, then B's."""
    score: dict[str, float] = {}
    for ranking in (a, b):
        for rank, cid in enumerate(ranking, start=1):
            score[cid] = score.get(cid, 0.0) + 1.0 / (RRF_K + rank)
    first = {cid: i for i, cid in enumerate(dict.fromkeys([*a, *b]))}
    return sorted(score, key=lambda c: (-score[c], first[c]))


def _docs(ranking: Sequence[str], doc_of: Mapping[str, str] | None) -> list[str]:
    if doc_of is None:
        return list(dict.fromkeys(ranking))
    return list(dict.fromkeys(doc_of.get(c, c) for c in ranking))


def place_queries(
    queries: Mapping[str, str],
    runs_a: Mapping[str, Sequence[str]],
    runs_b: Mapping[str, Sequence[str]],
    chunk_region: Mapping[str, int],
    *,
    qrels: Mapping[str, Mapping[str, int]] | None = None,
    doc_of: Mapping[str, str] | None = None,
) -> list[QueryPoint]:
    """One point per query of ``queries`` that A or B retrieved anything for (rules in the module docstring).

    ``runs_a`` / ``runs_b``: {query id: chunk ids, best first} (a run deep enough for 10 documents);
    ``chunk_region``: chunk id -> region id (``region_of``); ``qrels``: {query id: {doc id: grade}};
    ``doc_of``: chunk id -> the doc id the qrels use (None: qrels name chunks).
    """
    out: list[QueryPoint] = []
    for qid, text in queries.items():
        a = [c for c in runs_a.get(qid, ()) if c in chunk_region]
        b = [c for c in runs_b.get(qid, ()) if c in chunk_region]
        fused = fused_order(a, b)
        if not fused:
            continue
        judged_docs = (qrels or {}).get(qid) or {}
        judged = bool(judged_docs)
        relevant = [c for c in fused if judged_docs.get(doc_of.get(c, c) if doc_of else c, 0) >= 1]
        at = (relevant or fused)[0]
        region = chunk_region[at]
        overlap = len(set(a[:K]) & set(b[:K])) / K
        diff: float | None = None
        if judged:
            d = ndcg(_docs(a, doc_of), judged_docs, K) - ndcg(_docs(b, doc_of), judged_docs, K)
            diff, outcome = d, outcome_of(d)
        else:
            in_a = sum(chunk_region[c] == region for c in a[:K])
            in_b = sum(chunk_region[c] == region for c in b[:K])
            outcome = "A" if in_a > in_b else "B" if in_b > in_a else "tie"
        out.append(QueryPoint(qid, text, region, at, diff, overlap, outcome, judged))
    return out


def region_figures(
    points: Sequence[QueryPoint], regions: Sequence[Region], *, seed: int = 0
) -> list[RegionFigures]:
    """Per region, in the order of ``regions``: outcome counts and the judged mean difference with its CI."""
    out = []
    for r in regions:
        mine = [p for p in points if p.region == r.id]
        diffs = np.array([p.diff for p in mine if p.diff is not None], dtype=np.float64)
        mean = float(diffs.mean()) if diffs.size else None
        lo = hi = None
        if diffs.size >= MIN_CI_QUERIES:
            lo, hi = bootstrap_ci(diffs, seed=seed)
        out.append(
            RegionFigures(
                region=r.id,
                queries=len(mine),
                wins_a=sum(p.outcome == "A" for p in mine),
                wins_b=sum(p.outcome == "B" for p in mine),
                ties=sum(p.outcome == "tie" for p in mine),
                mean_diff=mean,
                ci_low=lo,
                ci_high=hi,
                judged=int(diffs.size),
            )
        )
    return out
