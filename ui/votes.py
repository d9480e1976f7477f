"""Blind A/B votes: which side each model is shown on, whose turn it is, the votes of the current model pair."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

from core.evaluation import short_lang
from core.ingest import detect_language
from core.judging import TiesRule, Vote, VoteSummary, by_language_pair, query_id, vote_summary
from core.text import count
from core.types import Chunk
from ui import build
from ui.text import escape_md


def left_model(qid: str, model_a: str, model_b: str) -> Literal["A", "B"]:
    """Which model is shown on the left for a query: a coin flip seeded by the query and the pair (recorded)."""
    digest = hashlib.sha256(f"{qid}\0{model_a}\0{model_b}".encode("utf-8", "surrogatepass")).digest()
    return "A" if digest[0] % 2 == 0 else "B"


def model_pair() -> tuple[str, str] | None:
    """The names of the two built models (A, B), or None while an index is missing."""
    a, b = build.built_index("A"), build.built_index("B")
    if a is None or b is None:
        return None
    return a.spec.name, b.spec.name


def pair_votes(votes: Iterable[Vote], pair: tuple[str, str]) -> list[Vote]:
    """Votes cast on this model pair (A and B as they are now)."""
    return [v for v in votes if (v.model_a, v.model_b) == pair]


def next_query(texts: Sequence[str], votes: Iterable[Vote], who: str) -> int | None:
    """Index of the first query of the set this rater has not voted on, or None when every one has a vote."""
    voted = {v.query_id for v in votes if v.rater == who}
    return next((i for i, q in enumerate(texts) if query_id(q) not in voted), None)


def summary(cast: Sequence[Vote], *, ties: TiesRule, pair: tuple[str, str]) -> VoteSummary:
    """core.judging.votes' summary of this pair's votes, A and B as they are now."""
    return vote_summary(cast, ties, models=pair)


def summary_sentence(s: VoteSummary, pair: tuple[str, str]) -> str:
    """'A · name wins 64% of 58 votes (95% CI 52–75%, ties split); sign test p = 0.04.' (escaped Markdown)."""
    if s.win_rate_a is None or s.ci_low is None or s.ci_high is None:
        return f"{count(s.n, 'vote')}, none with a winner yet ({s.ties_note})."
    p = "n/a" if s.p_sign is None else f"{s.p_sign:.3f}"
    return (
        f"**A · {escape_md(pair[0])}** wins **{s.win_rate_a:.0%}** against **B · {escape_md(pair[1])}** over "
        f"{count(s.n, 'vote')} (95% Wilson interval {s.ci_low:.0%}–{s.ci_high:.0%}; {s.ties_note}); two-sided "
        f"sign test p = {p} on the {count(s.a_wins + s.b_wins, 'vote')} with a winner ({s.a_wins} A, {s.b_wins} B, "
        f"{count(s.ties, 'tie')}, {s.both_bad} both bad)."
    )


def language_pairs(
    cast: Iterable[Vote],
    lists: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    chunks: Mapping[str, Chunk],
) -> dict[str, str]:
    """{query id: 'en->zh'}: the query's language -> the main language of the chunks both lists showed."""
    out: dict[str, str] = {}
    for v in cast:
        shown = [c for ids in lists.get(v.query, ((), ())) for c in ids]
        langs = Counter(
            short_lang(chunks[c].lang) for c in shown if c in chunks and chunks[c].lang != "unknown"
        )
        target = min(langs, key=lambda lang: (-langs[lang], lang)) if langs else "?"
        out[v.query_id] = f"{short_lang(detect_language(v.query))}->{target}"
    return out


def language_rows(
    cast: Sequence[Vote], *, ties: TiesRule, pair: tuple[str, str], groups: Mapping[str, str]
) -> list[dict[str, object]]:
    """One row per query language pair: votes, A's win rate and its Wilson interval, sign-test p."""
    rows = []
    for group, s in by_language_pair(cast, groups, ties, models=pair).items():
        rows.append(
            {
                "query → results": group,
                "votes": s.n,
                "A wins": s.win_rate_a,
                "95% low": s.ci_low,
                "95% high": s.ci_high,
                "sign p": s.p_sign,
            }
        )
    return rows
