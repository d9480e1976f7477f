"""BEIR import (folder and zip), error messages that name the file and line, TREC run/qrels export."""

import json
import zipfile

import pytest

from core.datasets.beir import (
    format_beir_qrels,
    format_trec_qrels,
    format_trec_run,
    load_beir,
    read_qrels,
    read_trec_run,
)
from core.errors import IngestError
from core.evaluation.metrics import evaluate_per_query

DOCS = [
    {"_id": "d1", "title": "JWT", "text": "Tokens carry signed claims.", "metadata": {}},
    {"_id": 2, "title": "", "text": "  Rate limits return HTTP 429.  "},
    {"_id": "d3", "text": "Validators stake coins."},
]
QUERIES = [
    {"_id": "q1", "text": "verify a token"},
    {"_id": "q2", "text": "too many requests"},
    {"_id": "q9", "text": "unjudged"},
]


def write_beir(
    root, *, qrels="query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t2\t0\nq2\t2\t1\n", splits=("test",)
):
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in QUERIES), encoding="utf-8")
    (root / "qrels").mkdir(exist_ok=True)
    for s in splits:
        (root / "qrels" / f"{s}.tsv").write_text(qrels, encoding="utf-8")
    return root


def test_folder_import_keeps_titles_ids_and_only_judged_queries(tmp_path):
    corpus, queries, qrels = load_beir(write_beir(tmp_path / "toy"))
    by_id = {c.id: c for c in corpus.chunks}
    assert set(by_id) == {"d1", "2", "d3"}  # integer _id becomes a string
    assert by_id["d1"].embed_text == "JWT Tokens carry signed claims."  # MTEB: (title + " " + text).strip()
    assert by_id["2"].embed_text == "Rate limits return HTTP 429."  # no title: text.strip()
    assert by_id["d3"].embed_text == "Validators stake coins."
    assert queries == {"q1": "verify a token", "q2": "too many requests"}  # q9 has no judgments
    assert qrels == {"q1": {"d1": 2, "2": 0}, "q2": {"2": 1}}
    assert corpus.sha256 and corpus.name == "toy"


def test_zip_import_with_a_top_level_folder_equals_the_folder(tmp_path):
    folder = write_beir(tmp_path / "scifact")
    zpath = tmp_path / "scifact.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in folder.rglob("*"):
            if p.is_file():
                z.write(p, "scifact/" + p.relative_to(folder).as_posix())
    a, b = load_beir(folder), load_beir(zpath)
    assert a.queries == b.queries and a.qrels == b.qrels
    assert a.corpus.chunks == b.corpus.chunks and a.corpus.sha256 == b.corpus.sha256


def test_split_choice_and_errors(tmp_path):
    root = write_beir(tmp_path / "multi", splits=("train", "dev"))
    with pytest.raises(IngestError, match=r"several qrels splits \['dev', 'train'\]"):
        load_beir(root)
    assert load_beir(root, split="dev").split == "dev"
    with pytest.raises(IngestError, match=r"no qrels/test.tsv; available splits: \['dev', 'train'\]"):
        load_beir(root, split="test")


def test_errors_name_the_file_and_line(tmp_path):
    root = write_beir(tmp_path / "bad")
    with open(root / "corpus.jsonl", "a", encoding="utf-8") as fh:
        fh.write("{not json}\n")
    with pytest.raises(IngestError, match=r"corpus.jsonl line 4: invalid JSON"):
        load_beir(root)
    root = write_beir(tmp_path / "badqrels", qrels="query-id\tcorpus-id\tscore\nq1\td1\thigh\n")
    with pytest.raises(IngestError, match=r"test.tsv line 2: score 'high' is not an integer"):
        load_beir(root)
    (root / "queries.jsonl").unlink()
    with pytest.raises(IngestError, match=r"queries.jsonl is missing"):
        load_beir(root)
    with pytest.raises(IngestError, match="does not exist"):
        load_beir(tmp_path / "nowhere")


def test_qrels_without_header_and_trec_format():
    assert read_qrels(["q1\td1\t1\n", "q1\td2\t0\n"], label="x").qrels == {"q1": {"d1": 1, "d2": 0}}
    assert read_qrels(["q1 0 d1 2\n"], label="x").qrels == {"q1": {"d1": 2}}


def test_trec_run_round_trip_preserves_trec_eval_order_and_metrics():
    run = {"q1": {"a": 0.5, "b": 0.5, "c": 0.9}, "q2": {"x": 0.1}}
    text = format_trec_run(run, tag="minilm")
    lines = text.splitlines()
    assert lines[0] == "q1 Q0 c 1 0.9 minilm"
    assert [ln.split()[2] for ln in lines[:3]] == ["c", "b", "a"]  # tie: doc id descending
    assert [ln.split()[3] for ln in lines[:3]] == ["1", "2", "3"]
    back = read_trec_run(text)
    assert back == run
    qrels = {"q1": {"a": 1}, "q2": {"x": 2}}
    assert evaluate_per_query(back, qrels, ["ndcg@10"]) == evaluate_per_query(run, qrels, ["ndcg@10"])


def test_qrels_exports_and_whitespace_ids_are_encoded():
    qrels = {"q1": {"d2": 0, "d1": 2}}
    assert format_trec_qrels(qrels) == "q1 0 d1 2\nq1 0 d2 0\n"
    assert format_beir_qrels(qrels).splitlines() == ["query-id\tcorpus-id\tscore", "q1\td1\t2", "q1\td2\t0"]
    # TREC fields are whitespace-separated: such ids are %-encoded (issue 18 item 7), not refused
    assert format_trec_run({"q1": {"my doc.md": 1.0}}) == "q1 Q0 my%20doc.md 1 1.0 run\n"
