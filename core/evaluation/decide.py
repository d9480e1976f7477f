"""The verdict in words: who wins, and what that rests on (queries, raters, kappa, CI, p, blind votes).

``verdict(...)`` returns a ``Verdict`` (sentence, winner or None, warnings). Rules:

- The metric evidence is the paired test of ``comparison`` on ``metric`` (``core.evaluation.significance.PairedResult``:
  bootstrap 95% CI of A - B, randomisation p). It names a winner only when none of these holds (each one
  is a warning, and then the sentence says the evidence is too thin instead of naming a winner):
  fewer than ``min_queries`` (10) queries; p >= ``alpha`` (0.05) or a CI that includes 0; judged@10 of the
  two models differing by more than ``max_judged_gap`` (0.1), so one model's results were judged more than
  the other's; more than half the judgments being unpooled (Compare-page thumbs, given with model names
  and ranks in view).
- Whose labels (``evidence``): "human", "llm", "mixed" (people's, with an LLM's filling the holes) or "generated"
  (queries an LLM wrote from a chunk, judged by that chunk). LLM labels name no winner unless ``llm_trust`` says
  they were checked against people's and passed ``core.judging.calibration``'s rule (weighted kappa >= 0.4 over
  >= 30 pairs judged by both); without the check, or below the rule, the sentence says why. Generated queries
  name a winner under the usual rules, with their bias stated as a warning (``GENERATED_BIAS``).
- Rater agreement (``core.judging.rater_agreement``) is cited when given; kappa below 0.4 adds a warning (it does
  not by itself withhold the winner).
- Blind votes (``core.judging.votes.VoteSummary``) are cited after the metric: "agree" when they favour the same
  model with p_sign < alpha and a Wilson CI that excludes 50%; when they significantly favour the *other*
  model there is no winner (a warning says the two disagree). Votes for the models the other way round
  are flipped to the comparison's order. Without a comparison the votes alone may name the winner (at
  least ``min_queries`` votes, p_sign < alpha, CI excluding 50%).

``leaderboard_verdict(board, ...)`` does the same for N systems (``core.evaluation.leaderboard.Leaderboard``): it
names **the top group** (the best system and every system not significantly worse than it after Holm's
correction), a lone winner only when the group holds one system, and what the group rests on (how many
queries, whose judgments, the raters' kappa, the correction, the settings of the runs). The thin-evidence
rules are the ones above: fewer than ``min_queries`` queries, judged@10 spread over more than ``max_judged_gap``
across the systems, most judgments unpooled; any of them withholds the group (the ranking by mean is still
quoted). Pairwise blind votes are not part of it (they compare two systems; cite them with ``verdict``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from core.evaluation.leaderboard import Leaderboard
from core.evaluation.metrics import EvaluationError, metric_key, parse_metric
from core.evaluation.run import Comparison
from core.evaluation.significance import PairedResult
from core.judging import RaterAgreement, VoteSummary
from core.text import number

# judged@10 differing by more than this between the two models: the judging was unbalanced (no winner)
MAX_JUDGED_GAP = 0.1

_PRETTY = {
    "ndcg": "nDCG",
    "mrr": "MRR",
    "recall": "Recall",
    "map": "MAP",
    "precision": "P",
    "ndcg_condensed": "condensed nDCG",
    "judged": "judged",
}
_SOURCES = {
    "pooled": "{n} pooled queries",
    "thumbs": "{n} queries judged with Compare-page thumbs",
    "imported": "{n} queries with imported judgments",
    "union": "{n} judged queries (pooled, imported and thumbs together)",
    "generated": "{n} generated queries",
    "llm": "{n} queries judged by an LLM",
    "": "{n} judged queries",
}
LOW_KAPPA = 0.4
_EVIDENCE = {
    "human": "people's labels",
    "llm": "an LLM's labels",
    "mixed": "people's and an LLM's labels",
    "generated": "generated queries judged by the chunk each was written from",
}
GENERATED_BIAS = (
    "the queries were written by an LLM from the chunks that judge them: the writer saw those chunks' words, "
    "which favours lexical matching (BM25, hybrids), and only the source chunk counts as relevant, so other "
    "relevant chunks count as misses"
)
LlmTrust = tuple[
    bool, str
]  # (trusted, why in words): core.judging.calibration's rule, checked against people


def _evidence(evidence: str, llm_trust: LlmTrust | None, warnings: list[str], blocking: list[str]) -> str:
    """The evidence words for the head of a verdict; the LLM rule and the generated-query bias as reasons."""
    if not evidence:
        return ""
    if evidence in ("llm", "mixed"):
        if llm_trust is None:
            blocking.append(
                "the judgments include an LLM's labels that were not checked against people's on shared pairs: "
                "have people judge a sample of the same pool and check the agreement (weighted kappa) first"
            )
        elif not llm_trust[0]:
            blocking.append(llm_trust[1].rstrip("."))
        else:
            warnings.append(llm_trust[1].rstrip("."))
    elif evidence == "generated":
        warnings.append(GENERATED_BIAS)
    return f" ({_EVIDENCE.get(evidence, evidence)})"


@dataclass(frozen=True)
class Verdict:
    sentence: str
    winner: str | None  # a model name, or None when the evidence is too thin or contradicts itself
    warnings: list[str] = field(default_factory=list)


def pretty_metric(name: str) -> str:
    """'ndcg@10' -> 'nDCG@10', 'ndcg_condensed@10' -> 'condensed nDCG@10'."""
    base, k = parse_metric(name)
    return f"{_PRETTY.get(base, base)}@{k}"


def _p(p: float | None, digits: int = 2) -> str:
    if p is None:
        return "p n/a"
    if p < 0.001:
        return "p < 0.001"
    return f"p = {p:.3f}" if p < 0.01 else f"p = {p:.{digits}f}"


def _flip(p: PairedResult) -> PairedResult:
    return replace(p, mean_a=p.mean_b, mean_b=p.mean_a, diff=-p.diff, wins=p.losses, losses=p.wins,
                   ci_low=-p.ci_high, ci_high=-p.ci_low)  # fmt: skip


def _raters(agreement: RaterAgreement | None, warnings: list[str]) -> str:
    if agreement is None or not agreement.raters:
        return ""
    n = len(agreement.raters)
    if n == 1:
        return " judged by 1 rater"
    if agreement.kappa is None:
        return f" judged by {n} raters (kappa undefined: {agreement.shared_pairs} shared pairs)"
    if agreement.kappa < LOW_KAPPA:
        warnings.append(
            f"the raters agree poorly (kappa {number(agreement.kappa, 2)} on {agreement.shared_pairs} shared pairs): "
            "settle the listed disagreements before trusting the judgments"
        )
    return f" judged by {n} raters (kappa {number(agreement.kappa, 2)})"


def _orient(votes: VoteSummary, name_a: str, name_b: str) -> VoteSummary:
    """Votes in the comparison's order (A = name_a) when they name the two models the other way round."""
    if (votes.model_a, votes.model_b) != (name_b, name_a) or votes.win_rate_a is None:
        return votes
    lo, hi = votes.ci_low, votes.ci_high
    return replace(
        votes, a_wins=votes.b_wins, b_wins=votes.a_wins, win_rate_a=1.0 - votes.win_rate_a,
        ci_low=None if hi is None else 1.0 - hi, ci_high=None if lo is None else 1.0 - lo,
        model_a=name_a, model_b=name_b,
    )  # fmt: skip


