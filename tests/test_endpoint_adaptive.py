"""Slow servers (issue 12): a batch that times out is split and retried, the smaller size is kept for the
rest of the run, only a single text that still times out is an error, the client says what it did, and
a one-at-a-time server is paced so that its queue does not eat the deadline."""

from __future__ import annotations

import logging
from copy import deepcopy

import numpy as np
import pytest

from core.errors import EndpointError
from core.models.endpoint.client import EndpointEmbedder, endpoint_spec
from tests.endpoint_servers import FaultServer, Reply, text_vector


def make(server: FaultServer, **kw) -> EndpointEmbedder:
    kw.setdefault("retries", 1)
    kw.setdefault("backoff", 0.01)
    return EndpointEmbedder(endpoint_spec(f"endpoint:fault-model@{server.base_url}"), **kw)


def _texts(n: int) -> list[str]:
    return [f"text {i:03d}" for i in range(n)]


def _expected(texts: list[str]) -> np.ndarray:
    return np.asarray([text_vector(t, 8) for t in texts], dtype=np.float32)


def test_a_timed_out_batch_is_split_and_the_smaller_size_is_kept():
    texts, notes = _texts(16), []
    with FaultServer(default=Reply(delay_per_text=0.15)) as srv:  # 8 texts: 1.2 s; 4 texts: 0.6 s
        emb = make(srv, batch_size=8, concurrency=1, timeout=1.0, on_note=notes.append)
        vecs = emb.encode_documents(texts)
    sizes = [len(r["json"]["input"]) for r in srv.requests]
    assert sizes[:3] == [8, 4, 4] and max(sizes[3:]) <= 4 and sum(sizes[1:]) == 16
    np.testing.assert_allclose(vecs, _expected(texts), atol=1e-6)
    assert emb.batch_size == 4
    assert notes == emb.notes and len(notes) == 1
    assert "a batch of 8 texts (#0..#7) timed out after 1 s; retrying it as 4 + 4" in notes[0]
    assert "from now on batches of 4" in notes[0] and srv.base_url in notes[0]


def test_the_kept_batch_size_survives_into_the_next_call_and_a_pickle():
    with FaultServer(default=Reply(delay_per_text=0.15)) as srv:
        emb = make(srv, batch_size=8, concurrency=1, timeout=1.0, on_note=lambda m: None)
        emb.encode_documents(_texts(8))
        before = srv.posts
        emb.encode_documents([f"more {i}" for i in range(4)])
        copy = deepcopy(emb)  # through __getstate__/__setstate__, as a pickle
    later = [len(r["json"]["input"]) for r in srv.requests[before:]]
    assert max(later) <= 4 and sum(later) == 4  # not 8 again (pacing may cut it smaller still)
    assert copy.batch_size == 4 and copy.on_note is None and copy.notes == emb.notes


def test_after_a_timeout_fewer_requests_run_at_once():
    with FaultServer([Reply(delay=2.0)]) as srv:
        emb = make(srv, batch_size=8, concurrency=4, timeout=1.0, on_note=lambda m: None)
        vecs = emb.encode_documents(_texts(32))
    assert vecs.shape == (32, 8) and emb.concurrency == 2
    assert "2 request(s) at a time" in emb.notes[0]


def test_only_a_single_text_that_times_out_is_an_error():
    with FaultServer(default=Reply(delay=3.0)) as srv:
        emb = make(srv, batch_size=4, concurrency=1, timeout=0.5, on_note=lambda m: None)
        with pytest.raises(EndpointError) as exc:
            emb.encode_documents(_texts(4))
    msg = str(exc.value)
    assert "did not answer within 0.5 s" in msg and "single text cannot be split further" in msg
    assert "--timeout" in msg and srv.base_url in msg
    assert [len(r["json"]["input"]) for r in srv.requests] == [4, 2, 1]


def test_adaptations_are_logged_when_nobody_listens(caplog):
    with FaultServer([Reply(delay=2.0)]) as srv, caplog.at_level(logging.WARNING, logger="core.models.endpoint.client"):
        make(srv, batch_size=4, concurrency=1, timeout=1.0).encode_documents(_texts(4))
    assert any("retrying it as 2 + 2" in r.getMessage() for r in caplog.records)


def test_a_one_at_a_time_server_is_paced_instead_of_flooded():
    # 0.02 s per text, one request at a time: 4 requests of 16 in flight would queue 1.28 s of work and
    # the last would miss a 1 s deadline. Paced, the client keeps about half a deadline of work queued.
    texts = _texts(96)
    with FaultServer(default=Reply(delay_per_text=0.02), serial=True) as srv:
        emb = make(srv, batch_size=16, concurrency=4, timeout=1.0)
        vecs = emb.encode_documents(texts)
    np.testing.assert_allclose(vecs, _expected(texts), atol=1e-6)
    assert emb.notes == [] and emb.batch_size == 16 and emb.concurrency == 4  # nothing timed out
    assert srv.max_in_flight <= 2
    assert emb.calls == srv.posts


def test_a_fast_parallel_server_still_gets_concurrent_requests():
    with FaultServer(default=Reply(delay=0.2)) as srv:
        emb = make(srv, batch_size=4, concurrency=4, timeout=10.0)
        emb.encode_documents(_texts(64))
    assert srv.max_in_flight >= 3 and emb.notes == []


def test_the_timeout_is_a_setting():
    with FaultServer(default=Reply(delay=1.0)) as srv:
        with pytest.raises(EndpointError, match="within 0.4 s"):
            make(srv, timeout=0.4).encode_queries(["q"])
        assert make(srv, timeout=3).encode_queries(["q"]).shape == (1, 8)
    with pytest.raises(EndpointError, match="timeout=0"):
        make(srv, timeout=0)


@pytest.mark.parametrize("method", ["encode_queries", "encode_documents", "embed_raw"])
def test_a_single_string_is_refused_not_embedded_per_character(method):
    with FaultServer() as srv:
        with pytest.raises(EndpointError, match="not a single string"):
            getattr(make(srv), method)("hello")
    assert srv.posts == 0
