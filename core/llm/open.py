"""``open_llm``: a spec string -> a ready backend, cached by default."""

from __future__ import annotations

from pathlib import Path

from core.llm.base import Llm
from core.llm.bundled import BundledLlm
from core.llm.cache import CachedLlm, LlmCache
from core.llm.chat import DEFAULT_TIMEOUT, ChatLlm
from core.llm.spec import parse_llm_spec


def open_llm(
    spec_text: str,
    *,
    cache: bool = True,
    api_key: str | None = None,
    root: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    concurrency: int | None = None,
) -> Llm:
    """``llm:bundled`` (converted once into the store, then loaded in a fraction of a second) or
    ``llm:MODEL@URL[,URL...]`` (key: ``api_key``, else $LLM_API_KEY, else $OPENAI_API_KEY), wrapped in the answer
    cache under the store root (``root``, default ``core.store.default_root()``) unless ``cache=False``."""
    spec = parse_llm_spec(spec_text)
    llm: Llm
    if spec.kind == "bundled":
        llm = BundledLlm(root=root)
    else:
        extra = {"concurrency": concurrency} if concurrency else {}
        llm = ChatLlm(spec.model, spec.base_urls, api_key=api_key, timeout=timeout, **extra)
    return CachedLlm(llm, LlmCache(root)) if cache else llm
