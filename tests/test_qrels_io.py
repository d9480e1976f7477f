"""Graded TREC qrels and judgments CSV: round trips and errors that name the line."""

import pytest

from core.datasets.qrels_io import (
    format_judgments_csv,
    format_trec_qrels,
    parse_judgments_csv,
    parse_trec_qrels,
    qrels_judgments,
)
from core.errors import IngestError
from core.judging.store import Judgment, JudgmentStore

QRELS = {"q1": {"doc a.md": 2, "c2": 0, "c3": 1}, "q 2": {"c9": 3}}


def test_trec_qrels_round_trip_keeps_grades_and_odd_ids():
    text = format_trec_qrels(QRELS)
    assert text.splitlines()[0] == "q%202 0 c9 3"
    assert parse_trec_qrels(text, "x.qrels") == QRELS


def test_trec_qrels_errors_name_the_file_and_line():
    with pytest.raises(IngestError, match=r"my\.qrels line 2: score 'high'"):
        parse_trec_qrels("q1 0 c1 1\nq1 0 c2 high\n", "my.qrels")
    with pytest.raises(IngestError, match="line 2: expected 3 .* or 4 TREC columns"):
        parse_trec_qrels("q1 0 c1 1\nq1 c2\n", "my.qrels")
    with pytest.raises(IngestError, match="line 3: .*already graded 1 on line 1, now 2"):
        parse_trec_qrels("q1 0 c1 1\nq1 0 c2 0\nq1 0 c1 2\n", "my.qrels")
    with pytest.raises(IngestError, match="no judgments"):
        parse_trec_qrels("\n\n", "empty.qrels")
    with pytest.raises(IngestError, match="line 1"):
        parse_trec_qrels("hello world this 1x\nq1 0 c1 1\n", "my.qrels")


def test_judgments_csv_round_trip_with_skips_formulas_and_unicode():
    rows = [
        Judgment("q1", "如何实现基于 JWT 的用户鉴权？", "api/auth.md#2", 2, "ann", 1764634766.123456, 10, "pooled"),
        Judgment("q1", "如何实现基于 JWT 的用户鉴权？", "c, with comma", None, "ann", 1764634767.5, 10, "pooled"),
        Judgment("q2", "=HYPERLINK(\"x\")", "'quoted", 0, "+bob", 1764634768.0, None, "thumbs"),
    ]
    text = format_judgments_csv(rows)
    assert text.splitlines()[0] == "query_id,query,chunk_id,label,rater,time_utc,time,pool_depth,origin"
    assert "2025-12-02T00:19:26.123456Z" in text  # readable time beside the exact one
    assert "\n=" not in text and ",=" not in text and ",+" not in text  # no cell starts a formula
    assert parse_judgments_csv(text) == rows


def test_judgments_csv_errors_name_the_line():
    head = "query_id,chunk_id,label,rater,time\n"
    with pytest.raises(IngestError, match="lacks rater"):
        parse_judgments_csv("query_id,chunk_id,label\nq,c,1\n", "j.csv")
    with pytest.raises(IngestError, match=r"j\.csv line 3: label 'two'"):
        parse_judgments_csv(head + "q,c,1,ann,1\nq,c,two,ann,2\n", "j.csv")
    with pytest.raises(IngestError, match="line 2: give the judgment's time"):
        parse_judgments_csv("query_id,chunk_id,label,rater\nq,c,1,ann\n", "j.csv")
    with pytest.raises(IngestError, match="line 2: origin 'guess'"):
        parse_judgments_csv("query_id,chunk_id,label,rater,time,origin\nq,c,1,ann,1,guess\n", "j.csv")
    with pytest.raises(IngestError, match="line 2: label 5 is not 0, 1, 2"):
        parse_judgments_csv("query_id,chunk_id,label,rater,time,origin\nq,c,5,ann,1,pooled\n", "j.csv")
    [j] = parse_judgments_csv("query_id,chunk_id,label,rater,time_utc\nq,c,3,ann,2026-01-01T00:00:00Z\n")
    assert (j.origin, j.query, j.label, j.time) == ("imported", "q", 3, 1767225600.0)


def test_imported_qrels_reach_the_store_and_come_back_unchanged(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    store.add_judgments(qrels_judgments(QRELS, {"q1": "jwt"}, rater="qrels.txt", time=1.0))
    queries, qrels = store.qrels("imported")
    assert qrels == QRELS and queries == {"q1": "jwt", "q 2": "q 2"}
    assert parse_trec_qrels(format_trec_qrels(qrels)) == QRELS
    again = JudgmentStore(tmp_path / "k.sqlite")
    again.add_judgments(parse_judgments_csv(format_judgments_csv(store.judgments())))
    assert again.qrels("imported") == (queries, qrels)


# ---- review of round 3: a grade has a range where it is read ---------------------------------------------------


@pytest.mark.parametrize("grade", ["100000000000000000000", "-100000000000000000000", "1e20", "1001"])
def test_a_grade_out_of_range_is_refused_naming_the_line_and_the_range(grade):
    """A qrels grade of 10**20 was read as is and crashed the judgment store (SQLite INTEGER overflow)."""
    with pytest.raises(IngestError, match=r"my\.qrels line 2: grade .* out of range; a grade is an integer from -1,000 to 1,000"):
        parse_trec_qrels(f"q1 0 c1 1\nq1 0 c2 {grade}\n", "my.qrels")
    with pytest.raises(IngestError, match=r"j\.csv line 2: label .* out of range; .* from -1,000 to 1,000"):
        parse_judgments_csv(f"query_id,chunk_id,label,rater\nq1,c1,{grade},ann\n", "j.csv")
    assert parse_trec_qrels("q1 0 c1 -1000\nq1 0 c2 1000\n") == {"q1": {"c1": -1000, "c2": 1000}}


def test_a_pool_depth_out_of_range_is_refused_naming_the_line():
    with pytest.raises(IngestError, match=r"j\.csv line 2: pool_depth '1e20' must be an integer from 1 to 10,000"):
        parse_judgments_csv("query_id,chunk_id,label,rater,pool_depth\nq1,c1,1,ann,1e20\n", "j.csv")


@pytest.mark.parametrize(
    "name, data",
    [
        ("grades.qrels", b"q1 0 c1 100000000000000000000\n"),
        ("judgments.csv", b"query_id,query,chunk_id,label,rater,time\nq1,hello,c1,100000000000000000000,ann,1.5\n"),
    ],
    ids=["trec-qrels", "judgments-csv"],
)
def test_the_judge_page_import_of_a_huge_grade_is_a_message_not_an_overflow(tmp_path, monkeypatch, name, data):
    """The Judge page's import (ui.judge.import_files) with grade 10**20 raised OverflowError from sqlite3."""
    import hashlib

    from core.types import Chunk, Corpus
    from ui import judge

    monkeypatch.setattr(judge, "known_query_texts", lambda store: {})  # no session: the upload names its queries
    chunks = (Chunk(id="c1", source="a.md", text="hello world"),)
    corpus = Corpus(chunks=chunks, files=(), sha256=hashlib.sha256(b"c1").hexdigest())
    store = JudgmentStore.for_corpus(corpus.sha256, root=tmp_path)
    files = [("queries.jsonl", b'{"_id": "q1", "text": "hello"}\n'), (name, data)]
    with pytest.raises(IngestError, match=r"line \d: (grade|label) .* out of range; .* from -1,000 to 1,000"):
        judge.import_files(store, corpus, files)
    assert store.history() == []
