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
from core.endpoint_pool import server_summary
from core.engine import ModelIndex, build_model_index
from core.hub_cache import availability, hub_offline
from core.index import IndexParams
from core.ingest.language import MIXED_SHARE, language_shares
from core.limits import check_build_fits
from core.models import resolve_model
from core.mrl import valid_dims
from core.types import Corpus
from ui import index_backend, resources, state
from ui.state import BUNDLED_PAIR, HEADLINE_A, HEADLINE_B, Slot
from ui.text import escape_md

log = logging.getLogger(__name__)

SLOTS: tuple[Slot, ...] = state.SLOTS
IndexKey = tuple[str, str, IndexParams, str]  # (corpus sha256, embedder cache key, index parameters, backend)
SLOW_BUILD_SECONDS = 15 * 60  # beyond this a CPU build of the headline model is not a demo


def headline_pair(corpus: Corpus | None) -> tuple[str, str]:
    """Qwen3-Embedding-4B vs bge-base: the zh model when Chinese is the main language or a large share of a mixed
    corpus (bge-base-en cannot read Chinese; bge-base-zh reads English well enough), else the en model."""
    shares = dict(language_shares(corpus.lang_histogram())) if corpus else {}
    zh = sum(share for lang, share in shares.items() if lang.startswith("zh"))
    return HEADLINE_A, HEADLINE_B["zh" if zh >= MIXED_SHARE else "en"]


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


def headline_action(corpus: Corpus | None) -> str:
    """The one step that gets the headline pair running here (Markdown)."""
    a, _ = headline_pair(corpus)
    if not has_gpu():
        return (
            f"serve {a} on a GPU machine (vLLM, TEI or Ollama) and enter its URL as an "
            "**OpenAI-compatible endpoint** on the Models & indexes page"
        )
    return (
        f"put {a} in a local folder (or the Hugging Face cache, HF_HOME) and choose "
        "**Other: Hugging Face id or local path** on the Models & indexes page"
    )


def fallback_notice(corpus: Corpus | None, running: tuple[str, str]) -> tuple[str, str] | None:
    """Two plain lines when the headline pair is not what runs: what runs and why, then the one action.

    None when a model of the headline pair is running, or nothing stands in its way (the user chose other
    models on purpose).
    """
    headline = headline_pair(corpus)
    if any(name in headline for name in running):
        return None
    problem = headline_problem(corpus)
    if not problem:
        return None
    why = "this machine has no GPU" if not has_gpu() else "the headline models are not downloaded here"
    if not has_gpu() and any(availability(resolve_model(n)) == "needs download" for n in headline):
        why += " and the headline models are not downloaded"
    first = (
        f"Running {escape_md(running[0])} vs {escape_md(running[1])}, not the headline pair "
        f"{escape_md(headline[0])} vs {escape_md(headline[1])}, because {why}."
    )
    return first, f"To compare the headline pair: {headline_action(corpus)}."


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


def index_key(corpus: Corpus, cache_key: str, params: IndexParams, backend: str = "") -> IndexKey:
    """Registry key of a built index: content-addressed, so sessions with the same inputs share it.

    ``backend`` is '' for in-process hnswlib, else where the index lives (ui.index_backend.backend_key)."""
    return (corpus.sha256, cache_key, params, backend)


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
    if os.environ.get("RETRIEVAL_COMPARE_PREBUILD", "1") == "0" or mi.backend is not None:
        return  # on Qdrant each extra dimension is an upload: only the chosen ones, or on first use

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


class JobProgress:
    """One progress bar for a whole build job (both models): chunks done / total, rate, ETA, the running model.

    ETA = the running model's remaining chunks at its measured rate, plus each later model's estimate (the
    Models page's cost estimate) or, without one, its chunks at the running model's rate.
    """

    def __init__(
        self, slots: tuple[str, ...], n_chunks: int, estimates: dict[str, float] | None = None
    ) -> None:
        self.slots, self.n_chunks = slots, n_chunks
        self.estimates = estimates or {}
        self.finished = 0  # models done (built or reused)
        self.started = time.perf_counter()
        self.bar = st.progress(0.0, text=self._head() + "starting …")

    @property
    def total(self) -> int:
        return self.n_chunks * len(self.slots)

    def _head(self) -> str:
        return f"Build job · model {min(self.finished + 1, len(self.slots))} of {len(self.slots)} · "

    def update(self, slot: str, name: str, done: int, total: int, rate: float, note: str = "") -> None:
        """A progress call of the running model (its own done / total and items/s)."""
        job_done = self.finished * self.n_chunks + min(done, total)
        later = self.slots[self.slots.index(slot) + 1 :] if slot in self.slots else ()
        eta = (total - done) / rate if rate > 0 else float("nan")
        for other in later:
            eta += self.estimates.get(other) or (self.n_chunks / rate if rate > 0 else float("nan"))
        self.bar.progress(
            min(job_done / self.total, 1.0) if self.total else 1.0,
            text=self._head()
            + f"{slot} · {escape_md(name)}: {done:,}/{total:,} · whole job {job_done:,}/{self.total:,} chunks · "
            f"{rate:,.1f} chunks/s · ETA {format_duration(eta)}" + (f" · {escape_md(note)}" if note else ""),
        )

    def model_done(self, slot: str, name: str, *, reused: bool) -> None:
        self.finished += 1
        self.bar.progress(
            min(self.finished / len(self.slots), 1.0),
            text=f"Build job · {slot} · {escape_md(name)} {'reused (already built)' if reused else 'built'} · "
            f"{self.finished} of {len(self.slots)} models ready · {time.perf_counter() - self.started:.1f} s",
        )


