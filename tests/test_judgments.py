"""The judgment store: persistence, concurrency (threads and processes), merge rule, dump/load."""

import hashlib
import json
import sqlite3
import subprocess
import sys
import textwrap
import threading

import pytest

from core.errors import StoreError
from core.judging.store import Judgment, JudgmentStore, Vote, legacy_query_id, merge_labels, query_id

SHA = "a" * 64
OTHER = "b" * 64


def test_for_corpus_creates_the_folder_and_survives_reopening(tmp_path):
    root = tmp_path / "not" / "yet"
    store = JudgmentStore.for_corpus(SHA, root=root)
    assert store.path == root / "judgments" / f"{SHA}.sqlite"
    store.record(query="jwt auth", chunk_id="c1", label=2, rater="ann", origin="pooled", pool_depth=10)
    store.record_vote(
        query="jwt auth", model_a="m1", model_b="m2", left="B", winner="left", rater="ann", k=10
    )
    again = JudgmentStore.for_corpus(SHA, root=root)  # a restart: a new object on the same file
    [j] = again.judgments()
    assert (j.query_id, j.chunk_id, j.label, j.rater, j.pool_depth, j.origin) == (
        query_id("jwt auth"),
        "c1",
        2,
        "ann",
        10,
        "pooled",
    )
    [v] = again.votes()
    assert v.outcome == "B"


def test_default_root_is_the_store_root(store_dir):
    assert JudgmentStore.for_corpus(SHA).path == store_dir / "judgments" / f"{SHA}.sqlite"


def test_a_file_of_another_corpus_is_refused(tmp_path):
    JudgmentStore.for_corpus(SHA, root=tmp_path)
    (tmp_path / "judgments" / f"{SHA}.sqlite").rename(tmp_path / "judgments" / f"{OTHER}.sqlite")
    with pytest.raises(StoreError, match="another corpus"):
        JudgmentStore.for_corpus(OTHER, root=tmp_path)


