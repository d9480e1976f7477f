"""Rank every system on judged queries in one call: runs, the Holm-corrected leaderboard and its verdict.

The Evaluate page, ``python -m core.cli evaluate --system`` and the report all call ``rank_systems``, so the
three say the same thing for the same inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from core.evaluation.decide import GroupVerdict, LlmTrust, leaderboard_verdict
from core.evaluation.leaderboard import LEADERBOARD_METRICS, Leaderboard, leaderboard_of_runs
from core.evaluation.metrics import Qrels
from core.evaluation.run import SystemRun, align_doc_ids, language_pairs, run_system
from core.judging import RaterAgreement
from core.search import ModelIndex, System
from core.types import Progress


@dataclass(frozen=True)
class Ranking:
    """The leaderboard of N systems, its verdict, and each system's run."""

    board: Leaderboard
    verdict: GroupVerdict
    runs: dict[str, SystemRun]


def rank_systems(
    systems: Mapping[str, System],
    queries: Mapping[str, str],
    qrels: Qrels,
    *,
    exact: bool = True,
    dims: int | None = None,
    ef: int | None = None,
    k: int = 100,
    metrics: tuple[str, ...] = LEADERBOARD_METRICS,
    instructions: Mapping[str, str | None] | None = None,
    ignore_identical_ids: bool = False,
    source: str = "",
    evidence: str = "human",
    llm_trust: LlmTrust | None = None,
    agreement: RaterAgreement | None = None,
    unpooled_share: Callable[[Qrels], float | None] | None = None,
    n_resamples: int = 10_000,
    seed: int = 0,
    progress: Callable[[str], Progress | None] | None = None,
) -> Ranking:
    """Search the judged queries with every system (one query at a time, so latency is a user's), then rank them.

    Args:
        systems: {name: System}; dense models, BM25, hybrids and reranked systems alike, all on one corpus.
        queries: {qid: text}; qrels: {qid: {doc id: grade}} naming chunk ids or file paths (aligned here).
        exact, dims, ef: dense stages only (``dims`` applies to a model that has that many dimensions).
        instructions: {system name: query instruction} for models that take one.
        source, evidence, llm_trust, agreement: what the judgments are, for the verdict (``leaderboard_verdict``).
        unpooled_share: given the aligned qrels, the share of judgments outside the pools (for the verdict).
        progress: given a system's name, a Progress callback for its searches (or None).
    """
    first = next(iter(systems.values()))
    corpus = first.corpus
    aligned = align_doc_ids(corpus, qrels)
    runs: dict[str, SystemRun] = {}
    for name, system in systems.items():
        d = dims if dims and isinstance(system, ModelIndex) and dims <= system.dim else None
        runs[name] = run_system(
            system,
            queries,
            k=k,
            exact=exact,
            dims=d,
            ef=ef,
            doc_id=aligned.rule,
            qrels=aligned.qrels,
            instruction=(instructions or {}).get(name),
            ignore_identical_ids=ignore_identical_ids,
            batch_size=1,
            progress=progress(name) if progress else None,
        )
    settings = {"search": "exact" if exact else "HNSW", "dims": str(dims or "full"), "k": str(k)}
    board = leaderboard_of_runs(
        runs,
        aligned.qrels,
        metrics=metrics,
        ignore_identical_ids=ignore_identical_ids,
        n_resamples=n_resamples,
        seed=seed,
        groups=language_pairs(queries, aligned.qrels, corpus, doc_id=aligned.rule),
        settings=settings,
    )
    found = leaderboard_verdict(
        board,
        source=source,
        evidence=evidence,
        llm_trust=llm_trust,
        agreement=agreement,
        unpooled_share=unpooled_share(aligned.qrels) if unpooled_share else None,
    )
    return Ranking(board=board, verdict=found, runs=runs)
