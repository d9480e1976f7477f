"""The endpoint backend against a misbehaving OpenAI-style server the test runs: each failure a user can
meet (5xx, 429, resets, slow answers, bad JSON, wrong dims, NaN, bad key, wrong URL or model) gives a
clear EndpointError naming the endpoint, retries are bounded, and the API key never leaks."""

from __future__ import annotations

import hashlib
import math
import pickle

import numpy as np
import pytest

from core.errors import EndpointError
from core.models.endpoint import check as ec
from core.models.endpoint.client import EndpointEmbedder, endpoint_spec
from core.types import Chunk, Corpus, SearchParams
from tests.endpoint_servers import FaultServer, Reply, free_port

CANARY = "sk-canary-7f3a9c1e5b"
TEXTS = ["alpha", "beta", "gamma", "delta"]


def make(server: FaultServer, **kw) -> EndpointEmbedder:
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return EndpointEmbedder(endpoint_spec(f"endpoint:fault-model@{server.base_url}"), **kw)


def test_500_then_success_is_retried():
    with FaultServer([Reply(status=500)]) as srv:
        emb = make(srv)
        vecs = emb.encode_documents(TEXTS)
    assert vecs.shape == (4, 8)
    assert srv.posts == 2 and emb.calls == 2


def test_429_and_connection_reset_are_retried():
    with FaultServer([Reply(status=429, headers={"Retry-After": "0"}), Reply(drop=True)]) as srv:
        vecs = make(srv).encode_queries(["q"])
    assert vecs.shape == (1, 8) and srv.posts == 3


def test_always_500_gives_a_clear_bounded_error():
    with FaultServer(default=Reply(status=500, body={"error": {"message": "CUDA out of memory"}})) as srv:
        with pytest.raises(EndpointError) as exc:
            make(srv, retries=2).encode_documents(TEXTS)
    msg = str(exc.value)
    assert srv.base_url in msg and "HTTP 500" in msg and "after 3 attempts" in msg
    assert "CUDA out of memory" in msg
    assert srv.posts == 3  # 1 try + 2 retries, then stop


def test_slow_server_times_out():
    with FaultServer(default=Reply(delay=2.0)) as srv:
        with pytest.raises(EndpointError, match="did not answer within 0.3 s") as exc:
            make(srv, timeout=0.3).encode_queries(["q"])
    assert srv.base_url in str(exc.value)


def test_non_json_answer():
    with FaultServer(default=Reply(body=b"<html><body>Login required</body></html>")) as srv:
        with pytest.raises(EndpointError, match="not JSON") as exc:
            make(srv).encode_queries(["q"])
    assert "Login required" in str(exc.value) and "/v1" in str(exc.value)


def test_json_without_data_list():
    with FaultServer(default=Reply(body={"result": "ok"})) as srv:
        with pytest.raises(EndpointError, match="without a 'data' list"):
            make(srv).encode_queries(["q"])


def test_dims_changing_between_batches():
    with FaultServer([Reply(dims=8)], default=Reply(dims=6)) as srv:
        with pytest.raises(EndpointError, match=r"changed the embedding size between batches \(8 then 6"):
            make(srv, batch_size=2, concurrency=1).encode_documents(TEXTS)


def test_nan_vectors_are_refused():
    def poison(vecs):
        vecs[1][3] = math.nan
        return vecs

    with FaultServer(default=Reply(transform=poison)) as srv:
        with pytest.raises(EndpointError, match=r"NaN or inf .* text #1"):
            make(srv).encode_documents(TEXTS)


def test_wrong_number_of_embeddings():
    with FaultServer(default=Reply(transform=lambda v: v[:-1])) as srv:
        with pytest.raises(EndpointError, match="returned 3 embeddings for 4 texts"):
            make(srv).encode_documents(TEXTS)


def test_unnormalised_vectors_are_normalised_and_reported():
    with FaultServer(default=Reply(transform=lambda v: [[3 * x for x in row] for row in v])) as srv:
        emb = make(srv)
        vecs = emb.encode_documents(TEXTS)
        report = ec.test_connection(emb, repeats=1)
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-6)
    assert emb.server_normalised is False and report.normalised is False


def test_batch_too_large_is_split():
    with FaultServer(
        [Reply(status=413, body={"error": {"message": "batch size 4 > maximum allowed 2"}})]
    ) as srv:
        emb = make(srv, batch_size=4)
        vecs = emb.encode_documents(TEXTS)
    assert vecs.shape == (4, 8)
    assert [len(r["json"]["input"]) for r in srv.requests] == [4, 2, 2]


def test_order_is_preserved_with_concurrency():
    texts = [f"text {i}" for i in range(37)]
    with FaultServer() as srv:
        one = make(srv, batch_size=1, concurrency=1).encode_documents(texts)
        many = make(srv, batch_size=3, concurrency=4).encode_documents(texts)
    np.testing.assert_array_equal(one, many)