def test_bad_paths_and_files_get_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="64 lowercase hex"):
        JudgmentStore.for_corpus("../etc", root=tmp_path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        JudgmentStore(junk)
    with pytest.raises(StoreError, match="is a folder"):
        JudgmentStore(tmp_path)


def test_bad_labels_are_refused_with_the_field_named(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    with pytest.raises(ValueError, match="label must be 0, 1 or 2"):
        store.record(query="q", chunk_id="c", label=3, rater="ann", origin="pooled")
    with pytest.raises(ValueError, match="rater"):
        store.record(query="q", chunk_id="c", label=1, rater="  ", origin="pooled")
    with pytest.raises(ValueError, match="origin"):
        store.record(query="q", chunk_id="c", label=1, rater="ann", origin="guess")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="winner"):
        store.record_vote(query="q", model_a="a", model_b="b", left="A", winner="up", rater="r", k=5)  # type: ignore[arg-type]
    assert store.judgments() == [] and store.votes() == []


def test_latest_judgment_wins_and_undo_restores_the_previous_one(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    store.record(query="q", chunk_id="c1", label=0, rater="ann", origin="pooled")
    store.record(query="q", chunk_id="c1", label=2, rater="ann", origin="pooled")
    store.record(query="q", chunk_id="c2", label=None, rater="ann", origin="pooled")  # a skip
    assert {(j.chunk_id, j.label) for j in store.judgments()} == {("c1", 2), ("c2", None)}
    assert store.qrels("pooled")[1] == {query_id("q"): {"c1": 2}}  # skips never reach qrels
    undone = store.undo("ann")
    assert undone is not None and undone.chunk_id == "c2"
    assert store.undo("ann").label == 2  # type: ignore[union-attr]
    assert [(j.chunk_id, j.label) for j in store.judgments()] == [("c1", 0)]
    assert store.undo("bob") is None


def test_qrels_merge_by_median_rounded_down_and_union_prefers_pooled(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    for rater, label in (("ann", 0), ("bob", 2)):
        store.record(query="q", chunk_id="c1", label=label, rater=rater, origin="pooled")
    for rater, label in (("ann", 1), ("bob", 2), ("cy", 2)):
        store.record(query="q", chunk_id="c2", label=label, rater=rater, origin="pooled")
    store.record(query="q", chunk_id="c1", label=0, rater="dee", origin="thumbs")
    store.record(query="q", chunk_id="c3", label=2, rater="dee", origin="thumbs")
    qid = query_id("q")
    queries, qrels = store.qrels("union")
    assert queries == {qid: "q"}
    assert qrels == {qid: {"c1": 1, "c2": 2, "c3": 2}}  # c1 ignores the thumb: a pooled label exists
    assert store.qrels("thumbs")[1] == {qid: {"c1": 0, "c3": 2}}
    assert store.qrels("imported") == ({}, {})
    assert merge_labels([1, 2]) == 1 and merge_labels([0, 1, 1, 2]) == 1


def test_explicit_query_ids_are_kept(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    store.record(
        query="How long is a JWT valid?", query_id="q03", chunk_id="c", label=1, rater="r", origin="imported"
    )
    assert store.qrels("imported") == ({"q03": "How long is a JWT valid?"}, {"q03": {"c": 1}})


def test_thumbs_saved_under_a_sample_id_are_one_query_with_the_text_id(tmp_path):
    """Earlier Compare pages saved a sample query's thumbs under its own id (q09): opening the store re-keys them
    to query_id(text), so a later thumb of the same pair wins and the union names the query once."""
    text = "How do I verify the webhook signature?"
    path = tmp_path / "j.sqlite"
    JudgmentStore(path, SHA)
    with sqlite3.connect(path) as con:  # the file as an earlier version left it
        rows = [("q09", text, "c1", 1, "ann", 1.0, None, "thumbs"), ("q09", text, "c2", 0, "ann", 2.0, None, "thumbs"),
                (query_id(text), text, "c2", 0, "ann", 2.0, None, "thumbs")]  # fmt: skip
        con.executemany(
            "INSERT INTO judgments (query_id, query, chunk_id, label, rater, time, pool_depth, origin) "
            "VALUES (?,?,?,?,?,?,?,?)", rows)  # fmt: skip
        con.execute("DELETE FROM meta WHERE key = 'thumbs_ids'")
    store = JudgmentStore(path, SHA)
    new = query_id(text)
    assert {(j.query_id, j.chunk_id) for j in store.history()} == {(new, "c1"), (new, "c2")}
    store.record(query=text, chunk_id="c1", label=0, rater="ann", origin="thumbs")  # the thumb turned down
    store.record(query=text, chunk_id="c3", label=2, rater="ann", origin="pooled")
    assert [(j.chunk_id, j.label) for j in store.judgments(origin="thumbs")] == [("c2", 0), ("c1", 0)]
    assert store.qrels("union") == ({new: text}, {new: {"c1": 0, "c2": 0, "c3": 2}})
    # thumbs arriving with another id (a judgments.csv, an old bundle's dump) take the text's id too
    other = JudgmentStore(tmp_path / "k.sqlite")
    other.add_judgments([Judgment("q09", text, "c4", 1, "bob", 3.0, None, "thumbs")])
    other.load({"judgments": [{"query_id": "q09", "query": text, "chunk_id": "c5", "label": 1, "rater": "bob",
                               "time": 4.0, "pool_depth": None, "origin": "thumbs"}], "votes": []})  # fmt: skip
    assert {j.query_id for j in other.history()} == {new}
    # other origins keep an explicit id (test_explicit_query_ids_are_kept)


def test_legacy_query_id_is_the_old_compare_download_id():
    text = " 签名密钥多久轮换一次？ "
    assert legacy_query_id(text) == "u" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
    assert legacy_query_id(text) != legacy_query_id(text.strip()) and query_id(text) == query_id(text.strip())


def test_threads_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "j.sqlite"
    start = threading.Barrier(8)
    errors = []

    def work(n: int) -> None:
        try:  # each session opens its own store object, all at once (a first open once met "database is locked")
            store = JudgmentStore(path, SHA)
            start.wait(timeout=60)
        except Exception as exc:  # reported below; the others are released, not left waiting at the barrier
            errors.append(exc)
            start.abort()
            return
        try:
            for i in range(40):
                store.record(query=f"q{i}", chunk_id=f"c{n}", label=i % 3, rater=f"r{n}", origin="pooled")
                store.record_vote(
                    query=f"q{i}", model_a="a", model_b="b", left="A", winner="tie", rater=f"r{n}", k=10
                )
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    store = JudgmentStore(path, SHA)
    assert len(store.judgments()) == 8 * 40
    assert len(store.votes()) == 8 * 40


WRITER = textwrap.dedent(
    """
    import pathlib, sys, time
    from core.judging.store import JudgmentStore
    path, name, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    store = JudgmentStore(path, "a" * 64)
    while not go.exists():
        time.sleep(0.01)
    for i in range(150):
        store.record(query=f"q{i}", chunk_id="c", label=i % 3, rater=name, origin="pooled", pool_depth=10)
    """
)


def test_two_processes_writing_at_once_lose_nothing(tmp_path):
    path = tmp_path / "j.sqlite"
    go = tmp_path / "go"
    JudgmentStore(path, SHA)
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(go)]) for name in ("p1", "p2")
    ]
    go.touch()
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    judged = JudgmentStore(path, SHA).judgments()
    assert len(judged) == 300
    assert {j.rater for j in judged} == {"p1", "p2"}


def test_dump_load_round_trip_adds_nothing_twice_and_checks_the_corpus(tmp_path):
    src = JudgmentStore.for_corpus(SHA, root=tmp_path / "a")
    src.record(query="q", chunk_id="c1", label=1, rater="ann", origin="pooled", pool_depth=5)
    src.record(query="q", chunk_id="c1", label=2, rater="ann", origin="pooled", pool_depth=5)
    src.record(query="q", chunk_id="c2", label=None, rater="ann", origin="pooled", pool_depth=5)
    src.record_vote(query="q", model_a="m1", model_b="m2", left="A", winner="right", rater="ann", k=10)
    dump = json.loads(json.dumps(src.dump()))  # JSON-serialisable
    dst = JudgmentStore.for_corpus(SHA, root=tmp_path / "b")
    assert dst.load(dump) == 4
    assert dst.load(dump) == 0
    assert dst.judgments() == src.judgments() and dst.votes() == src.votes()
    assert dst.undo("ann") == src.judgments()[-1]  # history came along: undo works after a load
    with pytest.raises(StoreError, match="another corpus"):
        JudgmentStore.for_corpus(OTHER, root=tmp_path / "c").load(dump)
    with pytest.raises(StoreError, match="judgment 1"):
        dst.load({"judgments": [{"query": "q"}], "votes": []})
    with pytest.raises(StoreError, match="label"):
        bad = dict(dump["judgments"][0], label="2")
        dst.load({"judgments": [bad], "votes": []})


def test_add_judgments_imports_ready_rows(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    rows = [Judgment("q1", "text", f"c{i}", 3, "qrels.txt", 1.0, None, "imported") for i in range(3)]
    assert store.add_judgments(rows) == 3
    assert store.add_judgments(rows) == 0
    assert store.qrels("imported")[1] == {"q1": {"c0": 3, "c1": 3, "c2": 3}}  # imported grades may exceed 2


def test_vote_outcome_maps_sides_to_models():
    def v(left, winner):
        return Vote("q", "q", "a", "b", left, winner, "r", 0.0, 10).outcome

    assert [v("A", "left"), v("A", "right"), v("B", "left"), v("B", "right")] == ["A", "B", "B", "A"]
    assert v("B", "tie") == "tie" and v("A", "both_bad") == "both_bad"


def test_a_dump_of_an_unknown_format_is_refused(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite")
    with pytest.raises(StoreError, match="format 99"):
        store.load({"format": 99, "judgments": [], "votes": []})
    with pytest.raises(StoreError, match="'judgments' and 'votes' lists"):
        store.load([])


def test_an_unwritable_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="Cannot write the judgment store at .*file"):
        JudgmentStore.for_corpus(SHA, root=blocker)


# ---- round 3: every text the store takes is cleaned as the readers clean text ----------------------------------


def test_a_lone_surrogate_in_any_text_is_cleaned_not_a_unicode_error(tmp_path):
    store = JudgmentStore(tmp_path / "j.sqlite", SHA)
    q, rater = "how does \ud800 work", "ann\udcff"
    # straight to record(): was a cryptic UnicodeEncodeError from sqlite3
    store.record(query=q, chunk_id="doc\udcff.md#0", label=2, rater=rater, origin="pooled", pool_depth=10)
    store.record(query=q, chunk_id="doc\udcff.md#1", label=1, rater=rater, origin="thumbs")
    (j, thumbs) = store.judgments()
    assert (
        j.query == thumbs.query == "how does \ufffd work"
        and j.rater == "ann\ufffd"
        and j.chunk_id == "doc\ufffd.md#0"
    )
    # one query: the id of the raw text is the id of the text as stored (and as a reload recomputes it)
    assert j.query_id == thumbs.query_id == query_id(q) == query_id(j.query)
    assert store.qrels("union")[0] == {query_id(q): "how does \ufffd work"}
    assert store.undo(rater) == j  # the raw name finds what was stored under the cleaned one
    # votes: query, model names and rater
    store.record_vote(query=q, model_a="m\ud800a", model_b="mb", left="A", winner="left", rater=rater, k=10)
    (v,) = store.votes()
    assert (v.query, v.model_a, v.rater, v.query_id) == (
        "how does \ufffd work",
        "m\ufffda",
        "ann\ufffd",
        query_id(q),
    )
    assert store.undo_vote(rater) == v and store.votes() == []
    # ready-made rows (imports, bundles, dumps) and an explicit id are cleaned the same way
    added = store.add_judgments([Judgment("q\udc80", q, "c", 1, rater, 1.0, None, "imported")])
    assert added == 1 and store.judgments("imported")[0].query_id == "q\ufffd"
    dump = {"judgments": [], "votes": [{"query_id": "x", "query": "\ud83d", "model_a": "a", "model_b": "b",
                                        "left": "B", "winner": "tie", "rater": rater, "time": 2.0, "k": 5}]}  # fmt: skip
    assert store.load(dump) == 1 and store.votes()[0].query == "\ufffd"
    with pytest.raises(ValueError, match="origin must be one of"):
        store.judgments("pooled\ud800")  # type: ignore[arg-type]


def test_a_chunk_from_a_file_name_that_is_not_utf8_can_be_judged(tmp_path):
    import os

    from core.ingest import load_corpus

    folder = tmp_path / "kb"
    folder.mkdir()
    try:
        fd = os.open(os.fsencode(folder) + b"/caf\xe9.md", os.O_WRONLY | os.O_CREAT)
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")
    os.write(fd, b"# Cafe\n\nLatin-1 named file.\n")
    os.close(fd)
    corpus = load_corpus(folder)
    (chunk,) = corpus.chunks
    assert chunk.source == "caf\ufffd.md" and chunk.id == "caf\ufffd.md#0"  # was: caf\udce9.md, unstorable
    store = JudgmentStore(tmp_path / "j.sqlite", corpus.sha256)
    store.record(query="cafe", chunk_id=chunk.id, label=2, rater="ann", origin="pooled")
    assert store.qrels("pooled")[1] == {query_id("cafe"): {chunk.id: 2}}


# ---- review of round 3: every integer a row holds has a range ------------------------------------------------


def _judgment(label=1, depth=None, time=1.0, origin="imported"):
    return Judgment("q1", "a query", "c1", label, "ann", time, depth, origin)


@pytest.mark.parametrize(
    "write, field",
    [
        (lambda s: s.add_judgments([_judgment(label=10**20)]), r"label \(an imported grade\) must be an integer from -1,000 to 1,000"),
        (lambda s: s.add_judgments([_judgment(label=-(10**20))]), r"label \(an imported grade\) .* -1,000 to 1,000"),
        (lambda s: s.record(query="q", chunk_id="c", label=1, rater="ann", origin="pooled", pool_depth=10**20),
         r"pool_depth must be an integer from 1 to 10,000"),
        (lambda s: s.record_vote(query="q", model_a="a", model_b="b", left="A", winner="left", rater="r", k=10**20),
         r"k \(a vote's list length\) must be an integer from 1 to 10,000"),
        (lambda s: s.add_judgments([_judgment(time=10**400)]), r"time must be unix seconds from .* \(got an integer of about 401 digits\)"),
        (lambda s: s.add_judgments([_judgment(time=1e18)]), r"time must be unix seconds from -62,135,596,800 to 253,402,300,799"),
    ],
    ids=["label", "negative-label", "pool-depth", "vote-k", "huge-int-time", "time-past-year-9999"],
)  # fmt: skip
def test_huge_integers_are_refused_by_the_store_naming_the_field_and_the_range(tmp_path, write, field):
    """A Judge-page qrels import with grade 10**20 raised OverflowError (SQLite INTEGER); a time of 10**400 an
    OverflowError from math.isfinite, and one past year 9999 was stored and broke the CSV export later."""
    store = JudgmentStore(tmp_path / "j.sqlite")
    with pytest.raises(ValueError, match=field):
        write(store)
    with pytest.raises(
        StoreError, match=field.split(" must")[0]
    ):  # a dump or bundle goes through the same check
        store.load({"judgments": [], "votes": []} | _dump_of(write))
    assert store.judgments() == [] and store.votes() == []
    store.add_judgments(
        [_judgment(label=-1000), _judgment(label=1000, depth=10_000)]
    )  # the bounds themselves fit
    assert sorted(j.label for j in store.history()) == [-1000, 1000]


def _dump_of(write) -> dict:
    """What ``write`` tried to store, as a dump() would carry it (captured from a store that records everything)."""
    rows: dict = {"judgments": [], "votes": []}

    class Capture(JudgmentStore):
        def __init__(self) -> None:
            pass

        def add_judgments(self, items):
            rows["judgments"] += [dict(j.__dict__) for j in items]
            return 0

        def add_votes(self, items):
            rows["votes"] += [dict(v.__dict__) for v in items]
            return 0

    write(Capture())
    return rows
