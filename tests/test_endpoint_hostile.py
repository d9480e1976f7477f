"""Issue 18, items 1-4: a hostile endpoint cannot steal the key, poison the store, exhaust memory or hang
the client. Each test failed against the urllib client it replaced."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from core.errors import EndpointError
from core.models.endpoint.client import EndpointEmbedder, endpoint_spec
from core.types import Chunk, Corpus
from tests.endpoint_servers import FaultServer, Reply, text_vector

CANARY = "sk-canary-hostile-4d2e"
TEXTS = ["alpha", "beta", "gamma", "delta"]


def make(server: FaultServer, **kw) -> EndpointEmbedder:
    kw.setdefault("retries", 1)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return EndpointEmbedder(endpoint_spec(f"endpoint:fault-model@{server.base_url}"), **kw)


def _corpus(texts: list[str]) -> Corpus:
    chunks = tuple(Chunk(id=f"d{i}", source=f"d{i}.md", text=t) for i, t in enumerate(texts))
    return Corpus(chunks=chunks, files=(), sha256=hashlib.sha256("|".join(texts).encode()).hexdigest())


def _expected(texts: list[str], dims: int = 8) -> np.ndarray:
    return np.asarray([text_vector(t, dims) for t in texts], dtype=np.float32)


# -- 1. redirects -------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_the_key_stays_home(status):
    with FaultServer() as elsewhere:
        target = f"{elsewhere.base_url}/embeddings"
        with FaultServer(default=Reply(status=status, body=b"", headers={"Location": target})) as srv:
            with pytest.raises(EndpointError) as exc:
                make(srv, api_key=CANARY).encode_queries(["q"])
    msg = str(exc.value)
    assert f"HTTP {status}" in msg and target in msg and "not followed" in msg and srv.base_url in msg
    assert CANARY not in msg
    assert elsewhere.posts == 0 and elsewhere.gets == []  # nothing, let alone the key, went there
    assert srv.posts == 1  # a redirect is an answer, not a transient failure: no retries


def test_the_model_listing_does_not_follow_a_redirect_either():
    missing = Reply(status=404, body={"error": {"message": "The model `fault-model` does not exist."}})
    with FaultServer() as elsewhere, FaultServer(default=missing) as srv:
        srv.models_reply = Reply(status=302, headers={"Location": f"{elsewhere.base_url}/models"})
        with pytest.raises(EndpointError, match="does not serve the model 'fault-model'"):
            make(srv, api_key=CANARY).encode_queries(["q"])
    assert [g["path"] for g in srv.gets] == ["/v1/models"]
    assert srv.gets[0]["headers"]["Authorization"] == f"Bearer {CANARY}"  # the key only to its own origin
    assert elsewhere.gets == [] and elsewhere.posts == 0


# -- 2. validation: the whole batch or nothing ---------------------------------------------------------


def _reindex(*indices):
    def edit(items):
        if len(items) == len(indices):  # batches of another size (the tail of a corpus) stay correct
            for item, i in zip(items, indices, strict=True):
                item["index"] = i
        return items

    return edit


def _drop_index(items):
    del items[2]["index"]
    return items


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(_reindex(0, 0, 2, 3), id="duplicate"),
        pytest.param(_reindex(1, 0, 0, 3), id="swapped-and-duplicate"),
        pytest.param(_reindex(0, 1, 2, 4), id="out-of-range"),
        pytest.param(_reindex(-1, 1, 2, 3), id="negative"),
        pytest.param(_reindex(0, True, 2, 3), id="boolean"),
        pytest.param(_reindex(0, "1", 2, 3), id="string"),
        pytest.param(_drop_index, id="one-missing"),
    ],
)
def test_index_values_must_be_a_permutation_of_the_batch(items):
    with FaultServer(default=Reply(items=items)) as srv:
        with pytest.raises(EndpointError, match=r"texts #0\.\.#3 \(.*'index'") as exc:
            make(srv).encode_documents(TEXTS)
    assert srv.base_url in str(exc.value) and "whole batch was refused" in str(exc.value)


def test_items_in_another_order_are_put_back_by_their_index():
    with FaultServer(default=Reply(items=lambda items: items[::-1])) as srv:
        vecs = make(srv).encode_documents(TEXTS)
    np.testing.assert_allclose(vecs, _expected(TEXTS), atol=1e-6)


def _set(value):
    def edit(vecs):
        vecs[1] = [value] * len(vecs[1])
        return vecs

    return edit


@pytest.mark.parametrize(
    ("transform", "needle"),
    [
        pytest.param(_set(True), "bool", id="booleans"),
        pytest.param(lambda v: [[x > 0 for x in row] for row in v], "bool", id="all-booleans"),
        pytest.param(_set("0.25"), "str", id="strings"),
        pytest.param(_set(None), "NoneType", id="nulls"),
        pytest.param(_set([0.5]), "list", id="nested"),
        pytest.param(lambda v: [v[0], [], v[2], v[3]], "not a non-empty list", id="empty"),
        pytest.param(lambda v: [v[0], v[1][:5], v[2], v[3]], "different lengths", id="ragged"),
        pytest.param(lambda v: [v[0], {"x": 1}, v[2], v[3]], "dict", id="object"),
    ],
)
def test_embeddings_must_be_lists_of_finite_numbers(transform, needle):
    with FaultServer(default=Reply(transform=transform)) as srv:
        with pytest.raises(EndpointError, match="malformed embeddings") as exc:
            make(srv).encode_documents(TEXTS)
    assert needle in str(exc.value)


def test_a_bad_batch_writes_nothing_to_the_store_and_a_good_run_stores_the_right_vectors(store_dir):
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore

    texts = [f"text {i}" for i in range(10)]
    store = EmbeddingStore(store_dir)
    with FaultServer(default=Reply(items=_reindex(1, 0, 0, 3))) as srv:  # two swapped, one duplicated
        with pytest.raises(EndpointError, match="not a permutation"):
            build_model_index(_corpus(texts), make(srv, batch_size=4, concurrency=1), store=store)
        assert not list(store_dir.rglob("*.npy"))
        srv.default = Reply()
        good = build_model_index(_corpus(texts), make(srv, batch_size=4), store=store)
    np.testing.assert_allclose(good.vectors, _expected(texts), atol=1e-6)


# -- 3. bounded answers ---------------------------------------------------------------------------------


def test_an_endless_answer_is_cut_off_near_the_bound():
    with FaultServer(default=Reply(flood=256 << 20)) as srv:  # 256 MiB of "0.0123456789,"
        t0 = time.monotonic()
        with pytest.raises(EndpointError, match="kept sending past") as exc:
            make(srv).encode_queries(["q"])
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
    assert srv.base_url in str(exc.value) and "reading stopped" in str(exc.value)
    assert srv.sent_bytes < 32 << 20 and elapsed < 5  # read ~1 MiB, then the socket went away


def test_an_announced_oversized_answer_is_refused_before_reading():
    with FaultServer(default=Reply(flood=8 << 20, announce=1_500_000_000)) as srv:
        with pytest.raises(EndpointError, match="announced 1,500,000,000 bytes"):
            make(srv).encode_queries(["q"])


# -- 4. one deadline per request; cut and malformed answers ---------------------------------------------


def test_a_trickling_body_is_cut_off_at_the_deadline():
    with FaultServer(default=Reply(trickle=0.2)) as srv:  # ~250 bytes at 5 bytes/s: ~50 s in all
        t0 = time.monotonic()
        with pytest.raises(EndpointError, match="did not answer within 1 s") as exc:
            make(srv, timeout=1.0).encode_queries(["q"])
        elapsed = time.monotonic() - t0
    assert elapsed < 2.5 and srv.base_url in str(exc.value)


def test_trickling_headers_are_cut_off_at_the_deadline():
    with FaultServer(default=Reply(trickle=0.2, trickle_headers=True)) as srv:
        t0 = time.monotonic()
        with pytest.raises(EndpointError, match="did not answer within 1 s"):
            make(srv, timeout=1.0).encode_queries(["q"])
    assert time.monotonic() - t0 < 2.5


def test_a_body_cut_short_is_a_clear_error_for_one_text():
    with FaultServer(default=Reply(cut=20)) as srv:
        with pytest.raises(EndpointError, match="closed the connection before the whole answer") as exc:
            make(srv).encode_queries(["q"])
    assert srv.base_url in str(exc.value)


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(Reply(cut=30), id="cut-short"),
        pytest.param(
            Reply(body=b'{"object": "list", "data": [{"index": 0, "embedding": [0.1,'), id="malformed"
        ),
        pytest.param(Reply(trickle=0.5), id="trickle"),
    ],
)
def test_a_batch_whose_answer_breaks_is_split_and_retried(first):
    with FaultServer([first]) as srv:
        emb = make(srv, timeout=1.5, concurrency=1)
        vecs = emb.encode_documents(TEXTS)
    np.testing.assert_allclose(vecs, _expected(TEXTS), atol=1e-6)
    assert [len(r["json"]["input"]) for r in srv.requests] == [4, 2, 2]
    assert emb.batch_size == 2 and len(emb.notes) == 1


def test_malformed_json_for_one_text_names_the_endpoint():
    with FaultServer(default=Reply(body=b'{"data": [{"index": 0, "embedding": [0.1, 0.2')) as srv:
        with pytest.raises(EndpointError, match="malformed JSON") as exc:
            make(srv).encode_queries(["q"])
    assert srv.base_url in str(exc.value)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"hello\r\n\r\n",
        b"HTTP/1.1 abc Broken\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\n" + b"X: " + b"a" * 100_000 + b"\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 4\r\n\r\nabcd",
    ],
    ids=[
        "nothing",
        "not-http",
        "bad-status",
        "bad-length",
        "bad-chunk",
        "two-lengths",
        "huge-header",
        "bad-gzip",
    ],
)
def test_garbage_on_the_wire_is_always_an_endpoint_error(raw):
    with FaultServer(default=Reply(raw=raw)) as srv:
        with pytest.raises(EndpointError) as exc:
            make(srv, retries=1).encode_queries(["q"])
    assert srv.base_url in str(exc.value)
