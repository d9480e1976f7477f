"""Model name resolution: a preset name, hub id, local folder or endpoint string becomes a ModelSpec."""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
from pathlib import Path
from typing import Any

from core.dims import mrl_stops
from core.errors import ModelLoadError
from core.models.endpoint.spec import endpoint_spec
from core.models.param_count import count_params
from core.models.presets import ALIASES, PRESETS, QWEN3_DEFAULT_TASK, QWEN3_QUERY_PROMPT, family_defaults
from core.types import ModelSpec


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _folder_spec(path: Path) -> ModelSpec:
    """Generic spec for a local sentence-transformers folder, prompts read from its own config."""
    fields: dict[str, Any] = family_defaults(path.name)
    config = _read_json(path / "config.json")
    if str(config.get("model_type", "")).lower() == "qwen3":
        fields.update(
            mrl_dims=mrl_stops(int(config.get("hidden_size") or 1024)),
            pooling="lasttoken",
            padding_side="left",
            query_prompt=QWEN3_QUERY_PROMPT,
            default_task=QWEN3_DEFAULT_TASK,
        )
    prompts = _read_json(path / "config_sentence_transformers.json").get("prompts") or {}
    query = prompts.get("query")
    if query:
        # A Qwen-style prompt with the default task baked in is kept editable through {task}.
        if query.startswith("Instruct: ") and query.endswith("\nQuery:"):
            fields["query_prompt"] = QWEN3_QUERY_PROMPT
            fields["default_task"] = query[len("Instruct: ") : -len("\nQuery:")]
        else:
            fields["query_prompt"] = query
    doc = prompts.get("document") or prompts.get("passage")
    if doc:
        fields["doc_prompt"] = doc
    if config.get("hidden_size") and "dim" not in fields:
        fields["dim"] = int(config["hidden_size"])
    st_conf = _read_json(path / "sentence_bert_config.json")
    if st_conf.get("max_seq_length"):
        fields["max_tokens"] = int(st_conf["max_seq_length"])
    elif "max_tokens" not in fields and config.get("max_position_embeddings"):
        fields["max_tokens"] = min(int(config["max_position_embeddings"]), 8192)
    return ModelSpec(
        name=path.name, model_id=str(path), params=count_params(path), note="Local folder.", **fields
    )


def resolve_model(name: str) -> ModelSpec:
    """Turn a preset name, hub id, local path or 'endpoint:...' string into a ModelSpec.

    Args:
        name: A preset (``core.models.PRESETS``, case-insensitive), a hub id ``owner/name``, a local
            sentence-transformers folder, or ``endpoint:MODEL@BASE_URL``.

    Returns:
        The ModelSpec: backend, model id, prompts, dims and max tokens. Nothing is loaded yet.

    Raises:
        ModelLoadError: the name is empty or unknown, or the path is not a model folder.
    """
    raw = (name or "").strip()
    if not raw:
        raise ModelLoadError(
            f"No model given. Choose a preset ({', '.join(PRESETS)}), a hub id or a local path."
        )
    if raw.lower().startswith("endpoint:"):
        return endpoint_spec(raw)
    raw = ALIASES.get(raw.lower(), raw)
    by_lower = {k.lower(): v for k, v in PRESETS.items()}
    if raw.lower() in by_lower:
        return by_lower[raw.lower()]
    for spec in PRESETS.values():
        if spec.model_id.lower() == raw.lower():
            return spec
    path = Path(os.path.expanduser(raw))
    if path.is_dir():
        return _folder_spec(path.resolve())
    if path.exists():
        raise ModelLoadError(
            f"Model path '{raw}' is a file; give the folder that holds the model's config.json."
        )
    looks_like_path = raw.startswith((".", "/", "~")) or raw.count("/") > 1
    if looks_like_path:
        raise ModelLoadError(
            f"Model folder '{raw}' does not exist. Check the path or use a hub id like 'BAAI/bge-m3'."
        )
    if "/" in raw and raw.count("/") == 1:
        owner, _, short = raw.partition("/")
        fields = {"max_tokens": 0, **family_defaults(raw)}  # 0: keep the model's own max_seq_length (MTEB)
        return ModelSpec(name=short, model_id=raw, note=f"Hub model by {owner}.", **fields)
    close = difflib.get_close_matches(raw, list(PRESETS), n=2, cutoff=0.4)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ModelLoadError(
        f"Unknown model '{raw}'.{hint} Valid presets: {', '.join(PRESETS)}. "
        "Or give a hub id 'owner/name', a local folder, or 'endpoint:<url>'."
    )


def with_dim(spec: ModelSpec, dim: int) -> ModelSpec:
    """The spec with its full output dimension filled in (after loading)."""
    if spec.dim == dim:
        return spec
    mrl = tuple(d for d in spec.mrl_dims if d < dim) + (dim,) if spec.mrl_dims else ()
    return dataclasses.replace(spec, dim=dim, mrl_dims=mrl)
