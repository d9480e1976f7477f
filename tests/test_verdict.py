"""The verdict sentence: cites what it rests on, names no winner when the evidence is thin."""

from core.evaluation.decide import verdict
from core.evaluation.run import Comparison, Evaluation
from core.evaluation.significance import PairedResult
from core.judging.rater_agreement import RaterAgreement
from core.judging.votes import VoteSummary


def _cmp(n=40, diff=0.07, lo=0.02, hi=0.12, p=0.01, judged=(0.95, 0.93)):
    paired = PairedResult("ndcg@10", n, 0.6 + diff, 0.6, diff, 25, 5, 10, p, lo, hi, 10_000, 0)
    ev = [Evaluation({}, {}, ("ndcg@10",), {}, {"judged@10": j, "ndcg_condensed@10": 0.6}) for j in judged]
    return Comparison("e5", "bge", ev[0], ev[1], {"ndcg@10": paired})


KAPPA = RaterAgreement("cohen", 0.71, ("ann", "bob"), 120, [], 0.8)


def _votes(a, b, ties=0, lo=0.52, hi=0.75, p=0.03, models=("e5", "bge")):
    n = a + b + ties
    return VoteSummary(n, a, b, ties, 0, (a + ties / 2) / n, lo, hi, p, "split", *models)


def test_a_clear_win_cites_queries_raters_kappa_ci_p_and_votes():
    v = verdict(_cmp(), source="pooled", agreement=KAPPA, votes=_votes(37, 21))
    assert v.winner == "e5" and v.warnings == []
    assert v.sentence == (
        "On 40 pooled queries judged by 2 raters (kappa 0.71), e5 beats bge on nDCG@10 by 0.07 "
        "(95% CI +0.02..+0.12, p = 0.01); blind votes agree: e5 wins 64% (95% CI 52–75%, 58 votes, "
        "ties split, sign test p = 0.03)."
    )


def test_b_leading_is_reported_from_b_s_side():
    v = verdict(_cmp(diff=-0.05, lo=-0.09, hi=-0.01, p=0.02), source="pooled")
    assert v.winner == "bge"
    assert "bge beats e5 on nDCG@10 by 0.05 (95% CI +0.01..+0.09, p = 0.02)" in v.sentence


def test_thin_evidence_names_no_winner_and_says_why():
    few = verdict(_cmp(n=6))
    assert few.winner is None and "Not enough to name a winner" in few.sentence
    assert "scores higher than" in few.sentence and "beats" not in few.sentence
    assert any("only 6 queries" in w for w in few.warnings)
    noisy = verdict(_cmp(lo=-0.02, p=0.21))
    assert noisy.winner is None and any("not significant (p \u2265 0.05 and the 95% CI includes 0)" in w for w in noisy.warnings)
    uneven = verdict(_cmp(judged=(0.95, 0.7)))
    assert uneven.winner is None and any("judged@10 differs" in w and "bge" in w for w in uneven.warnings)
    thumbs = verdict(_cmp(), unpooled_share=0.8)
    assert thumbs.winner is None and any("80%" in w and "thumbs" in w for w in thumbs.warnings)


def test_votes_that_disagree_withhold_the_winner_and_swapped_votes_are_oriented():
    against = verdict(_cmp(), votes=_votes(21, 37, lo=0.25, hi=0.48))
    assert against.winner is None and "but blind votes disagree: bge wins 64%" in against.sentence
    swapped = _votes(21, 37, lo=0.25, hi=0.48, models=("bge", "e5"))  # bge is A in the votes
    agree = verdict(_cmp(), votes=swapped)
    assert agree.winner == "e5" and "blind votes agree: e5 wins 64% (95% CI 52–75%" in agree.sentence


def test_low_kappa_warns_without_withholding():
    v = verdict(_cmp(), agreement=RaterAgreement("cohen", 0.15, ("ann", "bob"), 30, [], 0.5))
    assert v.winner == "e5" and any("agree poorly" in w for w in v.warnings)


def test_votes_alone_and_nothing_at_all():
    alone = verdict(votes=_votes(37, 21))
    assert alone.winner == "e5" and alone.sentence.startswith("Blind votes: e5 wins 64%")
    few = verdict(votes=_votes(4, 2, lo=0.3, hi=0.9, p=0.69))
    assert few.winner is None and few.warnings
    assert verdict().winner is None


def test_a_tie_names_no_winner():
    v = verdict(_cmp(diff=0.0, lo=0.0, hi=0.0, p=1.0))
    assert v.winner is None and "score the same on nDCG@10" in v.sentence and v.sentence.endswith("No winner.")


def test_a_b_lead_that_is_not_significant_quotes_one_side_throughout():
    # B ahead by 0.05, CI of A - B -0.09..+0.01: every figure is quoted as B - A, so no sign flips mid-sentence.
    v = verdict(_cmp(diff=-0.05, lo=-0.09, hi=0.01, p=0.2), source="pooled")
    assert v.winner is None
    assert "bge scores higher than e5 on nDCG@10 by 0.05 (95% CI \u22120.01..+0.09, p = 0.20)" in v.sentence
    assert v.sentence.endswith("not significant (p \u2265 0.05 and the 95% CI includes 0).")
    assert v.sentence.count("..") == 1  # the CI figures once; the reason says what they mean
    assert "0.09" not in v.sentence.replace("+0.09", "")  # never A's side (\u22120.09) mid-sentence


def test_a_ci_bound_that_rounds_to_zero_keeps_its_sign():
    # the sample corpus's nDCG@10 CI of A - B is -0.0004..+0.152: it includes 0, so it must not read "0.00.."
    v = verdict(_cmp(n=58, diff=0.0752, lo=-0.0004, hi=0.1518, p=0.059))
    assert "by 0.08 (95% CI \u22120.0004..+0.15, p = 0.06)" in v.sentence and v.winner is None
    assert "-0.00" not in v.sentence and "\u22120.00." not in v.sentence
    three = verdict(_cmp(n=58, diff=0.0752, lo=-0.0004, hi=0.1518, p=0.059), digits=3)
    assert "by 0.075 (95% CI \u22120.0004..+0.152, p = 0.059)" in three.sentence


# -- whose labels: the LLM rule and the generated-query bias -----------------------------------------------------


def _clear_win() -> Comparison:
    """A comparison A wins clearly (40 queries, CI above 0, p 0.01)."""
    return _cmp()


def test_llm_labels_name_no_winner_unless_checked_against_people():
    unchecked = verdict(_clear_win(), evidence="llm")
    assert unchecked.winner is None
    assert "not checked against people" in unchecked.sentence
    failed = verdict(_clear_win(), evidence="llm", llm_trust=(False, "weighted kappa 0.21 over 40 shared pairs"))
    assert failed.winner is None and "kappa 0.21" in failed.sentence
    passed = verdict(_clear_win(), evidence="llm", llm_trust=(True, "weighted kappa 0.62 over 40 shared pairs"))
    assert passed.winner is not None
    assert "an LLM's labels" in passed.sentence
    assert any("kappa 0.62" in w for w in passed.warnings)


def test_generated_queries_name_a_winner_with_their_bias_stated():
    found = verdict(_clear_win(), evidence="generated")
    assert found.winner is not None
    assert "generated queries" in found.sentence
    assert any("lexical" in w for w in found.warnings)
