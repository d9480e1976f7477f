"""The bundled wordllama preset: a real Matryoshka-trained static model that loads offline from its wheel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from core.build import build
from core.dims import offered_dims, swept_dims
from core.ingest import load_corpus
from core.models import (
    PRESETS,
    availability,
    estimate_build,
    load_embedder,
    load_tokenizer,
    published_figures,
    resolve_model,
)
from core.search import truncation_curve
from core.store import EmbeddingStore
from core.types import SearchParams

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_corpus"
NAME = "wordllama-l2-supercat"

# Cold load in a fresh interpreter: no network (every connect refused), an empty home (no ~/.cache/wordllama).
_COLD_LOAD = """
import logging, socket, sys, time
def _refuse(*args, **kwargs):
    raise OSError("network used while loading the bundled wordllama model")
socket.socket.connect = _refuse
socket.create_connection = _refuse
from core.models import load_embedder, resolve_model
t = time.perf_counter()
emb = load_embedder(resolve_model("wordllama-l2-supercat"))
seconds = time.perf_counter() - t
v = emb.encode_queries(["offline"])
root = logging.getLogger()  # wordllama's import-time logging.basicConfig(INFO) is undone
print(f"{seconds:.3f} {v.shape[1]} {len(root.handlers)} {logging.getLevelName(root.level)}")
"""


@pytest.fixture(scope="module")
def wordllama():
    return load_embedder(resolve_model(NAME))


@pytest.fixture(scope="module")
def sample():
    return load_corpus(SAMPLE / "docs")


@pytest.fixture(scope="module")
def sample_vectors(wordllama, sample):
    docs = wordllama.encode_documents([c.embed_text for c in sample.chunks])
    queries = [json.loads(line)["text"] for line in (SAMPLE / "queries.jsonl").read_text().splitlines()]
    return docs, wordllama.encode_queries(queries)


def test_loads_offline_from_the_wheel_without_network(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _COLD_LOAD], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seconds, width, handlers, level = done.stdout.split()
    # the app's logging is as it was: no INFO lines from every library
    assert (handlers, level) == ("0", "WARNING")
    print(f"wordllama cold load: {float(seconds):.2f} s")  # 0.9-1.4 s cold on a busy 2-core machine (a figure, not a test)
    assert int(width) == 256
    assert not (tmp_path / ".cache" / "wordllama").exists()  # nothing downloaded or cached beside the wheel


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    from core.errors import ModelLoadError
    from core.models import embedders

    monkeypatch.setattr(embedders, "wordllama_folder", lambda: None)
    with pytest.raises(ModelLoadError, match=r"wordllama package is missing \(pip install 'wordllama>=0.4"):
        load_embedder(resolve_model(NAME))


def test_preset_is_a_bundled_third_choice_not_the_default_pair():
    from core.models.presets import BUNDLED
    from ui.state import BUNDLED_PAIR

    spec = PRESETS[NAME]
    assert availability(spec) == "bundled"
    assert resolve_model("dleemiller/word-llama-l2-supercat") == spec  # the hub id finds the bundled copy
    assert NAME not in BUNDLED_PAIR and NAME not in BUNDLED
    assert "weak at retrieval" in spec.note and "static word-embedding" in spec.note
    assert spec.licence == "mit" and spec.params == 32_000 * 256


def test_real_vectors_rank_the_relevant_passage_above_an_unrelated_one(wordllama):
    docs = wordllama.encode_documents(
        [
            "Access tokens expire after 15 minutes; use the refresh token to obtain a new access token.",
            "The cafeteria on the third floor serves vegetarian lunch from noon until two o'clock.",
        ]
    )
    query = wordllama.encode_queries(["How do I refresh an expired access token?"])
    assert docs.dtype == np.float32 and docs.shape == (2, 256)
    np.testing.assert_allclose(np.linalg.norm(docs, axis=1), 1.0, atol=1e-5)
    scores = docs @ query[0]
    assert scores[0] > scores[1] + 0.1, scores


def test_no_prompt_and_an_empty_text_gives_no_nan(wordllama):
    both = wordllama.encode_queries(["rotate the signing key", ""])
    doc = wordllama.encode_documents(["rotate the signing key"])
    np.testing.assert_allclose(both[0], doc[0], atol=1e-6)  # queries and documents embed alike
    assert not np.isnan(both).any() and np.linalg.norm(both[1]) == 0.0


def test_the_window_cuts_only_what_is_longer(wordllama):
    short = load_embedder(resolve_model(NAME), max_tokens=8)
    text = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi"
    assert short.max_tokens == 8 and short.cache_key != wordllama.cache_key
    assert not np.allclose(short.encode_documents([text]), wordllama.encode_documents([text]))
    np.testing.assert_allclose(
        short.encode_documents(["alpha beta"]), wordllama.encode_documents(["alpha beta"]), atol=1e-6
    )


def test_matryoshka_prefix_keeps_more_recall_than_an_arbitrary_cut(sample_vectors):
    """Trained prefixes beat the same number of random orthogonal directions of the same vectors."""
    docs, queries = sample_vectors
    spec = PRESETS[NAME]
    assert offered_dims(spec.dim, spec.mrl_dims) == [64, 128, 256]
    assert swept_dims(spec.dim, spec.mrl_dims) == [64, 128, 256]
    prefix = truncation_curve(docs, queries, dims=[64, 128, 256], k=10).recall
    rotated = []
    for seed in range(3):
        rot, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((256, 256)))
        rot = rot.astype(np.float32)
        rotated.append(truncation_curve(docs @ rot, queries @ rot, dims=[64, 128], k=10).recall)
    print(f"wordllama recall@10 vs 256 dims on the sample queries: {prefix}")
    assert prefix[256] == 1.0
    for d in (64, 128):
        control = float(np.mean([r[d] for r in rotated]))
        assert prefix[d] > control + 0.04, (d, prefix[d], control)
    assert prefix[64] < prefix[128] < 1.0


def test_builds_through_the_normal_build_path_and_finds_the_right_documents(tmp_path, sample):
    store = EmbeddingStore(tmp_path / "store")
    t = time.perf_counter()
    mi = build(sample, NAME, store=store)
    seconds = time.perf_counter() - t
    assert mi.stats is not None and mi.stats.embedded == len(sample.chunks) and mi.dim == 256
    print(
        f"wordllama build of {len(sample.chunks)} chunks: {seconds:.2f} s, "
        f"{mi.stats.items_per_second:,.0f} docs/s embedding"
    )
    assert mi.offered_dims == [64, 128, 256]
    qrels: dict[str, set[str]] = defaultdict(set)
    for line in (SAMPLE / "qrels.tsv").read_text().splitlines()[1:]:
        qid, doc, _ = line.split("\t")
        qrels[qid].add(doc)
    found = total = 0
    for line in (SAMPLE / "queries.jsonl").read_text().splitlines():
        q = json.loads(line)
        if q["lang"] != "en" or q["cross_lingual"]:
            continue  # an English static model: cross-lingual search is not what it can do
        hits = mi.search(q["text"], SearchParams(k=10, dims=64)).hits
        found += any(sample.chunks[h.chunk_index].source in qrels[q["_id"]] for h in hits)
        total += 1
    assert found >= 0.8 * total, (found, total)
    again = build(sample, NAME, store=store)
    assert again.stats is not None and again.stats.embedded == 0  # the store holds every vector


def test_its_tokenizer_counts_tokens_and_the_estimate_is_not_a_transformers(sample):
    spec = PRESETS[NAME]
    tok = load_tokenizer(spec)
    assert tok is not None
    ids = tok(["Explain the consensus mechanism"], add_special_tokens=False)["input_ids"][0]
    assert 3 <= len(ids) <= 8
    est = estimate_build(spec, n_tokens=80_000, n_chunks=len(sample.chunks))
    assert est.seconds < 5 and "static model" in est.basis  # FLOPs of a transformer would say minutes
    assert est.memory_bytes < 512 * 2**20


def test_published_figures_per_trained_dimension_name_their_source():
    figures = published_figures(NAME)
    assert figures is not None and "README" in figures.source and "MTEB" in figures.benchmark
    rows = figures.rows([64, 128, 256])
    assert [r["dims"] for r in rows] == [64, 128, 256]
    assert [r["CQA DupStack"] for r in rows] == [18.76, 22.54, 24.12]
    assert published_figures("all-MiniLM-L6-v2") is None


@pytest.mark.slow  # AppTest runs of three pages (about half a minute on 2 cores)
def test_models_page_says_weak_and_dimensions_page_shows_its_curve_and_published_scores(tmp_path):
    from tests.app_env import app, shown, use_store

    with use_store(tmp_path / "store"):
        at = app("pages/1_Corpus.py")
        at.run()
        docs = [
            (
                f"doc{i}.md",
                f"# Topic {i}\n\nParagraph {i} about tokens, keys and consensus.\n".encode(),
                "text/markdown",
            )
            for i in range(24)
        ]
        at.file_uploader[0].set_value(docs).run()
        for slot in ("a", "b"):
            at.session_state[f"_models_choice_{slot}"] = NAME
        at.switch_page("pages/2_Models.py").run()
        assert not at.exception, at.exception
        assert "weak at retrieval" in shown(at)  # said where the model is chosen
        at.button(key="models_build").click().run()
        assert not at.exception, at.exception
        at.switch_page("pages/4_Dimensions.py")
        at.session_state["mrl_queryset"] = "pseudo"
        at.session_state["mrl_slot"] = "A"
        at.run()
        assert not at.exception, at.exception
        assert [int(o) for o in at.select_slider(key="mrl_dims").options] == [64, 128, 256]
        page = shown(at)
        assert "was trained for Matryoshka truncation" in page
        assert "Published by its authors" in page and "wordllama README" in page
        published = [df.value for df in at.dataframe if "CQA DupStack" in df.value.columns]
        assert published and published[0]["dims"].tolist() == [64, 128, 256]
