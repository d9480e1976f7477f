"""Every system in one leaderboard: Holm-corrected paired tests, the top group, the verdict, the System -> Run path.

References: Holm's correction against the worked example of the Holm-Bonferroni method (Wikipedia, four
hypotheses) and against the step-down rejection rule it is defined by; the paired randomisation p value against
``scipy.stats.permutation_test(permutation_type="samples")`` computed exactly on small fixed cases; Tukey's HSD
against ``scipy.stats.tukey_hsd``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import permutation_test, tukey_hsd

from core.evaluation import (
    EvaluationError,
    SystemRun,
    evaluate,
    holm,
    leaderboard,
    leaderboard_of_runs,
    leaderboard_verdict,
    run_retrieval,
    run_system,
)
from core.evaluation.significance import randomization_test
from core.types import Chunk, Corpus, Hit, SearchParams, SearchResult

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"


# --- Holm ---------------------------------------------------------------------------------------------------


def test_holm_matches_the_published_four_hypothesis_example():
    # Holm-Bonferroni worked example: p = 0.01, 0.04, 0.03, 0.005 at alpha 0.05 rejects H1 and H4 only;
    # adjusted: 4 x 0.005 = 0.02, 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [p < 0.05 for p in adjusted] == [True, False, False, True]
    assert holm([0.6, 0.9]) == [1.0, 1.0]  # capped at 1, and never below a smaller raw p's adjusted value


def _step_down_rejections(p: list[float], alpha: float) -> set[int]:
    """Holm's procedure as defined: reject in order of p while p_(i) <= alpha / (m - i), i from 0."""
    out: set[int] = set()
    for i, j in enumerate(sorted(range(len(p)), key=lambda j: p[j])):
        if p[j] > alpha / (len(p) - i):
            break
        out.add(j)
    return out


def test_holm_adjusted_p_values_reject_exactly_what_the_step_down_rule_rejects():
    rng = np.random.default_rng(7)
    for _ in range(300):
        p = (rng.random(int(rng.integers(1, 9))) ** 3).tolist()
        adjusted = holm(p)
        for alpha in (0.01, 0.05, 0.1, 0.2):
            assert {j for j, a in enumerate(adjusted) if a <= alpha} == _step_down_rejections(p, alpha)


def test_holm_refuses_values_that_are_not_p_values():
    with pytest.raises(EvaluationError, match="between 0 and 1"):
        holm([0.2, 1.5])


# --- the paired randomisation test against scipy -------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b",
    [
        ([0.9, 0.8, 0.7, 1.0, 0.6, 0.5, 0.9, 0.8], [0.7, 0.8, 0.5, 0.6, 0.7, 0.2, 0.6, 0.9]),
        ([1.0, 0.63, 0.5, 0.0, 0.43, 1.0, 0.39, 0.5, 1.0], [0.63, 0.63, 1.0, 0.0, 0.5, 0.5, 0.43, 0.39, 0.0]),
        ([0.5] * 12, [0.0] * 10 + [1.0] * 2),
    ],
)
def test_the_randomisation_p_value_is_scipys_exact_paired_permutation_p_value(a, b):
    exact = permutation_test(
        (np.array(a), np.array(b)),
        lambda x, y, axis: np.mean(x - y, axis=axis),
        permutation_type="samples",
        alternative="two-sided",
        n_resamples=math.inf,
    ).pvalue
    ours = randomization_test(np.array(a) - np.array(b), n_resamples=200_000, seed=3)
    assert ours == pytest.approx(exact, abs=0.005)  # Monte Carlo: 3 standard errors at 200,000 flips


# --- the top group on constructed runs ------------------------------------------------------------------------

N_QUERIES = 30
QRELS = {f"q{i}": {f"rel{i}": 1} for i in range(N_QUERIES)}


def _run(rank_of: dict[str, int]) -> dict[str, dict[str, float]]:
    """A run that puts query q's one relevant document at rank rank_of[q] among 20 results."""
    run = {}
    for q, r in rank_of.items():
        i = q[1:]
        docs = [f"other{i}_{j}" for j in range(19)]
        docs.insert(r - 1, f"rel{i}")
        run[q] = {d: 100.0 - n for n, d in enumerate(docs)}
    return run


def _rotating(offset: int, ranks: tuple[int, ...]) -> dict[str, dict[str, float]]:
    return _run({f"q{i}": ranks[(i + offset) % len(ranks)] for i in range(N_QUERIES)})


def test_one_clearly_best_system_is_a_top_group_of_one_and_the_lone_winner():
    runs = {"A": _rotating(0, (1,)), "B": _rotating(0, (3,)), "C": _rotating(0, (5,))}
    board = leaderboard_of_runs(runs, QRELS, n_resamples=2000)
    assert board.systems == ("A", "B", "C") and board.best == "A"
    assert board.top_group == ("A",)
    assert all(t.significant for t in board.tests) and len(board.tests) == 2
    v = leaderboard_verdict(board, source="imported", evidence="human")
    assert v.top_group == ("A",) and v.winner == "A"
    assert "A is best on nDCG@10" in v.sentence and "Holm" in v.sentence and "30 queries" in v.sentence


