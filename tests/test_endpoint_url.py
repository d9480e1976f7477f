"""Served models at the URL the user gives: the base URL is used as given (Infinity's root, vLLM's /v1), a 404
says to add or drop /v1, and a real Infinity server (when infinity-emb is installed) embeds and reranks."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import EndpointError
from core.models import load_reranker
from core.models.embedders import load_embedder
from core.models.endpoint.client import EndpointEmbedder, endpoint_spec
from core.models.endpoint.spec import server_identity, split_base_url
from core.models.resolve import resolve_model
from tests.rerank_servers import (
    ApiServer,
    build_tiny_cross_encoder,
    infinity_command,
    infinity_server,
    minilm_dir,
)


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://host:7997", "http://host:7997"),
        ("http://host:7997/", "http://host:7997"),
        ("http://host:8000/v1", "http://host:8000/v1"),
        ("http://host:8000/v1/embeddings", "http://host:8000/v1"),
        ("http://host:7997/rerank", "http://host:7997"),
        ("https://gw.example.com/openai/v1/", "https://gw.example.com/openai/v1"),
    ],
)
def test_the_base_url_is_used_as_given(given, url):
    assert split_base_url(given)[0] == url
    emb = EndpointEmbedder(endpoint_spec(f"endpoint:m@{given}"))
    assert emb.url == url + "/embeddings"


def test_root_and_v1_of_one_server_share_their_vectors_but_other_paths_do_not():
    assert server_identity("http://h:7997") == server_identity("http://h:7997/v1") == "h:7997"
    assert server_identity("http://h:7997/other") != "h:7997"


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_embeddings_reach_a_server_at_its_own_prefix(prefix):
    with ApiServer(prefix) as srv:
        vecs = EndpointEmbedder(endpoint_spec(f"endpoint:m@{srv.base_url}"), retries=0).encode_documents(
            ["a b"]
        )
        assert vecs.shape == (1, 8) and srv.requests[-1]["path"] == prefix + "/embeddings"


def test_a_bare_host_that_404s_says_to_add_v1_and_a_v1_that_404s_says_to_drop_it():
    with ApiServer("/v1") as srv:
        with pytest.raises(EndpointError, match=r"try adding /v1 \(http://127\.0\.0\.1:\d+/v1\)") as exc:
            EndpointEmbedder(endpoint_spec(f"endpoint:m@{srv.root}"), retries=0).encode_queries(["x"])
        assert f"{srv.root}/embeddings does not exist (HTTP 404)" in str(exc.value)
    with ApiServer("") as srv:
        with pytest.raises(EndpointError, match=r"without /v1 \(http://127\.0\.0\.1:\d+\).*Infinity"):
            EndpointEmbedder(endpoint_spec(f"endpoint:m@{srv.root}/v1"), retries=0).encode_queries(["x"])


# -- a real Infinity server ---------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    infinity_command() is None, reason="infinity-emb not installed (set INFINITY_EMB to its binary)"
)
def test_real_infinity_at_its_default_root_embeds_and_reranks_like_the_local_models(tmp_path):
    tiny_cross_encoder = build_tiny_cross_encoder(tmp_path / "tiny-ce")
    folder = minilm_dir()
    texts = [
        "JWT tokens are signed with a secret key.",
        "Knead the bread dough for ten minutes.",
        "HS256 E4012",
    ]
    models = {"all-MiniLM-L6-v2": folder, "tiny-ce": str(tiny_cross_encoder)}
    with infinity_server(models) as base:  # no /v1: Infinity's default root
        served = EndpointEmbedder(endpoint_spec(f"endpoint:all-MiniLM-L6-v2@{base}"), retries=0)
        assert served.url == base + "/embeddings"
        local = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
        np.testing.assert_allclose(served.encode_documents(texts), local.encode_documents(texts), atol=1e-4)
        rr = load_reranker(f"endpoint:tiny-ce@{base}")
        assert rr.url == base + "/rerank"
        want = load_reranker(str(tiny_cross_encoder), device="cpu").score("jwt secret", texts)
        assert rr.score("jwt secret", texts) == pytest.approx(want, abs=1e-3)
        with pytest.raises(EndpointError, match=r"try it without /v1"):
            load_reranker(f"endpoint:tiny-ce@{base}/v1").score("jwt", texts)
