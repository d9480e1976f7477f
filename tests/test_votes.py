"""Blind votes: Wilson interval and sign test against scipy, the ties rule, per language pair."""

import pytest
from scipy.stats import binomtest

from core.judging.store import Vote
from core.judging.votes import by_language_pair, vote_summary, wilson_interval


def _votes(spec, model_a="m1", model_b="m2"):
    """spec: outcomes "A"/"B"/"tie"/"both_bad"; sides alternate so both left and right get clicked."""
    out = []
    for i, outcome in enumerate(spec):
        left = "A" if i % 2 else "B"
        if outcome in ("A", "B"):
            winner = "left" if outcome == left else "right"
        else:
            winner = outcome
        out.append(Vote(f"q{i}", f"query {i}", model_a, model_b, left, winner, "ann", float(i), 10))
    return out


@pytest.mark.parametrize("k,n", [(0, 5), (3, 10), (37, 58), (58, 58), (120, 200)])
def test_wilson_interval_matches_scipy(k, n):
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert wilson_interval(k, n) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_exclude_rule_counts_only_decisive_votes_and_matches_scipy():
    votes = _votes(["A"] * 37 + ["B"] * 21 + ["tie"] * 5 + ["both_bad"] * 2)
    s = vote_summary(votes, ties="exclude")
    assert (s.n, s.a_wins, s.b_wins, s.ties, s.both_bad, s.ties_rule) == (65, 37, 21, 5, 2, "exclude")
    assert s.win_rate_a == pytest.approx(37 / 58)
    ci = binomtest(37, 58).proportion_ci(method="wilson")
    assert (s.ci_low, s.ci_high) == pytest.approx((ci.low, ci.high))
    assert s.p_sign == pytest.approx(binomtest(37, 58, 0.5).pvalue)
    assert s.p_sign < 0.05
    assert "left out" in s.ties_note


def test_split_rule_gives_ties_half_a_win_and_keeps_the_sign_test():
    votes = _votes(["A"] * 6 + ["B"] * 2 + ["tie"] * 2)
    s = vote_summary(votes)  # split is the default
    assert s.ties_rule == "split" and s.win_rate_a == pytest.approx(7 / 10)
    assert (s.ci_low, s.ci_high) == pytest.approx(wilson_interval(7, 10))
    assert s.p_sign == pytest.approx(binomtest(6, 8).pvalue)  # ties never enter the sign test


def test_sides_and_model_order_do_not_change_the_result():
    votes = _votes(["A"] * 5 + ["B"] * 3)
    flipped = [Vote(v.query_id, v.query, v.model_b, v.model_a, "B" if v.left == "A" else "A", v.winner,
                    v.rater, v.time, v.k) for v in votes]  # same clicks, models stored the other way round
    a = vote_summary(votes, models=("m1", "m2"))
    b = vote_summary(flipped, models=("m1", "m2"))
    assert (a.a_wins, a.b_wins) == (b.a_wins, b.b_wins) == (5, 3)


def test_mixed_pairs_need_a_choice_and_no_votes_give_no_rate():
    mixed = _votes(["A"]) + _votes(["B"], model_a="m1", model_b="m3")
    with pytest.raises(ValueError, match="models="):
        vote_summary(mixed)
    assert vote_summary(mixed, models=("m1", "m3")).b_wins == 1
    empty = vote_summary([], ties="exclude")
    assert (empty.n, empty.win_rate_a, empty.p_sign) == (0, None, None)
    ties_only = vote_summary(_votes(["tie", "tie"]), ties="exclude")
    assert ties_only.win_rate_a is None and ties_only.p_sign is None


def test_by_language_pair_groups_votes():
    votes = _votes(["A", "A", "B", "tie"])
    langs = {"q0": "en->en", "q1": "zh->zh", "q2": "en->en"}
    got = by_language_pair(votes, langs, ties="exclude")
    assert list(got) == ["en->en", "unknown", "zh->zh"]
    assert (got["en->en"].a_wins, got["en->en"].b_wins) == (1, 1)
    assert got["unknown"].ties == 1 and got["zh->zh"].win_rate_a == 1.0


def test_votes_csv_is_formula_safe_and_says_the_outcome():
    import csv
    import io

    from core.datasets.qrels_io import VOTES_CSV_COLUMNS, format_votes_csv

    hostile = [
        Vote("q1", '=HYPERLINK("http://evil","x")', "+m1", "@m2", "A", "right", "-ann", 1764634766.5, 10),
        Vote("q2", "如何实现基于 JWT 的用户鉴权？", "+m1", "@m2", "B", "left", "\tbob", 1764634767.0, 5),
        Vote("q3", "'quoted, with comma", "+m1", "@m2", "A", "both_bad", "carol", 1764634768.0, 10),
    ]
    text = format_votes_csv(hostile)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == VOTES_CSV_COLUMNS
    cells = [c for row in rows[1:] for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]  # no cell a spreadsheet runs
    table = [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]
    assert [r["outcome"] for r in table] == ["B", "B", "both_bad"]  # the click translated to models
    assert table[0]["query"] == "'" + hostile[0].query and table[1]["query"] == hostile[1].query
    assert table[2]["query"] == "''quoted, with comma"  # a leading quote is kept, doubled
    assert (table[0]["model_a"], table[0]["model_b"], table[0]["rater"]) == ("'+m1", "'@m2", "'-ann")
    assert table[0]["time_utc"] == "2025-12-02T00:19:26.500000Z" and float(table[0]["time"]) == 1764634766.5
