"""The LLM judge: its prompt, the 0-3 -> 0/1/2 mapping, the store's merge rule (a person wins), judge_pool's skips,
reuse, no-grade counting and cancel; the readers of the store that must keep LLM grades apart from people's."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from core.ingest import ChunkOptions
from core.judging import (
    PASSAGE_CHARS,
    PROMPT_VERSION,
    JudgmentStore,
    agreement,
    judge_pool,
    judge_prompt,
    plan_judging,
    pool,
    pool_queries,
    query_id,
    rater_name,
    to_store_label,
)
from core.judging.llm_judge import GRADE_BATCH
from core.llm.base import Grade
from core.report import ReportData, add_store_figures
from core.types import Corpus
from ui.judge import export_file

QUERY = "How long is a JWT access token valid?"


class ScriptedLlm:
    """A stand-in backend: grades come from ``script(passage)``; it records every passage it was asked about."""

    name, model, host, family = "scripted", "scripted-1", "local", "test"

    def __init__(self, script: Callable[[str], int | None], *, fail_when_cancelled: bool = False) -> None:
        self.script, self.seen, self.fail_when_cancelled = script, [], fail_when_cancelled

    def grade(self, prompts, *, progress=None, cancel=None) -> list[Grade]:
        if self.fail_when_cancelled and cancel is not None and cancel():
            raise RuntimeError("stopped: the user cancelled")
        out = []
        for p in prompts:
            passage = p[-1]["content"].split("Passage: ", 1)[1].split("\n\nAnswer with", 1)[0]
            self.seen.append(passage)
            label = self.script(passage)
            out.append(Grade(label, None, "The passage is not" if label is None else str(label)))
        return out

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float:
        return 2.0

    def complete(self, prompts, *, max_tokens, seed=0, progress=None, cancel=None) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _grade_by_digit(passage: str) -> int | None:
    """'chunk-3 ...' -> grade 3; 'chunk-x' -> no grade."""
    digit = passage.split()[0][-1]
    return int(digit) if digit.isdigit() else None


@pytest.fixture()
def store(tmp_path) -> JudgmentStore:
    return JudgmentStore(tmp_path / "j.sqlite")


def _setup(n: int = 4) -> tuple[dict[str, str], dict[str, list[str]], dict[str, str]]:
    queries = {"q1": QUERY}
    chunks = {f"c{i}": f"chunk-{i % 4} text of chunk {i}" for i in range(n)}
    return queries, {"q1": list(chunks)}, chunks


def test_prompt_holds_the_query_and_the_passage_cut_to_its_stated_length():
    passage = "START " + "word " * 1000 + "END"
    prompt = judge_prompt(QUERY, passage)
    text = prompt[-1]["content"]
    assert QUERY in text and "START" in text and "END" not in text
    shown = text.split("Passage: ", 1)[1].split("\n\nAnswer with", 1)[0]
    assert len(shown) == PASSAGE_CHARS and shown.endswith("…")
    assert "single digit" in text and "3 = the passage is dedicated to the query" in text
    assert (
        judge_prompt(QUERY, "short  \n passage")[-1]["content"].count("short passage") == 1
    )  # whitespace collapsed


def test_umbrela_grades_map_onto_the_stores_labels_with_0_and_1_not_relevant():
    assert [to_store_label(g) for g in (0, 1, 2, 3)] == [0, 0, 1, 2]
    assert to_store_label(None) is None
    with pytest.raises(ValueError, match="0, 1, 2 or 3"):
        to_store_label(4)


def test_a_persons_judgment_wins_over_the_llms_and_human_qrels_never_hold_llm_labels(store):
    kw = {"query": QUERY, "pool_depth": 10}
    store.record(chunk_id="both", label=0, rater="ana", origin="pooled", **kw)
    store.record(chunk_id="both", label=2, rater="judge · umbrela-v1", origin="llm", **kw)
    store.record(chunk_id="llm-only", label=1, rater="judge · umbrela-v1", origin="llm", **kw)
    store.record(chunk_id="thumbs-only", label=2, rater="bo", origin="thumbs", query=QUERY)
    store.record(chunk_id="thumbs-only", label=0, rater="judge · umbrela-v1", origin="llm", **kw)
    qid = query_id(QUERY)
    assert store.qrels("union")[1][qid] == {"both": 0, "llm-only": 1, "thumbs-only": 2}
    assert store.qrels("human")[1][qid] == {"both": 0, "thumbs-only": 2}
    assert store.qrels("llm")[1][qid] == {"both": 2, "llm-only": 1, "thumbs-only": 0}
    # a store with only LLM grades has no human qrels at all
    only = JudgmentStore(store.path.with_name("only.sqlite"))
    only.record(chunk_id="c", label=2, rater="judge", origin="llm", **kw)
    assert only.qrels("human") == ({}, {})


def test_llm_labels_keep_the_stores_checks_and_survive_dump_and_load(store, tmp_path):
    with pytest.raises(ValueError, match="label must be 0, 1 or 2"):
        store.record(query=QUERY, chunk_id="c", label=3, rater="judge", origin="llm")  # a raw 0-3 grade
    store.record(query=QUERY, chunk_id="c", label=2, rater="judge · umbrela-v1", origin="llm", pool_depth=10)
    copy = JudgmentStore(tmp_path / "copy.sqlite")
    assert copy.load(store.dump()) == 1
    assert [(j.origin, j.rater, j.label) for j in copy.judgments()] == [("llm", "judge · umbrela-v1", 2)]


def test_people_agreement_and_the_report_leave_the_llm_judge_out(store):
    kw = {"query": QUERY, "pool_depth": 10}
    for cid, a, b, llm in (("c1", 2, 2, 0), ("c2", 0, 1, 2), ("c3", 1, 1, 1)):
        store.record(chunk_id=cid, label=a, rater="ana", origin="pooled", **kw)
        store.record(chunk_id=cid, label=b, rater="bo", origin="pooled", **kw)
        store.record(chunk_id=cid, label=llm, rater="judge · umbrela-v1", origin="llm", **kw)
    assert agreement(store.judgments()).raters == ("ana", "bo")
    data = ReportData(
        corpus=Corpus(chunks=(), files=(), sha256="x"), corpus_label="c", chunking=ChunkOptions(), models=[],
        queries={}, query_source="test",
    )  # fmt: skip
    add_store_figures(data, store)
    assert data.raters is not None and data.raters.raters == ("ana", "bo")
    assert data.judgment_origins == {"pooled": 6, "llm": 3}


def test_pool_queries_is_the_judge_pages_pool():
    rankings = {"q1": [("a", "b", "c"), ("c", "d", "e"), ("f", "a")]}
    got = pool_queries({"q1": QUERY}, rankings, 2)
    assert got["q1"] == pool(("a", "b", "c"), ("c", "d", "e"), 2, seed=query_id(QUERY), more=[("f", "a")])
    assert set(got["q1"]) == {"a", "b", "c", "d", "f"}


def test_judge_pool_stores_llm_grades_skips_what_a_person_judged_and_counts_missing_grades(store):
    queries, pools, chunks = _setup(4)
    chunks["c5"] = "chunk-x an answer the model refused"
    pools["q1"].append("c5")
    store.record(query=QUERY, chunk_id="c1", label=2, rater="ana", origin="pooled", pool_depth=10)
    llm = ScriptedLlm(_grade_by_digit)
    plan = plan_judging(llm, store, queries, pools, chunks)
    assert (plan.pairs, len(plan.todo), plan.human) == (5, 4, 1)
    assert plan.seconds == pytest.approx(4 * 2.0)  # pairs to grade x the backend's seconds per prompt
    seen: list[tuple[int, int]] = []
    run = judge_pool(llm, store, queries, pools, chunks, depth=10, progress=lambda d, t: seen.append((d, t)))
    assert (run.judged, run.skipped_human, run.no_grade, run.cancelled) == (3, 1, 1, False)
    assert run.no_grade_examples == [("q1", "c5", "The passage is not")]
    assert not any("chunk-1" in p for p in llm.seen)  # the person's pair was never sent
    assert run.labels == {"q1": {"c0": 0, "c2": 1, "c3": 2}}  # grades 0, 2, 3 mapped; c5 absent
    assert seen[-1] == (4, 4)
    rows = store.judgments(origin="llm")
    assert {(j.chunk_id, j.label) for j in rows} == {("c0", 0), ("c2", 1), ("c3", 2)}
    assert {j.rater for j in rows} == {f"scripted · {PROMPT_VERSION}"} == {rater_name(llm)}
    assert {j.query_id for j in rows} == {query_id(QUERY)} and {j.pool_depth for j in rows} == {10}
    assert store.qrels("union")[1][query_id(QUERY)]["c1"] == 2  # the person's label stands


def test_a_rerun_reuses_the_grades_this_judge_gave_and_asks_only_for_the_rest(store):
    queries, pools, chunks = _setup(4)
    llm = ScriptedLlm(_grade_by_digit)
    first = judge_pool(llm, store, queries, pools, chunks, depth=5)
    asked = len(llm.seen)
    pools["q1"].append("c4")
    chunks["c4"] = "chunk-2 one more"
    again = judge_pool(llm, store, queries, pools, chunks, depth=5)
    assert (again.judged, again.cached) == (1, 4) and len(llm.seen) == asked + 1
    assert again.labels["q1"] == {**first.labels["q1"], "c4": 1}


def test_grade_judged_pairs_too_for_calibration_and_the_person_still_wins(store):
    queries, pools, chunks = _setup(2)
    store.record(query=QUERY, chunk_id="c1", label=0, rater="ana", origin="pooled", pool_depth=10)
    run = judge_pool(ScriptedLlm(lambda p: 3), store, queries, pools, chunks, depth=10, skip_human=False)
    assert (run.judged, run.skipped_human) == (2, 0)
    assert store.qrels("llm")[1][query_id(QUERY)] == {"c0": 2, "c1": 2}
    assert store.qrels("union")[1][query_id(QUERY)] == {"c0": 2, "c1": 0}


def test_cancel_keeps_every_batch_already_graded(store):
    queries, pools, chunks = _setup(GRADE_BATCH + 3)
    llm = ScriptedLlm(lambda p: 2)
    calls = {"n": 0}

    def cancel() -> bool:  # pressed while the first batch was being graded
        calls["n"] += 1
        return calls["n"] > 1

    run = judge_pool(llm, store, queries, pools, chunks, depth=10, cancel=cancel)
    assert run.cancelled and run.judged == GRADE_BATCH
    assert len(store.judgments(origin="llm")) == GRADE_BATCH
    assert "cancelled" in run.sentence()
    # a backend that stops with its own error once cancelled counts as cancelled too, keeping what was stored
    calls["n"] = 0
    pools["q1"] += ["n1", "n2"]
    chunks |= {"n1": "chunk-1 new", "n2": "chunk-2 new"}
    stopped = judge_pool(
        ScriptedLlm(lambda p: 2, fail_when_cancelled=True),
        store,
        queries,
        pools,
        chunks,
        depth=10,
        cancel=cancel,
    )
    assert stopped.cancelled and stopped.judged == 0 and stopped.cached == GRADE_BATCH
    assert len(store.judgments(origin="llm")) == GRADE_BATCH


def test_a_backend_error_without_cancel_is_raised_not_hidden(store):
    queries, pools, chunks = _setup(2)

    class Broken(ScriptedLlm):
        def grade(self, prompts: Sequence, *, progress=None, cancel=None):
            raise RuntimeError("server said 500")

    with pytest.raises(RuntimeError, match="500"):
        judge_pool(Broken(_grade_by_digit), store, queries, pools, chunks, depth=10)


def test_a_pool_chunk_without_text_is_refused_by_name(store):
    queries, pools, chunks = _setup(2)
    pools["q1"].append("ghost")
    with pytest.raises(ValueError, match="ghost"):
        plan_judging(ScriptedLlm(_grade_by_digit), store, queries, pools, chunks)


def test_the_judge_pages_qrels_export_holds_people_labels_only_and_the_csv_marks_llm_rows(store):
    kw = {"query": QUERY, "pool_depth": 10}
    store.record(chunk_id="person", label=2, rater="ana", origin="pooled", **kw)
    store.record(chunk_id="llm", label=2, rater="judge · umbrela-v1", origin="llm", **kw)
    qrels = export_file(store, "qrels.txt")
    assert "person" in qrels and "llm" not in qrels  # read back, an LLM grade would pass for a person's
    assert ",llm" in export_file(store, "judgments.csv")