def _vote_leader(votes: VoteSummary, alpha: float, min_votes: int) -> tuple[str | None, bool, str]:
    """('A' | 'B' | None, conclusive, 'A wins 64% (95% CI 52–75%, 58 votes, ties split)') from A's view."""
    rate, lo, hi = votes.win_rate_a, votes.ci_low, votes.ci_high
    if rate is None or lo is None or hi is None:
        return None, False, ""
    rule = "ties split" if votes.ties_rule == "split" else "ties excluded"
    tail = f"{votes.n} votes, {rule}, sign test {_p(votes.p_sign)}"
    if rate == 0.5:
        return None, False, f"the two win equally often ({tail})"
    side = "A" if rate > 0.5 else "B"
    if side == "B":
        rate, lo, hi = 1.0 - rate, 1.0 - hi, 1.0 - lo
    conclusive = votes.p_sign is not None and votes.p_sign < alpha and lo > 0.5 and votes.n >= min_votes
    text = f"{{{side}}} wins {rate:.0%} (95% CI {lo * 100:.0f}–{hi * 100:.0f}%, {tail})"
    return side, conclusive, text


def verdict(
    comparison: Comparison | None = None,
    *,
    metric: str = "ndcg@10",
    source: str = "",
    evidence: str = "",
    llm_trust: LlmTrust | None = None,
    agreement: RaterAgreement | None = None,
    votes: VoteSummary | None = None,
    judged_at_10: Mapping[str, float | None] | None = None,
    unpooled_share: float | None = None,
    min_queries: int = 10,
    alpha: float = 0.05,
    max_judged_gap: float = MAX_JUDGED_GAP,
    digits: int = 2,
) -> Verdict:
    """The verdict sentence, the winner (a model name or None) and the warnings (see the module docstring).

    ``source``: where the judgments came from ("pooled", "thumbs", "imported", "union" or ""); ``judged_at_10``
    defaults to the comparison's own; ``unpooled_share``: share of the judgments that are Compare-page thumbs;
    ``digits``: decimals of the metric figures and of p (the report, beside its tables, uses 3). Figures are
    written by ``core.text.numbers.number`` (U+2212 minus; a bound that rounds to 0 keeps its sign: "−0.0004").
    """
    warnings: list[str] = []
    if comparison is None and (votes is None or votes.n == 0):
        return Verdict(
            "No judgments or votes yet: judge some pooled queries or cast blind votes first.", None, []
        )
    if comparison is None:
        assert votes is not None
        side, conclusive, text = _vote_leader(votes, alpha, min_queries)
        names = {"A": votes.model_a or "A", "B": votes.model_b or "B"}
        if not text:
            return Verdict("Blind votes: none was decisive yet (only ties or 'both bad').", None, [])
        sentence = "Blind votes: " + text.format(**names) + "."
        if side is None or not conclusive:
            warnings.append(
                f"the blind votes are not conclusive yet ({votes.n} votes): a winner needs at least "
                f"{min_queries} votes, sign test p < {alpha:g} and a 95% CI above 50%"
            )
            return Verdict(sentence + " Not enough to name a winner.", None, warnings)
        return Verdict(sentence, names[side], warnings)

    key = metric_key(metric)
    if key not in comparison.paired:
        raise EvaluationError(
            f"The comparison has no paired test on {metric!r}; it has {list(comparison.paired)}."
        )
    p = comparison.paired[key]
    name = {"A": comparison.name_a, "B": comparison.name_b}
    shown = pretty_metric(key)
    blocking: list[str] = []
    head = "On " + _SOURCES.get(source, "{n} " + source + " queries").format(n=p.queries)
    head += _evidence(evidence, llm_trust, warnings, blocking)
    head += _raters(agreement, warnings)

    lead = "A" if p.diff >= 0 else "B"
    other = "B" if lead == "A" else "A"
    view = p if lead == "A" else _flip(p)  # every figure is quoted from the leader's side (leader - other)
    if p.queries < min_queries:
        blocking.append(
            f"only {p.queries} queries were evaluated (at least {min_queries} are needed to name a winner)"
        )
    if p.diff == 0.0:
        warnings.append(f"the two models score the same on {shown}")
    elif p.p_value >= alpha or p.ci_low <= 0.0 <= p.ci_high:
        why = [f"p \u2265 {alpha:g}"] if p.p_value >= alpha else []  # the figures themselves are in the claim
        why += ["the 95% CI includes 0"] if p.ci_low <= 0.0 <= p.ci_high else []
        blocking.append(f"the difference is not significant ({' and '.join(why)})")
    judged = dict(judged_at_10) if judged_at_10 is not None else dict(comparison.judged_at_10)
    ja, jb = judged.get(comparison.name_a), judged.get(comparison.name_b)
    if ja is not None and jb is not None and abs(ja - jb) > max_judged_gap:
        less = comparison.name_a if ja < jb else comparison.name_b
        cond = comparison.paired_condensed
        hint = (
            f"; condensed nDCG@10 (unjudged results left out) gives "
            f"{number(_flip(cond).diff if lead == 'B' else cond.diff, 2, sign=True)}"
            f" for {name[lead]}, {_p(cond.p_value)}"
            if cond is not None
            else ""
        )
        blocking.append(
            f"judged@10 differs between the models ({comparison.name_a} {number(ja, 2)}, {comparison.name_b} {number(jb, 2)}): "
            f"judge the pooled results of {less} to even it out{hint}"
        )
    if unpooled_share is not None and unpooled_share > 0.5:
        blocking.append(
            f"most judgments ({unpooled_share:.0%}) are Compare-page thumbs, given with model names and ranks in "
            "view: judge pooled queries on the Judge page"
        )

    ci = f"{number(view.ci_low, digits, sign=True)}..{number(view.ci_high, digits, sign=True)}"
    numbers = f"by {number(view.diff, digits)} (95% CI {ci}, {_p(view.p_value, digits)})"
    winner: str | None = None
    if p.diff == 0.0:
        claim = f"{name['A']} and {name['B']} score the same on {shown} ({number(p.mean_a, digits)})"
    elif blocking:
        claim = f"{name[lead]} scores higher than {name[other]} on {shown} {numbers}"
    else:
        claim = f"{name[lead]} beats {name[other]} on {shown} {numbers}"
        winner = name[lead]

    tail = ""
    if votes is not None and votes.n > 0:
        oriented = _orient(votes, comparison.name_a, comparison.name_b)
        side, conclusive, text = _vote_leader(oriented, alpha, min_queries)
        text = text.format(**name)
        if not text:
            tail = f"; blind votes: {votes.n}, none decisive"
        elif side is None:
            tail = f"; blind votes are split: {text}"
        elif winner is None and not blocking:
            tail = f"; blind votes: {text}"
        elif side == lead and conclusive:
            tail = f"; blind votes agree: {text}"
        elif side == lead:
            tail = f"; blind votes lean the same way, not conclusively: {text}"
        elif conclusive:
            tail = f"; but blind votes disagree: {text}"
            blocking.append(f"{shown} and the blind votes point to different models")
            winner = None
        else:
            tail = f"; blind votes lean the other way, not conclusively: {text}"

    sentence = f"{head}, {claim}{tail}."
    if p.diff == 0.0:
        sentence += " No winner" + (": " + "; ".join(blocking) if blocking else "") + "."
    elif blocking:
        sentence += " Not enough to name a winner: " + "; ".join(blocking) + "."
    return Verdict(sentence, winner, blocking + warnings)


