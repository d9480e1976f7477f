"""Session bundles in the app: prepare/download one from any page, import one (or the shipped sample) in seconds."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.bundle import Bundle, ExportModel, install, judgments_dump, load_judgments, make_bundle, read_bundle
from core.datasets import load_judged_folder
from core.errors import DashboardError
from core.search import ModelIndex
from core.text import count, format_bytes, format_duration
from core.types import Corpus
from ui import build, pair, resources, state
from ui.corpus import load_sample
from ui.state import BUNDLED_PAIR, Slot
from ui.text import escape_md, escape_name

SAMPLE_BUNDLE = resources.SAMPLE_DIR / "sample_bundle.zip"
MAKE_SCRIPT = "scripts/make_sample_bundle.py"


@dataclass(frozen=True)
class Imported:
    """What an import did, kept (small) in page state for the home page's message."""

    corpus_sha: str
    chunks: int
    seconds: float
    written: int  # vectors newly written to the store (0 when they were there already)
    embedded: int  # chunks embedded here by the import's build (0: every vector came from the bundle)
    query_notes: tuple[str, ...]  # per model: which encoder embeds typed queries and how long one takes
    source: str  # file name shown to the user


# ---- export -----------------------------------------------------------------------------------------


def _labels(corpus: Corpus) -> dict[str, Any]:
    labels: dict[str, Any] = {}
    if state.corpus_origin() == "sample":
        judged = load_judged_folder(resources.SAMPLE_DIR)
        labels["qrels"] = {
            "queries": dict(judged.queries),
            "qrels": {q: dict(d) for q, d in judged.qrels.items()},
        }
    session = state.get("cmp_labels").get(corpus.sha256)
    if session:
        labels["session_labels"] = session
    if dump := judgments_dump(corpus.sha256, resources.store().root):
        labels["judgments"] = dump
    return labels


def _settings() -> dict[str, Any]:
    return {
        "chunking": {
            "unit": state.get("corpus_unit"),
            "size": int(state.get("corpus_size")),
            "overlap": int(state.get("corpus_overlap")),
        },
        "models": {slot: state.model_name(slot) for slot in build.SLOTS},
        "max_tokens": {s: int(state.get(f"models_max_tokens_{s.lower()}") or 0) or None for s in build.SLOTS},
        "index": {
            "M": int(state.get("models_hnsw_m")),
            "ef_construction": int(state.get("models_hnsw_efc")),
            "ef_search": int(state.get("models_hnsw_ef")),
        },
        "k": state.cmp_k(),
    }


def bundle_bytes(corpus: Corpus, built: dict[Slot, ModelIndex]) -> bytes:
    """The session as a bundle: corpus, both indexes' vectors, labels, votes and settings."""
    models = [
        ExportModel(
            slot=slot, name=state.model_name(slot) or mi.spec.name, embedder=mi.embedder, vectors=mi.vectors
        )
        for slot, mi in built.items()
    ]
    return make_bundle(
        corpus, models, settings=_settings(), labels=_labels(corpus), origin=state.corpus_origin()
    )


def _file_name(corpus: Corpus) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", corpus.name or "corpus").strip("-.")[:40] or "corpus"
    return f"{stem}-bundle.zip"


def export_controls(where: str) -> None:
    """'Prepare bundle', then (in the run the click caused) a download of it; nothing heavy on other runs."""
    corpus = resources.current_corpus()
    built = {slot: mi for slot in build.SLOTS if (mi := build.built_index(slot)) is not None}
    if corpus is None or len(built) < len(build.SLOTS):
        st.caption("Build both indexes to export the session (corpus, vectors, labels, votes) as one file.")
        return
    if not st.button(
        "Prepare bundle",
        key=f"_bundle_prepare_{where}",
        icon=":material/inventory_2:",
        help="One zip with the corpus, both models' vectors, labels, votes and settings: import it on another "
        "machine to skip embedding.",
    ):
        return
    try:
        with st.spinner("Packing the bundle …"):
            data = bundle_bytes(corpus, built)
    except DashboardError as exc:
        st.error(escape_md(str(exc)), icon=":material/warning:")
        return
    st.download_button(
        f"Download ({format_bytes(len(data))})",
        data=data,
        file_name=_file_name(corpus),
        mime="application/zip",
        key=f"_bundle_download_{where}",
        icon=":material/download:",
        on_click="ignore",
    )


