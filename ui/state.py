"""Session-state keys and their defaults; pages guard state with these instead of ad-hoc strings."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.ingest.options import DEFAULT_CHUNKING

BUNDLED_PAIR = ("multilingual-e5-small", "all-MiniLM-L6-v2")
HEADLINE_A = "Qwen3-Embedding-4B"
HEADLINE_B = {"zh": "bge-base-zh-v1.5", "en": "bge-base-en-v1.5"}

# Small values only: keys, names, numbers, short lists. Models, corpora and matrices live in ui.resources.
DEFAULTS: dict[str, Any] = {
    # corpus page
    "corpus_key": None,  # Corpus.sha256 of the loaded corpus (the Corpus itself is in resources.corpora())
    "corpus_origin": "",  # "sample" | "upload" | "beir"
    "corpus_unit": "chars",
    "corpus_size": DEFAULT_CHUNKING["chars"][0],
    "corpus_overlap": DEFAULT_CHUNKING["chars"][1],
    # models page
    "models_a": None,  # model name: preset, hub id, local path or endpoint:MODEL@URL
    "models_b": None,
    "models_instr_a": "",  # query instruction override (Qwen3-style models); "" = model default
    "models_instr_b": "",
    "models_max_tokens_a": 0,  # 0 = model default
    "models_max_tokens_b": 0,
    "models_device": "auto",
    "models_trust_remote_code": False,  # off unless the user ticks it (runs code shipped with a model)
    "models_hnsw_m": 16,
    "models_hnsw_efc": 200,
    "models_hnsw_ef": 128,
    "models_fallback_reason": "",  # why the headline pair is not in use, shown as a banner
    "built_a": None,  # key into resources.indexes() for model A's built index
    "built_b": None,
    # compare page
    "cmp_query": "",
    "cmp_k": 10,
    "cmp_history": [],  # recent query strings, newest first
    "cmp_latency": [],  # (slot, embed_ms, search_ms) tuples, capped
    "cmp_labels": {},  # corpus_key -> {query: {chunk_id: 0|1}}
    "cmp_disagree": [],  # rows of the last "where do they disagree most" run
    "cmp_queryset": "sample queries",
    # dimensions page
    "mrl_slot": "A",
    "mrl_dims": None,
    "mrl_k": 10,
    "mrl_queryset": "sample queries",
    "mrl_pseudo": 200,  # how many chunks to use as pseudo-queries
    # evaluate page
    "eval_source": "sample judgments",
    "eval_mode": "exact",
    "eval_metric": "ndcg@10",
    "eval_sets": {},  # corpus_key -> name of the judged set registered in resources (BEIR upload)
}

MAX_HISTORY = 30
MAX_LATENCY = 500


def init() -> None:
    """Once per script run (pages call it first): give missing keys their defaults and keep widget values.

    Streamlit forgets a widget's key when a page that does not show the widget runs; writing each key back
    turns it into plain session state, so the query, k and model choices survive moving between pages.
    """
    ss = st.session_state
    for key, value in DEFAULTS.items():
        if key in ss:
            ss[key] = ss[key]
        else:
            ss[key] = value.copy() if isinstance(value, (list, dict)) else value


def get(key: str) -> Any:
    """Read a known key."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; known keys: {sorted(DEFAULTS)}")
    if key not in st.session_state:
        init()
    return st.session_state[key]


def put(key: str, value: Any) -> None:
    """Write a known key."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; known keys: {sorted(DEFAULTS)}")
    st.session_state[key] = value


def remember_query(query: str) -> None:
    """Put a query at the front of this session's history (deduplicated, capped)."""
    history = [q for q in get("cmp_history") if q != query]
    put("cmp_history", [query, *history][:MAX_HISTORY])


def record_latency(slot: str, embed_ms: float, search_ms: float) -> None:
    """Append one query's timings for the session's p50/p95."""
    put("cmp_latency", [*get("cmp_latency"), (slot, embed_ms, search_ms)][-MAX_LATENCY:])
