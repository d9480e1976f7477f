"""core.build, the one build use case: a choice resolved once, refused before loading when it cannot fit, built
through the store exactly as the engine builds it (the CLI, the pages and the sample-bundle script call it)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from core.build import build, build_index, load_model, plan_build, progress_note
from core.ingest import corpus_sha256, load_corpus
from core.models import PRESETS
from core.models.limits import ModelTooLargeError
from core.store import EmbeddingStore
from core.types import Corpus, SearchParams

DOCS = Path(__file__).resolve().parents[1] / "sample_corpus" / "docs"


@pytest.fixture(scope="module")
def corpus():
    """30 chunks of the sample corpus, a few of them from the JWT manual (small enough to embed in seconds)."""
    full = load_corpus(DOCS)
    jwt = [c for c in full.chunks if "jwt" in c.source.lower()][:5]
    chunks = tuple(jwt + [c for c in full.chunks if "jwt" not in c.source.lower()][:25])
    return Corpus(chunks=chunks, files=full.files, sha256=corpus_sha256(chunks), name="sample-30")


def test_build_in_one_call_finds_the_jwt_manual_for_a_jwt_question(corpus, tmp_path):
    mi = build(corpus, "all-MiniLM-L6-v2", store=EmbeddingStore(tmp_path), device="cpu")
    assert mi.spec.name == "all-MiniLM-L6-v2" and mi.vectors.shape == (len(corpus.chunks), 384)
    top = mi.search("How do I verify a JWT signature?", SearchParams(k=5)).hits
    assert any("jwt" in corpus.chunks[h.chunk_index].source.lower() for h in top)
    again = build(corpus, "all-MiniLM-L6-v2", store=EmbeddingStore(tmp_path), device="cpu")
    assert again.stats is not None and again.stats.embedded == 0  # the store held every text


def test_a_resolved_spec_is_used_as_given_and_the_plan_carries_the_build_settings(corpus, tmp_path):
    spec = PRESETS["all-MiniLM-L6-v2"]
    plan = plan_build(corpus, spec, device="cpu", max_tokens=128)
    assert plan.spec is spec and plan.chunks == len(corpus.chunks) and plan.fits is not None
    embedder = load_model(plan)
    assert embedder.max_tokens == 128 and progress_note(embedder) == ""
    mi = build_index(plan, corpus, embedder, store=EmbeddingStore(tmp_path))
    assert mi.params == plan.params and mi.embedder is embedder


def test_a_model_too_large_for_this_machine_is_refused_before_loading(corpus):
    giant = replace(PRESETS["all-MiniLM-L6-v2"], name="giant", params=10**13)
    with pytest.raises(ModelTooLargeError, match="giant needs about .* Refused before loading"):
        plan_build(corpus, giant, device="cpu")