def sidebar_section() -> None:
    """The sidebar's bundle export (every page): a caption or one button until the user asks for it."""
    with st.expander("Session bundle", icon=":material/inventory_2:"):
        export_controls("sidebar")
        st.caption("Import a bundle on the Home page.")


# ---- import -----------------------------------------------------------------------------------------


def _section(bundle: Bundle, name: str) -> dict[str, Any]:
    """One dict of the bundle's settings ({} when absent or not a dict)."""
    found = bundle.settings.get(name)
    return found if isinstance(found, dict) else {}


def _set(key: str, value: Any) -> None:
    """Write a setting only when it changes: a widget already drawn on this run (the Corpus page's chunking
    fields, when its sample button imports the bundle) refuses any write, even of its own value."""
    if state.get(key) != value:
        state.put(key, value)


def _apply_settings(bundle: Bundle) -> None:
    """The bundle's model choices, max tokens, chunking and index parameters become this session's."""
    tokens = _section(bundle, "max_tokens")
    for slot in build.SLOTS:
        state.choose_model(slot, bundle.model(slot).name)
        n = tokens.get(slot)
        _set(f"models_max_tokens_{slot.lower()}", n if isinstance(n, int) and n > 0 else 0)
    chunking = _section(bundle, "chunking")
    if chunking.get("unit") in ("chars", "tokens"):
        _set("corpus_unit", chunking["unit"])
    for key, field in (("corpus_size", "size"), ("corpus_overlap", "overlap")):
        if isinstance(chunking.get(field), int):
            _set(key, chunking[field])
    index = _section(bundle, "index")
    fields = (("models_hnsw_m", "M"), ("models_hnsw_efc", "ef_construction"), ("models_hnsw_ef", "ef_search"))
    for key, field in fields:
        if isinstance(index.get(field), int):
            _set(key, index[field])
    if isinstance(bundle.settings.get("k"), int):
        _set("cmp_k", bundle.settings["k"])


def _query_note(slot: str, mi: ModelIndex) -> str:
    """Which encoder embeds typed queries for this slot and how long one takes here (best of three, warm)."""
    t0 = time.perf_counter()
    mi.embed_queries(["warm-up query"])
    t1 = time.perf_counter()
    took = float("inf")
    for text in ("How long does one query take?", "如何实现用户鉴权？", "consensus mechanism"):
        t = time.perf_counter()
        mi.embed_queries([text])
        took = min(took, time.perf_counter() - t)  # the best of three: the first calls after a load run slow
    where = (
        "an endpoint"
        if mi.spec.backend == "endpoint"
        else f"in process ({mi.embedder.device})"
    )
    first = f", first {format_duration(t1 - t0)}" if t1 - t0 > 2 * took + 0.5 else ""
    return f"{slot}: {mi.spec.name} {where}, about {took * 1000:,.0f} ms per query{first}"


def import_bundle(data: bytes, *, source: str, origin: str = "") -> Imported:
    """Validate a bundle, put its vectors into the store, make its corpus current and build both indexes
    through the normal path (every vector found in the store: nothing is embedded). Raises BundleError."""
    started = time.perf_counter()
    bundle = read_bundle(data)
    max_tokens = _section(bundle, "max_tokens")
    embedders = {}
    for m in bundle.models:  # the same registry keys build_slot uses once the settings are applied
        tokens = max_tokens.get(m.slot)
        with st.spinner(f"Loading {m.name} to embed queries …"):
            embedders[m.slot] = resources.embedder(
                m.name,
                device=state.get("models_device"),
                max_tokens=tokens if isinstance(tokens, int) and tokens > 0 else None,
                api_key=state.api_key(m.slot),  # type: ignore[arg-type]
                trust_remote_code=bool(state.get("models_trust_remote_code")),
            )
    done = install(bundle, embedders, resources.store())  # refuses another model revision before writing
    load_judgments(
        bundle, resources.store().root
    )  # refuses judgments for another corpus, also before any state
    _apply_settings(bundle)  # only now: a refused bundle leaves the session as it was
    corpus = bundle.corpus
    resources.corpora().put(corpus.sha256, corpus)
    if state.corpus_key() != corpus.sha256:
        state.put("built_a", None)
        state.put("built_b", None)
    state.put("corpus_key", corpus.sha256)
    state.put("corpus_origin", origin or ("sample" if bundle.origin == "sample" else "upload"))
    state.put("models_fallback_reason", pair.headline_problem(corpus))
    session = bundle.labels.get("session_labels")
    if isinstance(session, dict):
        state.put("cmp_labels", {**state.get("cmp_labels"), corpus.sha256: session})
    build.build_all(corpus, label="Installing the precomputed indexes")
    built = [mi for slot in build.SLOTS if (mi := build.built_index(slot)) is not None]
    notes = tuple(
        _query_note(slot, mi) for slot in build.SLOTS if (mi := build.built_index(slot)) is not None
    )
    return Imported(
        corpus_sha=corpus.sha256,
        chunks=len(corpus.chunks),
        seconds=time.perf_counter() - started,
        written=sum(d.written for d in done),
        embedded=sum(mi.stats.embedded for mi in built if mi.stats is not None),
        query_notes=notes,
        source=source,
    )