def test_three_tied_systems_are_all_in_the_top_group_and_no_winner_is_named():
    runs = {name: _rotating(off, (1, 2, 3)) for off, name in enumerate("ABC")}
    board = leaderboard_of_runs(runs, QRELS, n_resamples=2000)
    means = {r.system: r.means["ndcg@10"] for r in board.rows}
    assert len(set(means.values())) == 1  # the same mean, reached on different queries
    assert set(board.top_group) == {"A", "B", "C"}
    v = leaderboard_verdict(board)
    assert v.winner is None and set(v.top_group or ()) == {"A", "B", "C"}
    assert "no system is significantly worse than the best" in v.sentence and "all 3" in v.sentence


def test_two_tied_at_the_top_and_one_clearly_worse():
    runs = {"A": _rotating(0, (1, 2)), "B": _rotating(1, (1, 2)), "C": _rotating(0, (8,))}
    for comparisons in ("best", "all"):
        board = leaderboard_of_runs(runs, QRELS, comparisons=comparisons, n_resamples=2000)
        assert set(board.top_group) == {"A", "B"} and "C" not in board.top_group
        assert len(board.tests) == (2 if comparisons == "best" else 3)
    v = leaderboard_verdict(board)
    assert v.winner is None and set(v.top_group or ()) == {"A", "B"}
    assert "the top group on nDCG@10 is A" in v.sentence and "C (" in v.sentence
    row = {r["system"]: r for r in board.table()}
    assert row["C"]["top_group"] is False and row["C"]["p_holm"] < 0.05 and row["A"]["top_group"] is True


def _evaluations(columns: dict[str, list[float]]):
    """Evaluations with given per-query nDCG@10 values (as evaluate would return them)."""
    from core.evaluation import Evaluation

    out = {}
    for name, values in columns.items():
        per_query = {f"q{i:02d}": {"ndcg@10": v} for i, v in enumerate(values)}
        out[name] = Evaluation(
            per_query=per_query, mean={"ndcg@10": float(np.mean(values))}, metrics=("ndcg@10",)
        )
    return out


def test_a_difference_significant_alone_is_not_after_holms_correction():
    # each of X and Y loses to the best on 10 of 12 queries by the same margin: exact raw p = 0.0386 each
    best = [0.5] * 12
    x = [0.0] * 10 + [1.0] * 2
    y = [1.0] * 2 + [0.0] * 10
    board = leaderboard(_evaluations({"best": best, "X": x, "Y": y}), n_resamples=20_000)
    raw = {t.b: t.result.p_value for t in board.tests}
    assert all(0.03 < p < 0.05 for p in raw.values())  # each would be "significant" on its own...
    assert all(t.p_holm >= 0.05 for t in board.tests)  # ...but not as one of two comparisons
    assert set(board.top_group) == {"best", "X", "Y"}


def test_tukey_hsd_is_scipys_and_ignores_the_pairing_that_the_paired_tests_use():
    rng = np.random.default_rng(1)
    a = rng.random(40)  # queries differ a lot in difficulty...
    b = np.clip(a - 0.05, 0, 1)  # ...and B is a little worse on every one of them
    c = rng.random(40) * 0.5
    board = leaderboard(
        _evaluations({"A": a.tolist(), "B": b.tolist(), "C": c.tolist()}), tukey=True, n_resamples=5000
    )
    assert board.tukey is not None
    ref = tukey_hsd(a, b, c).pvalue
    assert board.tukey.pvalues[("A", "B")] == pytest.approx(ref[0, 1])
    assert board.tukey.pvalues[("C", "A")] == pytest.approx(ref[2, 0])
    assert board.top_group == ("A",)  # paired: B's loss on every query is significant
    assert set(board.tukey.top_group) == {"A", "B"}  # independent samples: the query spread hides it
    v = leaderboard_verdict(board)
    assert any("Tukey" in w for w in v.warnings)


def test_thin_evidence_names_no_top_group():
    few = {q: QRELS[q] for q in list(QRELS)[:6]}
    runs = {"A": _rotating(0, (1,)), "B": _rotating(0, (5,))}
    v = leaderboard_verdict(leaderboard_of_runs(runs, few, n_resamples=500))
    assert v.top_group is None and v.winner is None
    assert "Not enough to name a top group" in v.sentence and "only 6 queries" in v.sentence
    # unevenly judged: B's top 10 mostly unjudged (judged@10 far below A's)
    judged = {q: {**QRELS[q], **{f"other{q[1:]}_{j}": 0 for j in range(9)}} for q in QRELS}
    runs_b = _rotating(0, (2,))
    runs_b = {q: {d.replace("other", "unjudged"): s for d, s in docs.items()} for q, docs in runs_b.items()}
    v = leaderboard_verdict(
        leaderboard_of_runs({"A": _rotating(0, (1,)), "B": runs_b}, judged, n_resamples=500)
    )
    assert (
        v.top_group is None
        and "judged@10 differs" in v.sentence
        and "judge the pooled results of B" in v.sentence
    )


