"""Choosing the model pair and building both indexes with visible progress, without repeating work."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import TypedDict

import streamlit as st

from core.device import has_gpu
from core.durations import format_duration
from core.engine import ModelIndex, build_model_index
from core.hub_cache import availability, hub_offline
from core.index import IndexParams
from core.limits import check_build_fits
from core.models import resolve_model
from core.mrl import valid_dims
from core.types import Corpus
from ui import resources, state
from ui.state import BUNDLED_PAIR, HEADLINE_A, HEADLINE_B, Slot
from ui.text import escape_md

log = logging.getLogger(__name__)

SLOTS: tuple[Slot, ...] = state.SLOTS
IndexKey = tuple[str, str, IndexParams]  # (corpus sha256, embedder cache key, index parameters)
SLOW_BUILD_SECONDS = 15 * 60  # beyond this a CPU build of the headline model is not a demo


def headline_pair(corpus: Corpus | None) -> tuple[str, str]:
    """Qwen3-Embedding-4B vs bge-base (zh or en by the corpus's main language)."""
    lang = corpus.main_language if corpus else "en"
    return HEADLINE_A, HEADLINE_B["zh" if lang.startswith("zh") else "en"]


def headline_problem(corpus: Corpus | None) -> str:
    """Why the headline pair cannot be used on this machine right now ('' when it can)."""
    reasons = []
    for name in headline_pair(corpus):
        where = availability(resolve_model(name))
        if where == "needs download" and hub_offline():
            reasons.append(
                f"{name} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it"
            )
        elif where == "needs download":
            reasons.append(f"{name} is not downloaded yet (first use downloads it from the Hugging Face Hub)")
    if not has_gpu():
        reasons.append(
            f"no GPU: {HEADLINE_A} runs at roughly 14 tokens/s on a 2-core CPU, hours for a small corpus"
        )
    return "; ".join(reasons)


def choose_default_pair(corpus: Corpus | None) -> None:
    """Fill model A/B with the headline pair, or the bundled offline pair plus the reason, once per session."""
    if state.get("models_a") and state.get("models_b"):
        return
    problem = headline_problem(corpus)
    a, b = BUNDLED_PAIR if problem else headline_pair(corpus)
    state.put("models_a", a)
    state.put("models_b", b)
    state.put("models_fallback_reason", problem)


def index_params() -> IndexParams:
    """HNSW parameters chosen on the models page."""
    return IndexParams(
        M=int(state.get("models_hnsw_m")),
        ef_construction=int(state.get("models_hnsw_efc")),
        ef_search=int(state.get("models_hnsw_ef")),
    )


class SlotSettings(TypedDict):
    """What a slot's build depends on besides the corpus and the HNSW parameters."""

    name: str
    device: str
    max_tokens: int | None
    trust_remote_code: bool


def slot_settings(slot: str) -> SlotSettings:
    """Model name, device and max tokens chosen for slot A or B."""
    s = slot.lower()
    max_tokens = int(state.get(f"models_max_tokens_{s}") or 0) or None
    return {
        "name": str(state.get(f"models_{s}") or ""),
        "device": state.get("models_device"),
        "max_tokens": max_tokens,
        "trust_remote_code": bool(state.get("models_trust_remote_code")),
    }


def index_key(corpus: Corpus, cache_key: str, params: IndexParams) -> IndexKey:
    """Registry key of a built index: content-addressed, so sessions with the same inputs share it."""
    return (corpus.sha256, cache_key, params)


def built_index(slot: str) -> ModelIndex | None:
    """The index built for slot A/B in this session, if it still matches the current corpus."""
    key: IndexKey | None = state.get(f"built_{slot.lower()}")
    corpus = resources.current_corpus()
    if key is None or corpus is None or key[0] != corpus.sha256:
        return None
    found: ModelIndex | None = resources.indexes().get(key)
    return found


def prebuild_dims(mi: ModelIndex) -> None:
    """Build, once, in a background thread, the per-dimension indexes the Dimensions slider offers.

    Slider moves then find their index ready instead of building it (seconds at 10k chunks). ModelIndex.index
    is thread-safe and builds each d once, so a slider move that arrives first simply waits for that build.
    Set RETRIEVAL_COMPARE_PREBUILD=0 to build only on demand.
    """
    if os.environ.get("RETRIEVAL_COMPARE_PREBUILD", "1") == "0":
        return

    def work() -> None:
        for d in valid_dims(mi.dim, mi.spec.mrl_dims):
            try:
                mi.index(d)
            except Exception:  # the slider builds on demand and shows the error there
                log.exception("background build of the %d-dim index of %s failed", d, mi.spec.name)
                return

    def start() -> bool:
        threading.Thread(target=work, name=f"prebuild-{mi.spec.name}", daemon=True).start()
        return True

    resources.memo(("prebuild", id(mi)), start)


def build_slot(slot: str, corpus: Corpus, *, api_key: str | None = None) -> ModelIndex:
    """Embed (through the store) and index the corpus for slot A/B with a progress bar; reuse what exists."""
    settings = slot_settings(slot)
    name = settings["name"]
    spec = resolve_model(name)
    counts = resources.chunk_token_counts(corpus, name)
    # Refuse up front, with the estimate, what would otherwise end in an out-of-memory kill.
    check_build_fits(
        spec,
        len(corpus.chunks),
        settings["device"],
        seq_len=min(max(counts, default=16), settings["max_tokens"] or spec.max_tokens or 512),
        model_loaded=resources.loaded_embedder(
            name, device=settings["device"], max_tokens=settings["max_tokens"]
        )
        is not None,
    )
    with st.spinner(f"Loading {name} …"):
        embedder = resources.embedder(
            name,
            device=settings["device"],
            max_tokens=settings["max_tokens"],
            api_key=api_key,
            trust_remote_code=settings["trust_remote_code"],
        )
    key = index_key(corpus, embedder.cache_key, index_params())
    registry = resources.indexes()
    found = registry.get(key)
    if found is None:
        bar = st.progress(0.0, text=f"Model {slot} · {name}: starting …")
        started = time.perf_counter()

        def progress(done: int, total: int, rate: float) -> None:
            frac = done / total if total else 1.0
            eta = (total - done) / rate if rate > 0 else 0.0
            notes = getattr(embedder, "notes", None)  # endpoint clients say what they adapted (split, smaller batch)
            said = f" · {escape_md(notes[-1])}" if notes else ""
            bar.progress(
                min(frac, 1.0),
                text=f"Model {slot} · {name}: {done:,}/{total:,} · {rate:,.0f} items/s · ETA {format_duration(eta)}"
                + said,
            )

        found = registry.get_or_create(
            key,
            lambda: build_model_index(
                corpus, embedder, store=resources.store(), params=index_params(), progress=progress
            ),
        )
        bar.progress(1.0, text=f"Model {slot} · {name}: done in {time.perf_counter() - started:.1f} s")
    state.put(f"built_{slot.lower()}", key)
    prebuild_dims(found)
    return found
