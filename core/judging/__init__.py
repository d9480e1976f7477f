"""Judging: the judgment store (graded labels, thumbs, blind votes in SQLite), pooling, vote statistics, rater agreement."""

from __future__ import annotations

from core.judging.pooling import pool
from core.judging.rater_agreement import RaterAgreement, agreement
from core.judging.store import (
    MAX_DEPTH_K,
    MAX_GRADE,
    ORIGINS,
    Judgment,
    JudgmentStore,
    Origin,
    Vote,
    Winner,
    legacy_query_id,
    query_id,
)
from core.judging.votes import TiesRule, VoteSummary, by_language_pair, vote_summary

__all__ = [
    "Judgment",
    "JudgmentStore",
    "MAX_DEPTH_K",
    "MAX_GRADE",
    "ORIGINS",
    "Origin",
    "RaterAgreement",
    "TiesRule",
    "Vote",
    "VoteSummary",
    "Winner",
    "agreement",
    "by_language_pair",
    "legacy_query_id",
    "pool",
    "query_id",
    "vote_summary",
]
