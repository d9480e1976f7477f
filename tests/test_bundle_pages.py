"""The home page's quick start from the shipped sample bundle, export from the sidebar, and refused imports."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_env import app, shown, use_store

pytestmark = pytest.mark.slow  # AppTest runs with real models

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_BUNDLE = ROOT / "sample_corpus" / "sample_bundle.zip"
JWT_QUERY = "如何实现基于 JWT 的用户鉴权？"
SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")


@pytest.fixture(scope="module", autouse=True)
def _fresh_store(tmp_path_factory):
    """An empty store: whatever the quick start finds there, it put there itself (nothing embedded)."""
    with use_store(tmp_path_factory.mktemp("bundle-pages-store")):
        yield


@pytest.fixture(scope="module")
def quick() -> AppTest:
    at = app()
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    return at


def write_tampered_sample(dest) -> None:
    """The shipped sample bundle with one chunk's text changed (its checksums no longer match), to a path or file."""
    with zipfile.ZipFile(SAMPLE_BUNDLE) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    body = json.loads(members["corpus.json"])
    body["chunks"][0]["text"] = "tampered"
    members["corpus.json"] = json.dumps(body).encode()
    with zipfile.ZipFile(dest, "w") as zf:
        for n, b in members.items():
            zf.writestr(n, b)


def test_quick_start_from_the_shipped_bundle_is_ready_and_updates_the_sidebar(quick):
    from ui import resources

    text = shown(quick)
    assert "every vector precomputed in sample_bundle.zip" in text, text
    assert "nothing was embedded here" in text, text
    assert "Typed queries are embedded here: A: multilingual-e5-small in process" in text
    assert "ms per query" in text
    assert quick.button(key="home_rebuild").label == "Rebuild from scratch"
    side = [c.value for c in quick.sidebar.caption]
    assert any(c.startswith("Corpus: sample corpus · 460 chunks") for c in side), side
    assert sum(":material/check_circle:" in c for c in side) == 2, side
    for slot in ("a", "b"):
        mi = resources.indexes().get(quick.session_state[f"built_{slot}"])
        assert (
            mi is not None and mi.stats is not None and mi.stats.embedded == 0
        )  # every vector from the bundle


def test_compare_answers_after_the_import_and_the_sidebar_prepares_a_bundle(quick):
    at = app("pages/3_Compare.py")
    for key in SEEDED:
        at.session_state[key] = quick.session_state[key]
    at.session_state["cmp_query"] = JWT_QUERY
    at.run()
    assert not at.exception, at.exception
    text = shown(at)
    assert text.count("query embedding") == 2 and "JWT" in text, text  # both models answered the typed query
    at.button(key="_bundle_prepare_sidebar").click().run()
    assert not at.exception, at.exception
    labels = [d.proto.label for d in at.get("download_button")]
    assert "Download (1.4 MiB)" in labels, labels  # the session (corpus, both models' vectors) as one file


def test_a_tampered_bundle_upload_is_refused_and_the_session_kept(quick):
    buf = io.BytesIO()
    write_tampered_sample(buf)
    at = app()
    for key in SEEDED:
        at.session_state[key] = quick.session_state[key]
    at.run()
    at.file_uploader(key="_home_bundle_upload").set_value(
        ("demo.zip", buf.getvalue(), "application/zip")
    ).run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error).replace("\\", "")
    assert re.search(r"Bundle refused: .*corpus\.json.*(damaged or altered|altered or damaged)", errors), (
        errors
    )
    assert at.session_state["corpus_key"] == quick.session_state["corpus_key"]


def test_the_models_page_offers_the_export_too(quick):
    at = app("pages/2_Models.py")
    for key in SEEDED:
        at.session_state[key] = quick.session_state[key]
    at.run()
    assert not at.exception, at.exception
    at.button(key="_bundle_prepare_models").click().run()
    assert not at.exception, at.exception
    assert "Download (1.4 MiB)" in [d.proto.label for d in at.get("download_button")]


