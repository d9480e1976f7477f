"""Hardening round 3 (issue 28) on the Home and Models pages: a bundle's endpoint waits for the user to confirm its
host (no request, no API key before), a refused bundle leaves the store and the session as they were, a bundle's
word about its settings or its origin is checked, a model a bundle names runs no remote code until the user
chooses it, and a bundle's local-folder model is mapped to the folder chosen here (slow: AppTest with real
models)."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from core.bundle import ExportModel, make_bundle, read_bundle
from core.bundle.corpus_json import texts_in_order
from core.ingest import load_files
from core.judging.store import JudgmentStore
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.engine import build_model_index
from core.store import EmbeddingStore
from tests.app_env import app, shown, use_store
from tests.endpoint_servers import FaultServer, Reply
from tests.test_bundle import rezip
from tests.test_bundle_checks import KEY, endpoint_bundle
from tests.test_bundle_review import two_machines  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow

SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b", "models_held")


def upload(at: AppTest, name: str, data: bytes) -> None:
    at.file_uploader(key="_home_bundle_upload").set_value((name, data, "application/zip")).run()
    assert not at.exception, at.exception


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="module")
def corpus():
    return load_files(
        [
            ("auth.md", b"# JWT\n\nThe access token is valid for 15 minutes; refresh it with the refresh token.\n"),
            ("backup.md", b"# Backups\n\nBackups run every night at 02:00 UTC and are kept for thirty days.\n"),
        ],
        name="round 3 demo",
    )


def test_a_bundles_endpoint_gets_no_request_and_no_key_until_the_user_confirms_its_host(
    corpus, minilm, tmp_path, monkeypatch
):
    monkeypatch.setenv("EMBEDDING_API_KEY", KEY)
    with use_store(tmp_path / "store"), FaultServer(default=Reply(dims=384)) as named:
        data, name = endpoint_bundle(corpus, minilm, named.base_url, tmp_path)
        at = app()
        at.run()
        upload(at, "endpoint.zip", data)
        assert named.requests == [] and named.gets == []  # not one request reached the host the bundle names
        text = shown(at)
        assert f"nothing is sent to 127.0.0.1:{named.port} (and no API key) until you confirm that host" in text, text
        assert "vectors of this model are unverified" in text
        assert at.session_state["models_a"] == name and at.session_state["models_held"] == {"A": name}
        assert at.session_state["built_a"] is None and at.session_state["built_b"] is not None  # B is ready
        texts = texts_in_order(read_bundle(data).corpus)
        endpoint_key = load_embedder(resolve_model(name)).cache_key
        assert not any(EmbeddingStore().stored(endpoint_key, texts))  # kept out of the store

        # the Models page: the endpoint waits too (no Test connection, a build is refused naming the host)
        models = app("pages/2_Models.py")
        for key in SEEDED:
            models.session_state[key] = at.session_state[key]
        models.run()
        assert not models.exception, models.exception
        assert models.button(key="_models_confirm_A") is not None
        assert not [b for b in models.button if b.key == "_models_test_A"]
        models.button(key="models_build").click().run()
        assert not models.exception, models.exception
        errors = " ".join(e.value for e in models.error).replace("\\", "")
        assert f"nothing is sent to 127.0.0.1:{named.port}" in errors, errors
        assert named.requests == [] and named.gets == []

        # the user confirms the host on the Home page: now the key goes there, the endpoint checks the vectors
        at.button(key="_home_confirm_A").click().run()
        assert not at.exception, at.exception
        assert named.requests and all(r["headers"].get("Authorization") == f"Bearer {KEY}" for r in named.requests)
        assert at.session_state["models_held"] == {} and at.session_state["built_a"] is not None
        assert all(EmbeddingStore().stored(endpoint_key, texts))
        text = shown(at)
        assert "endpoint.zip" in text and "texts embedded here agree with the bundle" in text


def test_refused_bundles_leave_the_store_and_the_session_as_they_were_and_origin_is_checked(
    corpus, minilm, tmp_path
):
    from core.bundle import ExportModel, make_bundle
    from core.search.engine import build_model_index
    from ui.state import BUNDLED_PAIR

    exports = []
    for slot, name in zip("AB", BUNDLED_PAIR, strict=True):
        emb = load_embedder(resolve_model(name), device="cpu")
        mi = build_model_index(corpus, emb, store=EmbeddingStore(tmp_path / "gpu-box"))
        exports.append(ExportModel(slot=slot, name=name, embedder=emb, vectors=mi.vectors))
    good = make_bundle(corpus, exports, settings={"index": {"M": 16}}, origin="upload")
    made_on = JudgmentStore.for_corpus(corpus.sha256, tmp_path / "gpu-box")
    made_on.record(query="token lifetime", chunk_id="auth.md#0", label=2, rater="ann", origin="pooled")
    dump = made_on.dump()
    dump["judgments"][0]["query"] = " "
    bad_labels = rezip(good, replace={"labels.json": json.dumps({"judgments": dump}).encode()})
    huge_m = rezip(good, manifest=lambda m: m["settings"]["index"].update(M=10**6))
    says_sample = rezip(good, manifest=lambda m: m["corpus"].update(origin="sample"))
    with use_store(tmp_path / "store"):
        at = app()
        at.run()
        upload(at, "bad-labels.zip", bad_labels)
        errors = " ".join(e.value for e in at.error).replace("\\", "")
        assert "Bundle refused: labels.json holds judgments this app cannot use" in errors, errors
        assert EmbeddingStore().stats()["models"] == {}  # no vector written before the labels were checked
        assert at.session_state["corpus_key"] is None

        upload(at, "huge-m.zip", huge_m)
        errors = " ".join(e.value for e in at.error).replace("\\", "")
        assert "manifest.json settings.index.M is 1000000; this app accepts an integer from 4 to 96" in errors, errors
        assert at.session_state["models_hnsw_m"] == 16 and at.session_state["corpus_key"] is None

        upload(at, "says-sample.zip", says_sample)  # a corpus that is not the sample's, whatever the bundle says
        assert at.session_state["corpus_key"] == corpus.sha256
        assert at.session_state["corpus_origin"] == "upload"


def _errors(at: AppTest) -> str:
    return " ".join(e.value for e in at.error).replace("\\", "")


def test_a_model_a_bundle_names_runs_no_remote_code_until_the_user_chooses_it(corpus, minilm, tmp_path, monkeypatch):
    from ui import resources

    seen: list[tuple[str, bool]] = []  # (model, trust_remote_code) of every load the pages ask for
    real = resources.embedder

    def spy(name, **kwargs):
        seen.append((name, bool(kwargs.get("trust_remote_code"))))
        return real(name, **kwargs)

    monkeypatch.setattr(resources, "embedder", spy)
    vectors = build_model_index(corpus, minilm, store=EmbeddingStore(tmp_path / "gpu-box")).vectors
    data = make_bundle(corpus, [ExportModel(s, "all-MiniLM-L6-v2", minilm, vectors) for s in "AB"], origin="upload")
    with use_store(tmp_path / "store"):
        at = app()
        at.session_state["models_trust_remote_code"] = True  # ticked by the user, for a model of their own
        at.run()
        upload(at, "named.zip", data)
        assert at.session_state["built_a"] is not None and at.session_state["built_b"] is not None
        assert seen and not any(trust for _, trust in seen), seen  # was: the build loaded it with remote code
        assert at.session_state["models_untrusted"] == {"A": "all-MiniLM-L6-v2", "B": "all-MiniLM-L6-v2"}

        # the Models page says so; a build there still runs no remote code; the user's own choice allows it
        models = app("pages/2_Models.py")
        for key in (*SEEDED, "models_untrusted", "models_trust_remote_code"):
            models.session_state[key] = at.session_state[key]
        models.run()
        assert not models.exception, models.exception
        assert "Model A (all-MiniLM-L6-v2) was named by an imported bundle: it loads without remote code" in shown(models)
        seen.clear()
        models.button(key="models_build").click().run()
        assert not models.exception and seen and not any(trust for _, trust in seen), seen
        models.button(key="_models_trust_a").click().run()
        assert models.session_state["models_untrusted"] == {"B": "all-MiniLM-L6-v2"}
        seen.clear()
        models.button(key="models_build").click().run()
        assert not models.exception, models.exception
        assert ("all-MiniLM-L6-v2", True) in seen and ("all-MiniLM-L6-v2", False) in seen, seen  # A now, B not


def test_the_home_page_maps_a_bundles_local_folder_model_to_the_folder_chosen_here(
    two_machines, corpus, minilm, tmp_path  # noqa: F811
):
    gpu_box, laptop = two_machines
    folder_model = load_embedder(resolve_model(str(gpu_box)), device="cpu")
    vectors = build_model_index(corpus, folder_model, store=EmbeddingStore(tmp_path / "gpu-box")).vectors
    exports = [ExportModel("A", str(gpu_box), folder_model, vectors), ExportModel("B", "all-MiniLM-L6-v2", minilm, vectors)]
    data = make_bundle(corpus, exports, origin="upload")
    with use_store(tmp_path / "store"):
        at = app()
        at.run()
        upload(at, "local.zip", data)  # no folder chosen for model A yet: the page says how to choose it
        errors = _errors(at)
        assert "Model A of this bundle is local:all-MiniLM-L6-v2: a model folder of the machine that made it" in errors
        assert "Choose your copy of that folder (all-MiniLM-L6-v2) for model A on the Models page" in errors, errors
        assert at.session_state["corpus_key"] is None and EmbeddingStore().stats()["models"] == {}

        at.session_state["models_a"] = str(laptop)  # chosen on the Models page ("Other: Hugging Face id or local path")
        upload(at, "local-again.zip", data)
        assert not _errors(at), _errors(at)
        assert at.session_state["corpus_key"] == corpus.sha256 and at.session_state["built_a"] is not None
        assert at.session_state["models_a"] == str(laptop)  # the folder chosen here, not the bundle's label
        assert "local-again.zip" in shown(at) and "Ready in" in shown(at)