def test_a_query_some_system_lacks_is_left_out_and_said():
    runs = {"A": _rotating(0, (1,)), "B": {q: d for q, d in _rotating(0, (2,)).items() if q != "q0"}}
    board = leaderboard_of_runs(runs, QRELS, n_resamples=500)
    assert board.queries == N_QUERIES - 1 and board.left_out == 1
    assert any(
        "1 queries were not evaluated for every system" in w for w in leaderboard_verdict(board).warnings
    )


def test_per_group_rows_rank_within_each_language_pair():
    # A wins the en->en queries, B the en->zh ones: each group has its own top group
    ranks_a = {f"q{i}": 1 if i < 15 else 6 for i in range(N_QUERIES)}
    ranks_b = {f"q{i}": 6 if i < 15 else 1 for i in range(N_QUERIES)}
    groups = {f"q{i}": "en->en" if i < 15 else "en->zh" for i in range(N_QUERIES)}
    board = leaderboard_of_runs(
        {"A": _run(ranks_a), "B": _run(ranks_b)}, QRELS, groups=groups, n_resamples=2000
    )
    assert set(board.top_group) == {"A", "B"}  # over all queries they tie
    rows = {g["group"]: g for g in board.group_table()}
    assert rows["en->en"]["queries"] == 15 and rows["en->en"]["top_group"] == "A"
    assert rows["en->zh"]["top_group"] == "B" and rows["en->zh"]["B"] == 1.0


# --- System -> Run ----------------------------------------------------------------------------------------------


class _ListSystem:
    """A system answering fixed (chunk, score) lists, as BM25 does: only the chunks that match, at most k."""

    name, kind, index_bytes, build_seconds = "fixed", "bm25", 123, 0.5

    def __init__(self, corpus: Corpus, hits: dict[str, list[tuple[int, float]]]):
        self.corpus, self.hits, self.calls = corpus, hits, []

    def search_many(self, queries, params=SearchParams()):
        self.calls.append((list(queries), params.k))
        out = []
        for q in queries:
            found = self.hits[q][: params.k]
            hits = tuple(Hit(r + 1, s, c, self.corpus.chunks[c].id) for r, (c, s) in enumerate(found))
            out.append(
                SearchResult(hits, embed_ms=1.0, search_ms=2.0, dims=0, extra={"rerank_ms": 4.0, "n": 9})
            )
        return out


def test_a_system_run_scores_a_document_by_its_best_chunk_and_stops_when_the_system_has_no_more():
    chunks = tuple(
        Chunk(id=f"{src}#{i}", source=src, text=f"text {src} {i}", lang="en")
        for src in ("a.md", "b.md", "c.md")
        for i in range(3)
    )
    corpus = Corpus(chunks=chunks, files=(), sha256="x", name="three files")
    # q1: all hits are chunks of a.md then one of b.md (fewer than asked: the system has no more)
    system = _ListSystem(corpus, {"x": [(0, 9.0), (1, 8.0), (2, 7.0), (4, 5.0)], "y": [(8, 3.0)]})
    got = run_system(system, {"q1": "x", "q2": "y", "q3": "  "}, k=3, doc_id="source")
    assert isinstance(got, SystemRun) and got.kind == "bm25" and got.index_bytes == 123
    assert got.run == {"q1": {"a.md": 9.0, "b.md": 5.0}, "q2": {"c.md": 3.0}, "q3": {}}
    assert len(system.calls) == 1  # short answers are final: no deeper fetch was asked for
    assert got.latency is not None and got.latency.p50_ms == 7.0 and got.latency.queries == 2
    assert got.latency.stages_p50_ms == {"embed_ms": 1.0, "search_ms": 2.0, "rerank_ms": 4.0}


@pytest.mark.slow  # builds the real all-MiniLM-L6-v2 index of the sample corpus (about 20 s alone on 2 cores)
def test_the_system_path_gives_the_vector_paths_hits_for_a_real_model(tmp_path):
    from core.datasets import load_eval_set
    from core.models import load_embedder, resolve_model
    from core.search import build_model_index
    from core.store import EmbeddingStore

    data = load_eval_set(SAMPLE)
    mi = build_model_index(
        data.corpus,
        load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu"),
        store=EmbeddingStore(tmp_path),
    )
    kw = dict(k=100, exact=True, doc_id="auto", qrels=data.qrels)
    vector = run_retrieval(mi, data.queries, **kw)
    system = run_system(mi, data.queries, **kw)
    assert {q: list(d) for q, d in system.run.items()} == {q: list(d) for q, d in vector.items()}  # same hits
    ndcg_v = evaluate(vector, data.qrels, ["ndcg@10"]).mean["ndcg@10"]
    ndcg_s = evaluate(system.run, data.qrels, ["ndcg@10"]).mean["ndcg@10"]
    assert ndcg_s == pytest.approx(ndcg_v, abs=1e-12) and ndcg_v > 0.3
    lat = system.latency
    assert lat is not None and lat.queries == len(data.queries) and 0 < lat.p50_ms <= lat.p95_ms
    assert system.kind == "dense" and system.name == "all-MiniLM-L6-v2"