def build_slot(
    slot: str, corpus: Corpus, *, api_key: str | None = None, job: JobProgress | None = None
) -> ModelIndex:
    """Embed (through the store) and index the corpus for slot A/B with progress; reuse what exists.

    With ``job`` the progress goes to the job's one bar (see build_all); alone, the slot gets its own."""
    job = job or JobProgress((slot,), len(corpus.chunks))
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
        index_in_process=index_backend.backend_key() == "",
    )
    with st.spinner(f"Loading {name} …"):
        embedder = resources.embedder(
            name,
            device=settings["device"],
            max_tokens=settings["max_tokens"],
            api_key=api_key,
            trust_remote_code=settings["trust_remote_code"],
        )
    backend = index_backend.backend()  # None = hnswlib; a missing Qdrant URL/folder is refused here
    key = index_key(corpus, embedder.cache_key, index_params(), index_backend.backend_key())
    registry = resources.indexes()
    found = registry.get(key)
    reused = found is not None
    if found is None:
        job.update(slot, name, 0, len(corpus.chunks), 0.0, "loading the model and embedding the first batch")

        def progress(done: int, total: int, rate: float) -> None:
            # Endpoint clients say what they adapted (split, smaller batch); a pool also gives texts/s per server.
            notes = getattr(embedder, "notes", None)
            stats = getattr(embedder, "server_stats", None)
            parts = [notes[-1] if notes else "", server_summary(stats()) if callable(stats) else ""]
            job.update(slot, name, done, total, rate, " · ".join(p for p in parts if p))

        found = registry.get_or_create(
            key,
            lambda: build_model_index(
                corpus,
                embedder,
                store=resources.store(),
                params=index_params(),
                progress=progress,
                backend=backend,
                index_progress=None
                if backend is None
                else lambda d, t, r: job.update(slot, name, d, t, r, "uploading to Qdrant"),
            ),
        )
    job.model_done(slot, name, reused=reused)
    state.put(f"built_{slot.lower()}", key)
    prebuild_dims(found)
    return found


def cancel_button(key: str) -> bool:
    """A Cancel beside a build: a click stops the running build (Streamlit ends the run at its next progress
    update); chunks embedded so far stay in the store. True on the run the click caused."""
    clicked = st.button(
        "Cancel build",
        key=key,
        icon=":material/cancel:",
        help="Stops a running build; embedded chunks are kept.",
    )
    if clicked:
        st.info(
            "Build cancelled. Chunks embedded so far are kept in the store and will not be embedded again.",
            icon=":material/cancel:",
        )
    return clicked


def build_all(
    corpus: Corpus,
    *,
    api_keys: dict[str, str | None] | None = None,
    estimates: dict[str, float] | None = None,
) -> list[dict[str, str]]:
    """Build both slots under one progress bar; returns the estimate-vs-actual rows (see show_build_report).

    Raises the first slot's error after trying the other slot too (both errors are shown by the caller)."""
    job = JobProgress(SLOTS, len(corpus.chunks), estimates)
    rows: list[dict[str, str]] = []
    errors: list[Exception] = []
    for slot in SLOTS:
        t0 = time.perf_counter()
        try:
            mi = build_slot(slot, corpus, api_key=(api_keys or {}).get(slot), job=job)
        except Exception as exc:
            errors.append(exc)
            continue
        took = time.perf_counter() - t0
        est = (estimates or {}).get(slot)
        stats = mi.stats
        embedded = stats.embedded if stats is not None else 0
        rows.append(
            {
                "model": f"{slot} · {mi.spec.name}",
                "estimated": format_duration(est) if est is not None else "—",
                "took": format_duration(took),
                "what ran": f"embedded {embedded:,} chunks" if embedded else "reused stored embeddings",
            }
        )
    if errors:
        raise errors[0] if len(errors) == 1 else BuildErrors(errors)
    return rows


class BuildErrors(Exception):
    """Both slots failed: each error, in slot order."""

    def __init__(self, errors: list[Exception]) -> None:
        super().__init__("; ".join(f"{type(e).__name__}: {e}" for e in errors))
        self.errors = errors


def show_build_report(rows: list[dict[str, str]] | None) -> None:
    """The last build's estimate beside what it took, per model."""
    if not rows:
        return
    st.markdown("**Last build: estimate vs actual**")
    st.dataframe(rows, hide_index=True, width="stretch")
