"""Blind A/B votes in numbers: win rate of A over B with a Wilson 95% interval, a sign test, per language pair.

- A vote's ``outcome`` is "A", "B", "tie" or "both_bad" (``core.judging.store.Vote``). "both bad" counts as a tie
  in every figure here: neither list was preferred.
- ``ties="split"`` (default): each tie is half a win for each side, win rate = (A + ties / 2) / all votes.
  ``ties="exclude"``: ties are left out, win rate = A / (A + B). The summary says which (``ties_rule``).
- 95% interval: Wilson score interval of the win rate over the counted votes (the same numbers as
  ``scipy.stats.binomtest(k, n).proportion_ci(method="wilson")``; written out here because split ties make
  the success count a half-integer).
- p_sign: two-sided exact sign test of A wins vs B wins (``scipy.stats.binomtest(a, a + b, 0.5)``); ties are
  always left out of the sign test, whatever ``ties`` says. None when no vote was decisive.
- Votes for another model pair are left out; a vote whose model_a / model_b are the other way round has
  its outcome flipped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from core.judging.store import Vote

TiesRule = Literal["split", "exclude"]


@dataclass(frozen=True)
class VoteSummary:
    n: int  # votes counted (all four outcomes)
    a_wins: int
    b_wins: int
    ties: int
    both_bad: int
    win_rate_a: float | None  # None when no vote counts under the ties rule
    ci_low: float | None
    ci_high: float | None
    p_sign: float | None
    ties_rule: TiesRule
    model_a: str = ""
    model_b: str = ""
    confidence: float = 0.95

    @property
    def ties_note(self) -> str:
        """The ties rule in words, for captions."""
        if self.ties_rule == "split":
            return "ties and 'both bad' count half a win for each model"
        return "ties and 'both bad' are left out of the win rate"


def wilson_interval(successes: float, n: float, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a proportion successes / n (no continuity correction)."""
    if n <= 0:
        raise ValueError("The Wilson interval needs at least one trial.")
    from scipy.stats import norm  # here: scipy.stats takes seconds to import

    z = float(norm.ppf(0.5 + confidence / 2.0))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(a_wins: int, b_wins: int) -> float | None:
    """Two-sided exact sign test p-value of a_wins against b_wins (None without decisive votes)."""
    if a_wins + b_wins == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(a_wins, a_wins + b_wins, 0.5).pvalue)


def _pair(votes: list[Vote], models: tuple[str, str] | None) -> tuple[str, str]:
    if models is not None:
        return models
    pairs = Counter(frozenset((v.model_a, v.model_b)) for v in votes)
    if len(pairs) > 1:
        raise ValueError(
            f"The votes compare {len(pairs)} different model pairs; pass models=(model_a, model_b) to choose one."
        )
    first = votes[0]
    return first.model_a, first.model_b


def vote_summary(
    votes: Iterable[Vote],
    ties: TiesRule = "split",
    *,
    models: tuple[str, str] | None = None,
    confidence: float = 0.95,
) -> VoteSummary:
    """Win rate of models[0] (A) over models[1] (B) from blind votes; see the module docstring for the rules."""
    if ties not in ("split", "exclude"):
        raise ValueError(f"ties must be 'split' or 'exclude' (got {ties!r}).")
    votes = list(votes)
    if not votes:
        name_a, name_b = models or ("", "")
        return VoteSummary(0, 0, 0, 0, 0, None, None, None, None, ties, name_a, name_b, confidence)
    model_a, model_b = _pair(votes, models)
    counts: Counter[str] = Counter()
    for v in votes:
        if (v.model_a, v.model_b) == (model_a, model_b):
            counts[v.outcome] += 1
        elif (v.model_a, v.model_b) == (model_b, model_a):
            counts[{"A": "B", "B": "A"}.get(v.outcome, v.outcome)] += 1
    a, b, t, bad = counts["A"], counts["B"], counts["tie"], counts["both_bad"]
    n = a + b + t + bad
    if ties == "split":
        successes, trials = a + (t + bad) / 2.0, float(n)
    else:
        successes, trials = float(a), float(a + b)
    rate = lo = hi = None
    if trials > 0:
        rate = successes / trials
        lo, hi = wilson_interval(successes, trials, confidence)
    return VoteSummary(n, a, b, t, bad, rate, lo, hi, sign_test(a, b), ties, model_a, model_b, confidence)


def by_language_pair(
    votes: Iterable[Vote],
    lang_of_query: Mapping[str, str] | Callable[[Vote], str],
    ties: TiesRule = "split",
    *,
    models: tuple[str, str] | None = None,
) -> dict[str, VoteSummary]:
    """{group: VoteSummary} with the group of each vote from ``lang_of_query`` ({query_id: "en->zh"} or a
    function of the vote); votes of unknown queries go to "unknown". Groups sorted by name."""
    votes = list(votes)
    if votes and models is None:
        models = _pair(votes, None)
    groups: dict[str, list[Vote]] = {}
    for v in votes:
        group = lang_of_query(v) if callable(lang_of_query) else lang_of_query.get(v.query_id, "unknown")
        groups.setdefault(group or "unknown", []).append(v)
    return {g: vote_summary(vs, ties, models=models) for g, vs in sorted(groups.items())}