def test_an_uploaded_bundle_is_ready_and_rebuild_from_scratch_reproduces_it(tmp_path):
    from core.bundle.archive import ExportModel, make_bundle
    from core.ingest import load_files
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore
    from ui.state import BUNDLED_PAIR

    corpus = load_files(
        [
            (
                "auth.md",
                b"# JWT\n\nThe access token is valid for 15 minutes; refresh it with the refresh token.\n",
            ),
            (
                "backup.md",
                b"# Backups\n\nBackups run every night at 02:00 UTC and are kept for thirty days.\n",
            ),
        ],
        name="tiny demo",
    )
    exports = []
    for slot, name in zip("AB", BUNDLED_PAIR, strict=True):
        emb = load_embedder(resolve_model(name), device="cpu")
        mi = build_model_index(corpus, emb, store=EmbeddingStore(tmp_path / "gpu-box"))
        exports.append(ExportModel(slot=slot, name=name, embedder=emb, vectors=mi.vectors))
    data = make_bundle(corpus, exports, origin="upload")
    at = app()
    at.run()
    at.file_uploader(key="_home_bundle_upload").set_value(("tiny.zip", data, "application/zip")).run()
    assert not at.exception, at.exception
    assert "2 chunks, every vector precomputed in tiny.zip" in shown(at)
    assert any(c.value.startswith("Corpus: tiny demo · 2 chunks") for c in at.sidebar.caption)
    at.button(key="home_rebuild").click().run()
    assert not at.exception, at.exception
    report = at.dataframe[0].value  # the shared build panel's estimate vs actual
    lines = [line for line in report["what ran"] if "lowest cosine to the precomputed vectors" in line]
    assert len(lines) == 2 and all(line.startswith("embedded 2 chunks;") for line in lines), lines
    assert all(float(line.rsplit(" ", 1)[1]) >= 0.999 for line in lines)


def test_a_bundle_path_on_this_machine_is_checked_as_an_upload_is(quick, tmp_path, monkeypatch):
    at = app()
    for key in SEEDED:
        at.session_state[key] = quick.session_state[key]
    at.run()
    assert "_home_bundle_path" not in [t.key for t in at.text_input]  # off unless the server names a folder
    monkeypatch.setenv("RETRIEVAL_COMPARE_BUNDLE_DIR", str(tmp_path))
    write_tampered_sample(tmp_path / "demo.zip")
    at = app()
    for key in SEEDED:
        at.session_state[key] = quick.session_state[key]
    at.run()
    assert "Uploads up to 200 MB" in at.file_uploader(key="_home_bundle_upload").help  # the limit, stated
    at.text_input(key="_home_bundle_path").set_value(str(tmp_path / "demo.zip")).run()
    at.button(key="_home_bundle_path_import").click().run()
    assert not at.exception, at.exception
    errors = " ".join(e.value for e in at.error).replace("\\", "")
    assert re.search(r"Bundle refused: .*corpus\.json.*(damaged or altered|altered or damaged)", errors), (
        errors
    )
    assert at.session_state["corpus_key"] == quick.session_state["corpus_key"]
    at.text_input(key="_home_bundle_path").set_value(str(tmp_path / "missing.zip")).run()
    at.button(key="_home_bundle_path_import").click().run()
    assert "missing.zip is no such file on this machine" in " ".join(e.value for e in at.error).replace(
        "\\", ""
    )
    at.text_input(key="_home_bundle_path").set_value(str(SAMPLE_BUNDLE)).run()  # outside the allowed folder
    at.button(key="_home_bundle_path_import").click().run()
    assert "is outside" in " ".join(e.value for e in at.error).replace("\\", "")
    (tmp_path / "copy.zip").write_bytes(SAMPLE_BUNDLE.read_bytes())
    at.text_input(key="_home_bundle_path").set_value(str(tmp_path / "copy.zip")).run()
    at.button(key="_home_bundle_path_import").click().run()
    assert not at.exception, at.exception
    assert "every vector precomputed in copy.zip" in shown(at), shown(at)
