"""What evaluation data silently distorted before (issue 18 items 7, 10, 17): each is now said or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.datasets.beir import (
    decode_trec_id,
    encode_trec_id,
    format_trec_qrels,
    format_trec_run,
    load_beir,
    read_qrels,
    read_trec_run,
)
from core.datasets.eval_sets import load_eval_set
from core.errors import IngestError
from core.evaluation.metrics import EvaluationError
from core.evaluation.run import choose_doc_key, run_retrieval
from core.ingest import load_files
from core.types import Chunk, Corpus


def _beir(root: Path, docs: list[dict], queries: list[dict], qrels: str) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(qrels, encoding="utf-8")
    return root


DOCS = [{"_id": "d1", "text": "JWT tokens carry claims."}, {"_id": "d2", "text": "Raft elects a leader."}]


def test_a_query_without_text_is_skipped_and_said_not_scored_zero(tmp_path):
    root = _beir(
        tmp_path / "s",
        DOCS,
        [{"_id": "q1", "text": "jwt"}, {"_id": "q2"}, {"_id": "q3", "text": "   "}],
        "q1\td1\t1\nq2\td2\t1\nq3\td2\t1\n",
    )
    ds = load_beir(root)
    assert ds.queries == {"q1": "jwt"} and set(ds.qrels) == {"q1"}
    assert any("2 quer(ies) have no text and are skipped" in w and "'q2'" in w for w in ds.warnings)


def test_a_corpus_without_text_is_refused_and_blank_documents_are_said(tmp_path):
    blank = [{"_id": "d1", "title": "", "text": ""}, {"_id": "d2", "text": " \u200b "}]
    root = _beir(tmp_path / "blank", blank, [{"_id": "q1", "text": "x"}], "q1\td1\t1\n")
    with pytest.raises(IngestError, match="none of its 2 documents has any visible title or text"):
        load_beir(root)
    some = _beir(
        tmp_path / "some", [*DOCS, {"_id": "d3", "text": ""}], [{"_id": "q1", "text": "x"}], "q1\td1\t1\n"
    )
    assert any("1 document(s) have no visible text (e.g. 'd3')" in w for w in load_beir(some).warnings)

    class Index:  # run_retrieval refuses before it embeds or searches anything
        corpus = Corpus(
            (Chunk(id="a", source="a", text=""), Chunk(id="b", source="b", text="  ")), (), "h", "c"
        )

    with pytest.raises(EvaluationError, match="has no text in any of its 2 documents"):
        run_retrieval(Index(), {"q1": "x"})


def test_the_qrels_header_decision_is_reported():
    standard = read_qrels(["query-id\tcorpus-id\tscore\n", "q1\td1\t1\n"], label="test.tsv")
    assert standard.qrels == {"q1": {"d1": 1}} and not standard.warnings
    assert standard.notes == ("test.tsv: line 1 ('query-id\\tcorpus-id\\tscore') read as the header row",)
    odd = read_qrels(["q0\td9\thigh\n", "q1\td1\t1\n"], label="test.tsv")
    assert odd.qrels == {"q1": {"d1": 1}}
    (warning,) = odd.warnings
    assert "line 1" in warning and "q0" in warning and "skipped as a header" in warning


def test_the_header_decision_reaches_the_dataset(tmp_path):
    root = _beir(tmp_path / "h", DOCS, [{"_id": "q1", "text": "jwt"}], "q1\td1\tyes\nq1\td2\t0\n")
    ds = load_beir(root)
    assert any("skipped as a header" in w for w in ds.warnings)
    root = _beir(
        tmp_path / "std", DOCS, [{"_id": "q1", "text": "jwt"}], "query-id\tcorpus-id\tscore\nq1\td1\t1\n"
    )
    assert any("read as the header row" in n for n in load_beir(root).notes)


def test_duplicate_ids_in_one_uploaded_corpus_jsonl_are_said():
    lines = [{"_id": "a", "text": "first"}, {"_id": "b", "text": "other"}, {"_id": "a", "text": "second"}]
    data = "".join(json.dumps(d) + "\n" for d in lines).encode()
    corpus = load_files([("corpus.jsonl", data)])
    assert [c.text for c in corpus.chunks] == ["first", "other"]
    assert "1 document(s) repeat an _id" in corpus.files[0].reason and "'a'" in corpus.files[0].reason


def test_judged_queries_all_unknown_name_the_mismatch_not_none(tmp_path):
    root = _beir(tmp_path / "u", DOCS, [{"_id": "q1", "text": "jwt"}], "Q-1\td1\t1\nQ-2\td2\t1\n")
    with pytest.raises(IngestError) as err:
        load_beir(root)
    assert "(none)" not in str(err.value)
    assert "None of the 2 judged queries" in str(err.value) and "'Q-1'" in str(err.value)
    judged = tmp_path / "judged"
    (judged / "docs").mkdir(parents=True)
    (judged / "docs" / "a.md").write_text("# A\n\ntext", encoding="utf-8")
    (judged / "queries.jsonl").write_text('{"_id": "q1", "text": "a"}\n', encoding="utf-8")
    (judged / "qrels.tsv").write_text("x9\ta.md\t1\n", encoding="utf-8")
    with pytest.raises(IngestError, match="query ids of the two files must match"):
        load_eval_set(judged)
    corpus = Corpus((Chunk(id="a", source="a", text="t"),), (), "h", "c")
    with pytest.raises(EvaluationError) as err2:
        choose_doc_key(corpus, {"q1": {}})
    assert "(none)" not in str(err2.value) and "no judgments to evaluate" in str(err2.value)


def test_trec_exports_encode_ids_with_whitespace_and_read_back():
    run = {"q 1": {"annual report.md#0": 0.9, "plain": 0.5, "100%\tdone": 0.1}}
    text = format_trec_run(run, tag="A")
    assert text.splitlines()[0] == "q%201 Q0 annual%20report.md#0 1 0.9 A"
    assert all(len(line.split()) == 6 for line in text.splitlines())
    assert read_trec_run(text) == run
    qrels = {"q 1": {"annual report.md": 1}}
    assert format_trec_qrels(qrels) == "q%201 0 annual%20report.md 1\n"
    assert read_qrels(format_trec_qrels(qrels).splitlines(), label="x").qrels == qrels
    assert (
        encode_trec_id("plain-id") == "plain-id"
        and decode_trec_id(encode_trec_id("a\u3000b%")) == "a\u3000b%"
    )
