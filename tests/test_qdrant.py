"""Qdrant as an index backend, in local mode (the same qdrant-client calls as against a server), with the
real bundled all-MiniLM-L6-v2 on the sample corpus; a real server too when QDRANT_URL is set."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import models

from core.ingest import corpus_sha256, load_corpus
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import build_model_index
from core.search.matryoshka import recall_at_k, truncation_curve
from core.search.overlap import jaccard_at_k
from core.search.qdrant import (
    QdrantBackend,
    QdrantCollection,
    QdrantError,
    QdrantTarget,
    close,
    collection_name,
    connect,
    dims_name,
    vector_name,
)
from core.search.qdrant_byo import ByoCollection, byo_model_index
from core.store import EmbeddingStore
from core.types import Corpus, SearchParams

ROOT = Path(__file__).resolve().parent.parent
N_CHUNKS = 300  # the first 300 sample chunks, as tests/test_quantize.py (their vectors are in the shared store)


def sub_corpus(corpus: Corpus, n: int, name: str = "sample") -> Corpus:
    chunks = corpus.chunks[:n]
    return Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name=name)


@pytest.fixture(scope="module", autouse=True)
def _close_clients():
    """Close the local-mode clients this module opened (each locks its folder) before the next module runs."""
    yield
    close()


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="module")
def sample(shared_store_dir):
    corpus = load_corpus(ROOT / "sample_corpus" / "docs")
    lines = (ROOT / "sample_corpus" / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["text"] for line in lines if line.strip()]
    return sub_corpus(corpus, N_CHUNKS), queries, EmbeddingStore(shared_store_dir)


@pytest.fixture(scope="module")
def local(tmp_path_factory) -> QdrantTarget:
    return QdrantTarget(path=str(tmp_path_factory.mktemp("qdrant")), mrl_dims=(64,))


@pytest.fixture(scope="module")
def pair(sample, minilm, local):
    corpus, queries, store = sample
    hnsw = build_model_index(corpus, minilm, store=store)
    qd = build_model_index(corpus, minilm, store=store, backend=QdrantBackend(local))
    return hnsw, qd, queries


@pytest.mark.slow  # the pair fixture embeds 300 sample chunks and uploads them to Qdrant: ~50 s on 2 cores
def test_qdrant_returns_the_same_top10_as_hnswlib_on_the_sample_queries(pair):
    hnsw, qd, queries = pair
    a = hnsw.search_many(queries, SearchParams(k=10))
    b = qd.search_many(queries, SearchParams(k=10))
    overlaps = [jaccard_at_k([h.chunk_id for h in x.hits], [h.chunk_id for h in y.hits]) for x, y in zip(a, b, strict=True)]
    assert len(overlaps) == len(queries) >= 50
    assert np.mean(overlaps) >= 0.9
    # scores are the same cosines (float32 in both engines)
    assert abs(a[1].hits[0].score - b[1].hits[0].score) < 1e-4
    assert qd.stats is not None and qd.stats.index_bytes == N_CHUNKS * 384 * 4


@pytest.mark.slow  # the pair fixture embeds 300 sample chunks and uploads them to Qdrant: ~50 s on 2 cores
def test_one_collection_per_corpus_with_payload_and_named_vectors(pair, local):
    _, qd, _ = pair
    coll = QdrantCollection(local, qd.corpus)
    assert coll.name == collection_name(qd.corpus) == f"rc-{qd.corpus.sha256[:16]}"
    name = vector_name("all-MiniLM-L6-v2", qd.embedder.cache_key)
    assert coll.vector_sizes() == {name: 384, dims_name(name, 64): 64}
    (point,) = connect(local).retrieve(coll.name, ids=[7], with_payload=True)
    c = qd.corpus.chunks[7]
    assert point.payload is not None
    assert {k: point.payload[k] for k in ("chunk_id", "source", "location", "language")} == {
        "chunk_id": c.id, "source": c.source, "location": c.location, "language": c.lang,
    }  # fmt: skip


@pytest.mark.slow  # the pair fixture embeds 300 sample chunks and uploads them to Qdrant: ~50 s on 2 cores
def test_matryoshka_prefetches_a_low_dim_shortlist_and_rescores_at_full_dimension(pair):
    _, qd, queries = pair
    qvecs = qd.embed_queries(queries)
    curve = truncation_curve(qd.vectors, qvecs, dims=[64], k=10)
    idx, scores = qd.search_vectors(qvecs, SearchParams(k=10, dims=64))
    # the scores are full-dimension cosines: the shortlist was rescored with the full vector
    full = np.take_along_axis(qvecs @ qd.vectors.T, idx, axis=1)
    assert np.allclose(scores, full, atol=1e-4)
    prefetch = recall_at_k(curve.truth, idx, k=10)
    assert prefetch > curve.recall[64]  # rescoring a 4x shortlist recovers much of what truncation loses
    assert qd.index(64).nbytes == N_CHUNKS * 64 * 4


def test_an_interrupted_upload_resumes_without_sending_points_again(sample, minilm, tmp_path, monkeypatch):
    corpus, _, store = sample
    small = sub_corpus(corpus, 40, "small")
    target = QdrantTarget(path=str(tmp_path / "q"), batch_size=8)
    client = connect(target)
    sent: list[int] = []
    real_upsert = client.upsert

    def counting(name, points, **kw):
        sent.extend(p.id for p in points)
        return real_upsert(name, points=points, **kw)

    monkeypatch.setattr(client, "upsert", counting)

    def stop_after_two_batches(done, total, rate):
        if done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_model_index(small, minilm, store=store, backend=QdrantBackend(target), index_progress=stop_after_two_batches)
    coll = collection_name(small)
    assert client.count(coll, exact=True).count == 16
    seen: list[tuple[int, int]] = []
    mi = build_model_index(small, minilm, store=store, backend=QdrantBackend(target),
                           index_progress=lambda d, t, r: seen.append((d, t)))  # fmt: skip
    assert client.count(coll, exact=True).count == 40
    assert sorted(sent) == list(range(40)), "every point sent exactly once over both runs"
    assert seen[0] == (16, 40) and seen[-1] == (40, 40)
    assert mi.search("token expiry", SearchParams(k=3)).hits
    build_model_index(small, minilm, store=store, backend=QdrantBackend(target))
    assert len(sent) == 40, "a third build sends nothing"


def test_a_collection_that_holds_another_corpus_is_refused(sample, minilm, tmp_path):
    corpus, _, store = sample
    target = QdrantTarget(path=str(tmp_path / "q"), collection="shared")
    build_model_index(sub_corpus(corpus, 20, "one"), minilm, store=store, backend=QdrantBackend(target))
    other = Corpus(chunks=corpus.chunks[100:110], files=(), sha256=corpus_sha256(corpus.chunks[100:110]))
    with pytest.raises(QdrantError, match="holds another corpus") as info:
        build_model_index(other, minilm, store=store, backend=QdrantBackend(target))
    assert "'shared'" in str(info.value) and other.sha256[:16] in str(info.value)


def test_an_unreachable_server_is_named_with_the_fix(monkeypatch):
    from qdrant_client.qdrant_remote import QdrantRemote

    probes: list[str] = []  # qdrant-client's version probe: in a thread, it warned "Failed to obtain server version"
    monkeypatch.setattr(QdrantRemote, "_check_compatibility", staticmethod(lambda uri, *a: probes.append(uri)))
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(QdrantError) as info:
        connect(QdrantTarget(url=f"http://127.0.0.1:{port}"))
    msg = str(info.value)
    assert f"http://127.0.0.1:{port} is unreachable" in msg and "docker run" in msg and "QDRANT_API_KEY" in msg
    time.sleep(0.2)  # the probe thread would have started by now
    assert probes == []  # only our message names the problem


def test_a_target_needs_exactly_one_of_url_and_path():
    with pytest.raises(QdrantError, match="either a URL"):
        QdrantTarget()
    with pytest.raises(QdrantError, match="either a URL"):
        QdrantTarget(url="http://localhost:6333", path="/tmp/x")


def _production_collection(target: QdrantTarget, name: str, corpus: Corpus, vectors: np.ndarray) -> None:
    """What a team already runs: uuid point ids, a named vector 'dense', its own payload field names."""
    client = connect(target)
    client.create_collection(name, vectors_config={"dense": models.VectorParams(
        size=vectors.shape[1], distance=models.Distance.COSINE)})  # fmt: skip
    client.upsert(name, points=[
        models.PointStruct(id=str(uuid.uuid5(uuid.NAMESPACE_URL, c.id)), vector={"dense": v.tolist()},
                           payload={"body": c.text, "doc": c.id, "source": c.source})
        for c, v in zip(corpus.chunks, vectors, strict=True)])  # fmt: skip


@pytest.mark.slow  # loads multilingual-e5-small and embeds 120 chunks with it: ~60-80 s on 2 cores
def test_bring_your_own_collection_is_compared_against_an_in_process_model(sample, minilm, tmp_path):
    corpus, queries, store = sample
    small = sub_corpus(corpus, 120, "prod")
    vectors, _ = store.embed(minilm, [c.embed_text for c in small.chunks])
    target = QdrantTarget(path=str(tmp_path / "q"))
    _production_collection(target, "production", small, vectors)
    byo = ByoCollection(target, "production", vector="dense", text_field="body", id_field="doc")
    b = byo_model_index(byo, minilm, store=store)  # model B: production's index, queries embedded here
    assert [c.id for c in b.corpus.chunks] != [] and {c.id for c in b.corpus.chunks} == {c.id for c in small.chunks}
    # model A: another model, in process, over the collection's texts (nothing re-embedded on B's side)
    e5 = load_embedder(resolve_model("multilingual-e5-small"), device="cpu")
    a = build_model_index(b.corpus, e5, store=store)
    same = build_model_index(b.corpus, minilm, store=store)  # what B would be if rebuilt here
    for q in queries[:12]:
        hb = [h.chunk_id for h in b.search(q, SearchParams(k=10)).hits]
        assert hb == [h.chunk_id for h in same.search(q, SearchParams(k=10, exact=True)).hits]
        ha = [h.chunk_id for h in a.search(q, SearchParams(k=10)).hits]
        assert len(ha) == len(hb) == 10 and 0.0 <= jaccard_at_k(ha, hb) <= 1.0
    with pytest.raises(QdrantError, match="384-dim vectors only"):
        b.search(queries[0], SearchParams(dims=64))


def test_a_collection_of_another_dimension_is_refused_with_both_dims(sample, minilm, tmp_path):
    corpus, _, _ = sample
    small = sub_corpus(corpus, 5)
    target = QdrantTarget(path=str(tmp_path / "q"))
    rng = np.random.default_rng(0)
    _production_collection(target, "prod768", small, rng.normal(size=(5, 768)).astype(np.float32))
    with pytest.raises(QdrantError) as info:
        byo_model_index(ByoCollection(target, "prod768", vector="dense", text_field="body"), minilm,
                        store=EmbeddingStore(tmp_path / "s"))  # fmt: skip
    msg = str(info.value)
    assert "384-dim" in msg and "768 dims" in msg and "all-MiniLM-L6-v2" in msg
    with pytest.raises(QdrantError, match="no vector named 'sparse'"):
        byo_model_index(ByoCollection(target, "prod768", vector="sparse"), minilm, store=EmbeddingStore(tmp_path / "s"))
    with pytest.raises(QdrantError, match="No collection 'nope'"):
        byo_model_index(ByoCollection(target, "nope"), minilm, store=EmbeddingStore(tmp_path / "s"))


def test_cli_build_and_search_with_a_qdrant_folder(sample, tmp_path, capsys, store_dir):
    from core.cli import main

    kb = tmp_path / "kb"
    kb.mkdir()
    (kb / "auth.md").write_text("# Auth\n\nJWT authentication: the server signs a JSON Web Token; clients send it "
                                "in the Authorization Bearer header.\n", encoding="utf-8")  # fmt: skip
    (kb / "bread.txt").write_text("Knead the bread dough for ten minutes, then let it rise for an hour.\n", encoding="utf-8")
    qd = ["--index", "qdrant", "--qdrant-path", str(tmp_path / "q"), "--qdrant-dims", "64"]
    base = ["--corpus", str(kb), "--model", "all-MiniLM-L6-v2", "--device", "cpu"]
    assert main(["build", *base, *qd, "--json"]) == 0
    (m,) = json.loads(capsys.readouterr().out)["models"]
    assert m["chunks"] == 2 and m["index_bytes"] == 2 * 384 * 4
    assert main(["search", *base, *qd, "--query", "how do I log in with a token", "--json", "-k", "2"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [h["source"] for h in hits] == ["auth.md", "bread.txt"]
    assert main(["search", *base, *qd, "--query", "dough", "--dims", "64", "--json", "-k", "1"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["source"] == "bread.txt"
    assert main(["search", *base, "--qdrant-path", str(tmp_path / "q"), "--query", "x"]) == 2
    assert "need --index qdrant" in capsys.readouterr().err


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="set QDRANT_URL (and QDRANT_API_KEY if needed) to test a real server")
def test_against_a_real_server(sample, minilm):
    corpus, queries, store = sample
    small = sub_corpus(corpus, 60, "server")
    name = f"rc-test-{uuid.uuid4().hex[:8]}"
    target = QdrantTarget(url=os.environ["QDRANT_URL"], collection=name, mrl_dims=(64,), batch_size=16)
    try:
        qd = build_model_index(small, minilm, store=store, backend=QdrantBackend(target))
        hnsw = build_model_index(small, minilm, store=store)
        for q in queries[:10]:
            a = [h.chunk_id for h in hnsw.search(q, SearchParams(k=10, exact=True)).hits]
            assert jaccard_at_k(a, [h.chunk_id for h in qd.search(q, SearchParams(k=10)).hits]) >= 0.8
        assert connect(target).count(name, exact=True).count == 60
        assert qd.search(queries[0], SearchParams(k=5, dims=64)).hits
    finally:
        connect(target).delete_collection(name)


@pytest.mark.slow  # AppTest: the Corpus, Models and Compare pages with a real model
def test_the_models_page_builds_into_a_qdrant_folder_and_compare_searches_it(tmp_path, store_dir):
    from streamlit.testing.v1 import AppTest

    from ui import resources

    os.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/1_Corpus.py").run()
    at.file_uploader[0].set_value([
        ("auth.md", b"# Auth\n\nJWT authentication: the server signs a JSON Web Token with its secret key.\n", "text/markdown"),
        ("bread.md", b"# Bread\n\nKnead the dough for ten minutes, then let it rise for an hour.\n", "text/markdown"),
    ]).run()  # fmt: skip
    at.session_state["models_a"] = "all-MiniLM-L6-v2"
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    at.radio(key="_models_index_backend").set_value("Qdrant local folder").run()
    at.text_input(key="_models_qdrant_path").input(str(tmp_path / "q")).run()
    at.switch_page("pages/3_Compare.py").run()
    at.switch_page("pages/2_Models.py").run()  # the choice survives a visit to another page
    assert at.radio(key="_models_index_backend").value == "Qdrant local folder"
    assert at.text_input(key="_models_qdrant_path").value == str(tmp_path / "q")
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    key = at.session_state["built_a"]
    assert key[3].startswith("qdrant:path=")
    mi = resources.indexes().get(key)
    assert mi is not None and mi.backend is not None and mi.backend.kind == "qdrant"
    assert connect(QdrantTarget(path=str(tmp_path / "q"))).count(collection_name(mi.corpus), exact=True).count == 2
    at.switch_page("pages/3_Compare.py")
    at.session_state["cmp_query"] = "how do tokens get signed"
    at.run()
    assert not at.exception, at.exception
    shown = "\n".join(m.value.replace("\\", "") for m in at.markdown)  # user text is escaped Markdown
    assert "auth.md" in shown and at.session_state["built_b"][3].startswith("qdrant:path=")


def test_cli_byo_compares_a_candidate_against_a_production_collection(sample, minilm, tmp_path, capsys, store_dir):
    from core.cli import main

    corpus, queries, store = sample
    small = sub_corpus(corpus, 30, "prod")
    vectors, _ = store.embed(minilm, [c.embed_text for c in small.chunks])
    folder = str(tmp_path / "q")
    _production_collection(QdrantTarget(path=folder), "production", small, vectors)
    base = ["byo", "--qdrant-path", folder, "--qdrant-collection", "production", "--qdrant-vector", "dense",
            "--qdrant-text-field", "body", "--qdrant-id-field", "doc", "--device", "cpu"]  # fmt: skip
    assert main([*base, "--model", "all-MiniLM-L6-v2", "--against", "all-MiniLM-L6-v2",
                 "--query", queries[1], "--query", queries[2], "-k", "5", "--json"]) == 0  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["mean_overlap"] == 1.0 and len(out["queries"]) == 2  # the same model on both sides agrees
    assert set(out["queries"][0]["collection"]) <= {c.id for c in small.chunks}
    assert main([*base, "--model", "multilingual-e5-small", "--qdrant-vector", "dense", "--query", "x"]) == 0
    capsys.readouterr()
    wrong = str(tmp_path / "w")
    _production_collection(QdrantTarget(path=wrong), "p768", sub_corpus(corpus, 3),
                           np.random.default_rng(1).normal(size=(3, 768)).astype(np.float32))  # fmt: skip
    assert main(["byo", "--qdrant-path", wrong, "--qdrant-collection", "p768", "--qdrant-vector", "dense",
                 "--qdrant-text-field", "body", "--model", "all-MiniLM-L6-v2", "--query", "x"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "384-dim" in err and "768 dims" in err


# ---- round 3: trust nothing a collection says (its size, its vectors, that it holds still while read) ----------


def _byo_collection(folder: Path, n: int = 20, dim: int = 8, *, zero: tuple[int, ...] = (), seed: int = 0):
    """A 'production' collection in local mode: int ids 0..n-1, named vector 'dense', payload 'body' / 'doc'."""
    target = QdrantTarget(path=str(folder))
    client = connect(target)
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(n, dim)).astype(np.float32)
    vectors[list(zero)] = 0.0
    client.create_collection("prod", vectors_config={"dense": models.VectorParams(size=dim, distance=models.Distance.COSINE)})
    client.upsert("prod", points=[
        models.PointStruct(id=i, vector={"dense": v.tolist()}, payload={"body": f"passage {i}", "doc": f"d{i}"})
        for i, v in enumerate(vectors)])  # fmt: skip
    return target, client, vectors


def _after_first_page(monkeypatch, client, change) -> None:
    """Run ``change()`` once, right after the first scroll page was read (as another writer would, mid-read)."""
    real, calls = client.scroll, []

    def scroll(*args, **kw):
        out = real(*args, **kw)
        calls.append(1)
        if len(calls) == 1:
            change()
        return out

    monkeypatch.setattr(client, "scroll", scroll)


@pytest.fixture
def small_pages(monkeypatch):
    from core.search import qdrant_byo

    monkeypatch.setattr(qdrant_byo, "_SCROLL_LOCAL", 5)  # four pages of five points: room to change in between
    return qdrant_byo


def test_a_collection_recreated_with_other_dimensions_while_it_is_read_is_refused(tmp_path, monkeypatch, small_pages):
    target, client, _ = _byo_collection(tmp_path / "q")

    def recreate():
        client.delete_collection("prod")
        client.create_collection("prod", vectors_config={"dense": models.VectorParams(size=16, distance=models.Distance.COSINE)})
        client.upsert("prod", points=[models.PointStruct(id=i, vector={"dense": [1.0] * 16}, payload={"body": f"new {i}"})
                                      for i in range(20)])  # fmt: skip

    _after_first_page(monkeypatch, client, recreate)
    with pytest.raises(QdrantError) as info:  # was: a raw ValueError (an inhomogeneous array)
        small_pages.read_collection(ByoCollection(target, "prod", vector="dense", text_field="body"))
    msg = str(info.value)
    assert "'prod'" in msg and "changed while it was read" in msg and "16-dim" in msg and "8 dims" in msg
    assert "read it again when nothing writes to it" in msg.lower()


@pytest.mark.parametrize("same_ids", [True, False], ids=["rewritten-in-place", "new-ids"])
def test_points_deleted_and_added_again_between_scroll_pages_are_refused(tmp_path, monkeypatch, small_pages, same_ids):
    target, client, vectors = _byo_collection(tmp_path / "q")

    def reindex():  # a new version of every point (another model's vectors), under the same ids or new ones
        client.delete("prod", points_selector=models.PointIdsList(points=list(range(20))))
        fresh = np.random.default_rng(9).normal(size=vectors.shape)
        client.upsert("prod", points=[models.PointStruct(id=i if same_ids else 100 + i, vector={"dense": v.tolist()},
                                                         payload={"body": f"passage {i}", "doc": f"d{i}"})
                                      for i, v in enumerate(fresh)])  # fmt: skip

    _after_first_page(monkeypatch, client, reindex)
    with pytest.raises(QdrantError, match="changed while it was read") as info:  # was: a silent mix of versions
        small_pages.read_collection(ByoCollection(target, "prod", vector="dense", text_field="body", id_field="doc"))
    assert "'prod'" in str(info.value) and "mix two versions" in str(info.value)


def test_a_collection_that_holds_still_is_read_whole_over_several_pages(tmp_path, small_pages):
    target, _, vectors = _byo_collection(tmp_path / "q")
    corpus, got, ids, dropped = small_pages.read_collection(ByoCollection(target, "prod", vector="dense", text_field="body"))
    assert ids == list(range(20)) and dropped == [] and len(corpus.chunks) == 20
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(got, unit, atol=1e-5)
    assert [(f.source, f.status, f.chunks) for f in corpus.files] == [("prod", "loaded", 20)]


def test_zero_and_non_finite_vectors_are_left_out_reported_and_never_returned(tmp_path, monkeypatch, small_pages):
    target, client, vectors = _byo_collection(tmp_path / "q", zero=(3, 11))
    # a server can send what local mode refuses to store: infinity in point 7's vector, in every answer
    for method in ("scroll", "retrieve"):
        real = getattr(client, method)

        def poisoned(*args, _real=real, **kw):
            out = _real(*args, **kw)
            for p in out[0] if isinstance(out, tuple) else out:
                if p.id == 7 and isinstance(p.vector, dict):
                    p.vector["dense"] = [float("inf")] + p.vector["dense"][1:]
            return out

        monkeypatch.setattr(client, method, poisoned)
    byo = ByoCollection(target, "prod", vector="dense", text_field="body", id_field="doc")
    corpus, got, ids, dropped = small_pages.read_collection(byo)
    assert sorted(dropped) == [3, 7, 11] and len(corpus.chunks) == len(ids) == 17
    assert {c.id for c in corpus.chunks}.isdisjoint({"d3", "d7", "d11"})
    assert np.isfinite(got).all() and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    (skipped,) = [f for f in corpus.files if f.status == "skipped"]
    assert "3 of 20 points" in skipped.reason and "'prod'" in skipped.reason and "Re-embed those points" in skipped.reason
    # model B's Qdrant search never ranks a left-out point (a zero vector scores 0 against every query)
    view = small_pages.ByoView(byo, ids, 8, dropped)
    idx, scores = view.search(-vectors[:2], k=20)  # the opposite of two points: every real cosine is low
    assert (idx >= 0).all() and idx.shape == (2, 17) and np.isfinite(scores).all()


def test_a_collection_of_only_zero_vectors_is_refused(tmp_path, small_pages):
    target, _, _ = _byo_collection(tmp_path / "q", n=4, zero=(0, 1, 2, 3))
    with pytest.raises(QdrantError, match=r"Every one of the 4 vectors 'dense' of 'prod'.*re-embed"):
        small_pages.read_collection(ByoCollection(target, "prod", vector="dense", text_field="body"))


@pytest.mark.parametrize("name", ["a/b", "a:b", "..", "x" * 256, "bad\x00name", "bad\udcffname"])
def test_collection_names_qdrant_refuses_are_refused_by_name(tmp_path, name):
    with pytest.raises(QdrantError, match="cannot be a Qdrant collection name") as info:
        ByoCollection(QdrantTarget(path=str(tmp_path / "q")), name)
    assert str(info.value).startswith("Collection: ")
    with pytest.raises(QdrantError, match="cannot be a Qdrant collection name"):
        QdrantTarget(path=str(tmp_path / "q"), collection=name)


@pytest.mark.parametrize("command", ["byo", "build"])
def test_cli_refuses_a_bad_collection_name_with_its_own_error_line(tmp_path, capsys, command):
    from core.cli import main

    (tmp_path / "kb").mkdir()
    (tmp_path / "kb" / "a.md").write_text("# A\n\nSome text.\n", encoding="utf-8")
    where = ["--qdrant-path", str(tmp_path / "q"), "--qdrant-collection", "a/b", "--model", "all-MiniLM-L6-v2"]
    argv = ["byo", *where, "--query", "x"] if command == "byo" else ["build", "--corpus", str(tmp_path / "kb"),
                                                                    "--index", "qdrant", *where]  # fmt: skip
    with pytest.raises(SystemExit) as info:  # was: a ValueError traceback from qdrant-client
        main([*argv, "--device", "cpu"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: argument --qdrant-collection: 'a/b' cannot be a Qdrant collection name" in err
    assert "contains '/'" in err and "Traceback" not in err


def _own_collection(folder: Path, n: int = 6, dim: int = 8):
    """A collection this app made with QdrantCollection.upload, for a hand-made corpus (no model needed)."""
    from core.types import Chunk

    chunks = tuple(Chunk(id=f"c{i}", source="s.md", text=f"text {i}") for i in range(n))
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="own")
    coll = QdrantCollection(QdrantTarget(path=str(folder)), corpus)
    vectors = np.random.default_rng(1).normal(size=(n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    coll.upload({"m": vectors})
    return coll, corpus, vectors


def test_our_collection_with_a_point_we_did_not_write_is_refused_not_believed(tmp_path):
    from core.search.qdrant import QdrantView

    coll, corpus, vectors = _own_collection(tmp_path / "q")
    client = coll.client
    # someone swaps a point for one of their own (a uuid id, the same corpus field): the count still matches
    client.delete(coll.name, points_selector=models.PointIdsList(points=[5]))
    client.upsert(coll.name, points=[models.PointStruct(id=str(uuid.uuid4()), vector={"m": vectors[0].tolist()},
                                                        payload={"corpus": corpus.sha256})])  # fmt: skip
    with pytest.raises(QdrantError, match="not one of the 6 chunks of this corpus"):  # was: ValueError from int(uuid)
        coll.upload({"m": vectors})
    # a search answer naming a point the corpus does not hold is refused (was: row 77, an IndexError later)
    client.upsert(coll.name, points=[models.PointStruct(id=77, vector={"m": vectors[1].tolist()},
                                                        payload={"corpus": corpus.sha256})])  # fmt: skip
    view = QdrantView(coll, name="m", full_dim=8, dim=8, count=6)
    with pytest.raises(QdrantError, match=r"point 77 of collection .* not a passage of this corpus.*build it again"):
        view.search(vectors[1:2], k=6)


def test_an_upload_that_loses_points_is_found_by_counting_what_the_collection_holds(tmp_path, monkeypatch):
    from core.types import Chunk

    chunks = tuple(Chunk(id=f"c{i}", source="s.md", text=f"text {i}") for i in range(6))
    corpus = Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name="own")
    coll = QdrantCollection(QdrantTarget(path=str(tmp_path / "q")), corpus)
    client = coll.client
    real = client.upsert
    monkeypatch.setattr(client, "upsert", lambda name, points, **kw: real(name, points=points[:-1], **kw))  # one lost
    vectors = np.eye(6, 8, dtype=np.float32)
    with pytest.raises(QdrantError, match=r"holds 5 points with vector 'm', not 6"):  # was: a silent hole
        coll.upload({"m": vectors})
