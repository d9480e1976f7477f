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


def test_a_grade_out_of_range_is_refused_naming_the_file_and_line(tmp_path):
    """A BEIR qrels grade of 10**20 was loaded as is (and would overflow the judgment store's integers)."""
    root = write_beir(tmp_path / "huge", qrels="query-id\tcorpus-id\tscore\nq1\td1\t2\nq2\t2\t100000000000000000000\n")
    with pytest.raises(IngestError, match=r"test\.tsv line 3: grade '100000000000000000000' is out of range; .* -1,000 to 1,000"):
        load_beir(root)


# ---- review of round 3: the BEIR reader has the upload reader's zip limits and reads regular files only ------


def _beir_zip(folder, zpath, extra=()):
    """``folder`` zipped (deflated) as an upload would be, with ``extra`` members (name, data or ZipInfo, data)."""
    with zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(folder).as_posix())
        for info, data in extra:
            z.writestr(info, data)
    return zpath


def _within(fn, seconds: float = 30.0):
    """``fn()`` in a thread joined with a timeout: (hung, its result or the exception it raised)."""
    import threading

    out: dict = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as exc:  # handed to the test
            out["value"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return worker.is_alive(), out.get("value")


def _release(fifo) -> None:
    """Open the FIFO for writing once (non-blocking): a reader blocked in open() on old code gets EOF."""
    import contextlib
    import os

    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_a_zip_bomb_beir_upload_is_refused_with_the_limits_named(tmp_path):
    """The Evaluate page's BEIR upload (and `evaluate --beir x.zip`) opened any zip: a member of 2 MB of zeros at
    ~1000:1 (the upload reader's limit is 200:1) was accepted, and nothing bounded the unpacked size."""
    from core.datasets import load_eval_set

    zpath = _beir_zip(write_beir(tmp_path / "set"), tmp_path / "beir.zip", [("padding.bin", b"\0" * (2 << 20))])
    with pytest.raises(IngestError) as exc:
        load_eval_set(zpath)  # what pages/5_Evaluate.py calls on the uploaded bytes
    msg = str(exc.value)
    assert msg.startswith("beir.zip: looks like a zip bomb") and "limits 1,024 MB and 200:1" in msg, msg
    assert "unpack it and load the folder instead" in msg
    assert load_eval_set(_beir_zip(write_beir(tmp_path / "ok"), tmp_path / "ok.zip")).qrels  # a plain set loads


def test_a_beir_zip_member_that_is_a_link_is_refused_not_read_as_its_target(tmp_path):
    import stat

    folder = write_beir(tmp_path / "set")
    (folder / "queries.jsonl").unlink()
    link = zipfile.ZipInfo("queries.jsonl")
    link.create_system, link.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
    zpath = _beir_zip(folder, tmp_path / "link.zip", [(link, "../../home/user/queries.jsonl")])
    with pytest.raises(IngestError, match=r"link\.zip:queries\.jsonl: a symbolic link in the zip, not a regular file"):
        load_beir(zpath)


@pytest.mark.timeout(120)
@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_in_a_beir_or_judged_folder_or_as_the_zip_is_refused_without_hanging(tmp_path):
    """queries.jsonl as a FIFO was called "missing" (folder) and a FIFO given as the BEIR zip blocked in open()
    forever; each is now opened without blocking and refused naming what it is."""
    import os

    from core.datasets import load_eval_set

    beir = write_beir(tmp_path / "beir")
    (beir / "queries.jsonl").unlink()
    os.mkfifo(beir / "queries.jsonl")
    judged = tmp_path / "judged"
    (judged / "docs").mkdir(parents=True)
    (judged / "docs" / "a.md").write_text("# A\n\nValidators stake coins.", encoding="utf-8")
    (judged / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta.md\t1\n", encoding="utf-8")
    os.mkfifo(judged / "queries.jsonl")
    zpipe = tmp_path / "set.zip"
    os.mkfifo(zpipe)
    wrong = []
    for path, shown in [(zpipe, "set.zip"), (beir, str(beir / "queries.jsonl")), (judged, str(judged / "queries.jsonl"))]:
        fifo = path / "queries.jsonl" if path.is_dir() else path
        try:
            hung, got = _within(lambda p=path: load_eval_set(p), seconds=15)
        finally:
            _release(fifo)
        said = f"{shown}: a named pipe (FIFO), not a regular file; refused without reading"
        if hung or not isinstance(got, IngestError) or not str(got).startswith(said):
            wrong.append(f"{path.name}: " + ("blocked on the named pipe" if hung else repr(got)))
    assert not wrong, wrong