def import_sample() -> Imported:
    """The shipped sample bundle (sample corpus + the bundled pair, embeddings precomputed)."""
    if not SAMPLE_BUNDLE.is_file():
        raise DashboardError(
            f"{SAMPLE_BUNDLE.name} is missing from sample_corpus/; run `python {MAKE_SCRIPT}` to make it, "
            "or rebuild from scratch."
        )
    return import_bundle(SAMPLE_BUNDLE.read_bytes(), source=SAMPLE_BUNDLE.name, origin="sample")


def sample_bundle_sha() -> str:
    """Corpus sha256 of the shipped sample bundle ('' when it is missing), read once per file version."""
    if not SAMPLE_BUNDLE.is_file():
        return ""
    stat = SAMPLE_BUNDLE.stat()
    return resources.memo(
        ("sample bundle sha", stat.st_mtime_ns, stat.st_size),
        lambda: read_bundle(SAMPLE_BUNDLE.read_bytes()).corpus.sha256,
    )


def load_sample_corpus() -> Imported | None:
    """The Corpus page's sample: from the shipped bundle (embeddings precomputed, ready in seconds) when the
    chunking options give the bundle's chunks and the models are the bundled pair or not chosen yet; otherwise
    the sample chunked with these options, to build as usual (None)."""
    corpus = load_sample()
    chosen = (state.model_name("A"), state.model_name("B"))
    if corpus.sha256 != sample_bundle_sha() or (any(chosen) and chosen != BUNDLED_PAIR):
        return None
    return import_sample()


def ready_panel(where: str, *, show_error: Callable[[Exception], None]) -> bool:
    """After the quick start or an import: ready in N s, 0 chunks embedded (the vectors came precomputed), how
    typed queries are embedded, and 'Rebuild from scratch' (the shared build panel, with its Cancel).

    True when it showed (the page adds its link to Compare)."""
    done: Imported | None = state.page_value(f"_{where}_ready")
    corpus = resources.current_corpus()
    if (
        done is None
        or corpus is None
        or done.corpus_sha != corpus.sha256
        or not all(build.built_index(s) for s in build.SLOTS)
    ):
        return False
    stored = "already in the store" if not done.written else f"{done.written:,} vectors added to the store"
    st.success(
        f"Ready in {done.seconds:.1f} s: {count(done.chunks, 'chunk')}, {count(done.embedded, 'chunk')} embedded — the "
        f"embeddings came precomputed from {escape_name(done.source)} ({stored}, none embedded).",
        icon=":material/check_circle:",
    )
    st.caption("Typed queries are embedded here: " + "; ".join(escape_md(n) for n in done.query_notes) + ".")
    if build.build_panel(
        where,
        corpus,
        label="Rebuild from scratch",
        fresh=True,
        button_key="home_rebuild" if where == "home" else None,
        icon=":material/restart_alt:",
        primary=False,
        help="Embed every chunk again with both models on this machine (minutes on a CPU) and compare the "
        "result with the precomputed vectors. The precomputed indexes serve until it finishes.",
        show_error=show_error,
    ):
        st.rerun()  # the status and sidebar show the rebuilt indexes
    return True