def test_server_down():
    spec = endpoint_spec(f"endpoint:fault-model@http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(EndpointError, match="connection refused") as exc:
        EndpointEmbedder(spec, retries=1, backoff=0.01).encode_queries(["q"])
    assert "check that the server is running" in str(exc.value)


def test_unknown_model_lists_served_models():
    body = {"error": {"message": "The model `fault-model` does not exist.", "code": 404}}
    with FaultServer(default=Reply(status=404, body=body)) as srv:
        with pytest.raises(EndpointError) as exc:
            make(srv).encode_queries(["q"])
    msg = str(exc.value)
    assert "does not serve the model 'fault-model'" in msg and "['fault-model']" in msg


def test_401_names_the_key_source_but_never_the_key():
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY}"}}
    with FaultServer(default=Reply(status=401, body=echo)) as srv:
        emb = make(srv, api_key=CANARY)
        with pytest.raises(EndpointError) as exc:
            emb.encode_queries(["q"])
    msg = str(exc.value)
    assert "HTTP 401" in msg and "EMBEDDING_API_KEY" in msg and "a key was sent" in msg
    assert CANARY not in msg and CANARY not in repr(exc.value)
    assert srv.requests[0]["headers"]["Authorization"] == f"Bearer {CANARY}"
    assert srv.posts == 1  # auth failures are not retried


def test_key_from_environment(monkeypatch):
    monkeypatch.delenv("EMBEDDING_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-var")
    with FaultServer() as srv:
        make(srv).encode_queries(["q"])
        monkeypatch.setenv("EMBEDDING_API_KEY", "sk-from-embedding-var")
        make(srv).encode_queries(["q"])
    auth = [r["headers"].get("Authorization") for r in srv.requests]
    assert auth == ["Bearer sk-from-openai-var", "Bearer sk-from-embedding-var"]


def test_canary_key_never_in_cache_key_repr_pickle_or_store(store_dir):
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore

    with FaultServer() as srv:
        emb = make(srv, api_key=CANARY)
        build_model_index(_corpus(30), emb, store=EmbeddingStore(store_dir))
        assert CANARY not in emb.cache_key
        assert CANARY not in repr(emb) and CANARY not in str(vars(emb))
        assert CANARY.encode() not in pickle.dumps(emb)
        # the key names the served model and where its vectors come from (issue 28 #4), never the key
        assert "fault-model" in emb.cache_key and f"at=127.0.0.1:{srv.port}" in emb.cache_key
    for path in store_dir.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


def test_dimensions_parameter_used_when_the_server_honours_it():
    with FaultServer(default=Reply(dims=16)) as srv:
        emb = make(srv, dimensions=4)
        vecs = emb.encode_documents(TEXTS)
    assert emb.supports_dimensions is True and vecs.shape == (4, 4)
    assert all(r["json"].get("dimensions") == 4 for r in srv.requests)


def test_dimensions_rejected_falls_back_to_client_truncation():
    reject = Reply(status=400, body={"error": {"message": "does not support matryoshka representation"}})
    with FaultServer([reject], default=Reply(dims=16)) as srv:
        emb = make(srv, dimensions=4)
        vecs = emb.encode_documents(TEXTS)
        full = make(srv).encode_documents(TEXTS)
    assert emb.supports_dimensions is False
    assert "dimensions" not in srv.requests[1]["json"]
    expected = full[:, :4] / np.linalg.norm(full[:, :4], axis=1, keepdims=True)
    np.testing.assert_allclose(vecs, expected, atol=1e-6)


@pytest.mark.parametrize(
    ("name", "needle"),
    [
        ("endpoint:model", "endpoint:MODEL@BASE_URL"),
        ("endpoint:model@ftp://host/v1", "endpoint:MODEL@BASE_URL"),
        ("endpoint:model@http://user:secret@host:8000/v1", "contains credentials"),
        ("endpoint:@http://host:8000/v1", "endpoint:MODEL@BASE_URL"),
    ],
)
def test_bad_endpoint_names(name, needle):
    with pytest.raises(EndpointError) as exc:
        endpoint_spec(name)
    assert needle in str(exc.value) and "secret" not in str(exc.value)


def _corpus(n: int, *, start: int = 0) -> Corpus:
    chunks = tuple(
        Chunk(id=f"doc{i}", source=f"doc{i}.md", text=f"chunk number {i}") for i in range(start, n)
    )
    sha = hashlib.sha256("".join(c.text for c in chunks).encode()).hexdigest()
    return Corpus(chunks=chunks, files=(), sha256=sha, name=f"c{n}")


def test_failed_build_keeps_completed_segments_and_the_previous_index(store_dir):
    from core.models.endpoint.batches import FIRST
    from core.search.engine import build_model_index
    from core.store import SEGMENT_SIZE, EmbeddingStore

    store = EmbeddingStore(store_dir)
    with FaultServer() as srv:
        old = build_model_index(_corpus(100), make(srv, batch_size=64), store=store)
        # Second build: 600 new texts = one full segment (a slow-start request of FIRST texts, then
        # requests of 64) and then the server breaks.
        srv.script = [Reply()] * (1 + math.ceil((SEGMENT_SIZE - FIRST) / 64))
        srv.default = Reply(status=503)
        with pytest.raises(EndpointError, match="HTTP 503"):
            build_model_index(_corpus(700), make(srv, batch_size=64, concurrency=1), store=store)
        segments = sorted(store_dir.rglob("*.npy"))
        assert len(segments) == 2  # the first build's segment + one complete segment, nothing partial
        assert not [p for p in store_dir.rglob("*") if p.is_file() and ".tmp" in p.name]
        hits_idx, _ = old.search_vectors(old.vectors[:1], SearchParams(k=3, exact=True))  # previous index still answers
        assert hits_idx[0][0] == 0
        srv.default = Reply()
        again = build_model_index(_corpus(700), make(srv, batch_size=64), store=store)
    assert again.stats.embedded == 700 - 100 - SEGMENT_SIZE  # only what the failed build had not saved
    np.testing.assert_array_equal(again.vectors[:100], old.vectors)