@dataclass(frozen=True)
class GroupVerdict:
    """The verdict over a leaderboard: the sentence, the top group (None when the evidence is too thin), the lone
    winner (only when the group holds one system), warnings, and what it rests on (plain values for a report)."""

    sentence: str
    top_group: tuple[str, ...] | None
    winner: str | None
    warnings: list[str] = field(default_factory=list)
    rests_on: dict[str, object] = field(default_factory=dict)


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def leaderboard_verdict(
    board: Leaderboard,
    *,
    source: str = "",
    evidence: str = "",
    llm_trust: LlmTrust | None = None,
    agreement: RaterAgreement | None = None,
    unpooled_share: float | None = None,
    min_queries: int = 10,
    max_judged_gap: float = MAX_JUDGED_GAP,
    digits: int = 2,
) -> GroupVerdict:
    """The top group of ``board`` in words (see the module docstring).

    ``source``: where the judgments came from, as for ``verdict`` ("pooled", "thumbs", "imported", "union", "");
    ``evidence``: whose labels they are ("human", "llm", "mixed", "generated", or ""); ``agreement``: the raters'
    kappa; ``unpooled_share``: share of the judgments that are Compare-page thumbs; ``digits``: decimals.
    """
    warnings: list[str] = []
    blocking: list[str] = []
    shown = pretty_metric(board.metric)
    head = "On " + _SOURCES.get(source, "{n} " + source + " queries").format(n=board.queries)
    head += _evidence(evidence, llm_trust, warnings, blocking)
    head += _raters(agreement, warnings)
    mean = {r.system: r.means[board.metric] for r in board.rows}
    fig = {s: number(m, digits) for s, m in mean.items()}

    def listed(names: Iterable[str]) -> list[str]:
        return [f"{s} ({fig[s]})" for s in names]

    settings = "; ".join(f"{k}: {v}" for k, v in board.settings.items())
    rests_on: dict[str, object] = {
        "queries": board.queries,
        "left_out": board.left_out,
        "source": source,
        "evidence": evidence,
        "llm_trust": llm_trust,
        "raters": len(agreement.raters) if agreement is not None else None,
        "kappa": agreement.kappa if agreement is not None else None,
        "metric": board.metric,
        "correction": board.correction,
        "alpha": board.alpha,
        "settings": dict(board.settings),
    }
    if board.left_out:
        warnings.append(
            f"{board.left_out} queries were not evaluated for every system and were left out: run every system "
            "on the same query set"
        )
    if len(board.rows) == 1:
        only = board.rows[0].system
        sentence = (
            f"{head}, only {only} was evaluated ({shown} {fig[only]}): there is nothing to rank it against."
        )
        return GroupVerdict(sentence, None, None, blocking + warnings, rests_on)

    if board.queries < min_queries:
        blocking.append(
            f"only {board.queries} queries were evaluated (at least {min_queries} are needed to name a top group)"
        )
    judged = {r.system: r.means.get("judged@10") for r in board.rows}
    known = {s: j for s, j in judged.items() if j is not None}
    if len(known) > 1 and max(known.values()) - min(known.values()) > max_judged_gap:
        least = min(known, key=lambda s: (known[s], s))
        spread = ", ".join(f"{s} {number(j, 2)}" for s, j in known.items())
        blocking.append(
            f"judged@10 differs between the systems ({spread}): judge the pooled results of {least} "
            "(the Judge page pools every system's top k) to even it out"
        )
    if unpooled_share is not None and unpooled_share > 0.5:
        blocking.append(
            f"most judgments ({unpooled_share:.0%}) are Compare-page thumbs, given with model names and ranks in "
            "view: judge pooled queries on the Judge page"
        )

    order = list(board.systems)
    top = list(board.top_group)
    out = [s for s in order if s not in top]
    how = f"{board.correction}" + (f"; settings: {settings}" if settings else "")
    winner: str | None = None
    if blocking:
        claim = f"{_and(listed(order))} rank in that order on {shown}"
        sentence = (
            f"{head}, {claim}. How: {how}. Not enough to name a top group: " + "; ".join(blocking) + "."
        )
        return GroupVerdict(sentence, None, None, blocking + warnings, rests_on)

    def beaten(s: str) -> str:
        t = board.test(board.best, s)
        return f"{s} ({fig[s]}, Holm {_p(t.p_holm, digits)})" if t is not None else f"{s} ({fig[s]})"

    if not out:
        every = "both" if len(top) == 2 else f"all {len(top)}"
        claim = (
            f"no system is significantly worse than the best on {shown}: the top group holds {every}, "
            f"{_and(listed(top))}"
        )
    elif len(top) > 1:
        claim = (
            f"the top group on {shown} is {_and(listed(top))}: none is significantly worse than {board.best}, "
            f"while {_and([beaten(s) for s in out])} {'is' if len(out) == 1 else 'are'} significantly worse"
        )
    else:
        winner = board.best
        claim = (
            f"{board.best} is best on {shown} ({fig[board.best]}): every other system is significantly worse, "
            f"{_and([beaten(s) for s in out])}"
        )
    if board.tukey is not None and set(board.tukey.top_group) != set(top):
        warnings.append(
            f"Tukey's HSD (which ignores that the same queries score every system) puts "
            f"{_and(list(board.tukey.top_group))} in the top group; the paired tests are the sharper view"
        )
    sentence = f"{head}, {claim}. How: {how}."
    return GroupVerdict(sentence, tuple(top), winner, warnings, rests_on)
