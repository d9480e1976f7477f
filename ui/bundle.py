"""Session bundles in the app: prepare/download one from any page, import one (or the shipped sample) in seconds."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import streamlit as st

from core.build import plan_build
from core.bundle import (
    Bundle,
    BundleError,
    ExportModel,
    endpoint_hosts,
    install,
    judgments_dump,
    load_judgments,
    make_bundle,
    portable_model_name,
    read_bundle,
)
from core.datasets import load_judged_folder
from core.errors import DashboardError
from core.models.endpoint import is_endpoint_name
from core.search import ModelIndex
from core.text import count, format_bytes, format_duration
from core.types import Corpus, Embedder
from ui import build, pair, resources, state
from ui.corpus import load_sample
from ui.state import BUNDLED_PAIR, Origin, Slot
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
    checks: tuple[
        str, ...
    ] = ()  # per model: how its vectors were checked (or why they stayed out of the store)
    pending: tuple[
        tuple[str, str], ...
    ] = ()  # (slot, endpoint) a bundle named: waits for the user to confirm


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
    """One dict of the bundle's settings ({} when absent; read_bundle has range-checked every known field)."""
    found = bundle.settings.get(name)
    return found if isinstance(found, dict) else {}


def _set(key: str, value: Any) -> None:
    """Write a setting only when it changes: a widget already drawn on this run (the Corpus page's chunking
    fields, when its sample button imports the bundle) refuses any write, even of its own value."""
    if state.get(key) != value:
        state.put(key, value)


def _apply_settings(bundle: Bundle, held: dict[str, str], names: dict[str, str]) -> None:
    """The bundle's model choices (``names``: as loaded here), max tokens, chunking and index parameters become
    this session's (each value within its widget's range: ``core.bundle.SETTING_RANGES``, checked by read_bundle).
    A model the bundle puts in a slot runs no remote code until the user chooses it (``state.choose_model``). An
    endpoint in ``held`` fills its slot but waits for the user to confirm its host (``state.hold_endpoint``)."""
    tokens = _section(bundle, "max_tokens")
    for slot in build.SLOTS:
        name = names[slot]
        state.choose_model(slot, name, from_bundle=True)
        if slot in held:
            state.hold_endpoint(slot, name)
        elif is_endpoint_name(name):
            state.confirm_endpoint(slot)
        _set(f"models_max_tokens_{slot.lower()}", tokens.get(slot) or 0)
    chunking = _section(bundle, "chunking")
    for key, field in (("corpus_unit", "unit"), ("corpus_size", "size"), ("corpus_overlap", "overlap")):
        if field in chunking:
            _set(key, chunking[field])
    index = _section(bundle, "index")
    fields = (("models_hnsw_m", "M"), ("models_hnsw_efc", "ef_construction"), ("models_hnsw_ef", "ef_search"))
    for key, field in fields:
        if field in index:
            _set(key, index[field])
    if "k" in bundle.settings:
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
    where = "an endpoint" if mi.spec.backend == "endpoint" else f"in process ({mi.embedder.device})"
    first = f", first {format_duration(t1 - t0)}" if t1 - t0 > 2 * took + 0.5 else ""
    return f"{slot}: {mi.spec.name} {where}, about {took * 1000:,.0f} ms per query{first}"


def _load(bundle: Bundle, slot: Slot, name: str) -> Embedder:
    """The local model (or a confirmed endpoint) of one slot, refused up front when it cannot fit here. Remote
    code runs only for a model the user chose in that slot themselves, never because a bundle names it (nor
    because an earlier import of it put it there: ``state.remote_code_allowed``)."""
    tokens = _section(bundle, "max_tokens").get(slot) or None
    trust = state.remote_code_allowed(slot) and state.model_name(slot) == name
    device = state.get("models_device")
    plan_build(bundle.corpus, resources.model_spec(name), device=device, max_tokens=tokens, trust_remote_code=trust,
               model_loaded=resources.loaded_embedder(name, device=device, max_tokens=tokens) is not None)  # fmt: skip
    with st.spinner(f"Loading {escape_md(name)} to check the bundle's vectors and embed queries …"):
        return resources.embedder(
            name,
            device=device,
            max_tokens=tokens,
            api_key=state.api_key(slot),
            trust_remote_code=trust,
        )


def _local_name_here(slot: Slot) -> str:
    """The slot's current model as a manifest would name it ('local:<folder name>' for a local folder)."""
    here = state.model_name(slot)
    if not here:
        return ""
    try:
        return portable_model_name(here, resources.model_spec(here))
    except DashboardError:  # a folder that is gone, a typo: no match
        return ""


def local_names(bundle: Bundle) -> dict[str, str]:
    """Per slot, the model name to load: the bundle's own, except for a model it names 'local:<folder name>' (a
    folder of the machine that made it, whose path a bundle never carries): that is the slot's current model when
    it is a local folder of that name (chosen on the Models page; the fingerprint's weights digest then checks it
    is the same model). Otherwise the import is refused, saying how to choose that folder."""
    names: dict[str, str] = {}
    for m in bundle.models:
        slot = cast(Slot, m.slot)
        if not m.is_local_folder:
            names[slot] = m.name
        elif _local_name_here(slot) == m.name:
            names[slot] = str(state.model_name(slot))
        else:
            folder = m.name.removeprefix("local:")
            raise BundleError(
                f"Model {slot} of this bundle is {m.name}: a model folder of the machine that made it (a bundle "
                f"carries no folder path). Choose your copy of that folder ({folder}) for model {slot} on the Models "
                "page (“Other: Hugging Face id or local path”), then import the bundle again: its weights are "
                "checked against the bundle's."
            )
    return names


def _origin(bundle: Bundle, origin: str) -> Origin:
    """Where the corpus came from: 'sample' only for the shipped sample's corpus, whatever a bundle says."""
    if origin == "sample" or (bundle.origin == "sample" and bundle.corpus.sha256 == sample_bundle_sha()):
        return "sample"
    return "upload"


BUNDLE_DIR_VAR = "RETRIEVAL_COMPARE_BUNDLE_DIR"


def bundle_dir() -> Path | None:
    """The folder bundles may be imported from by path ($RETRIEVAL_COMPARE_BUNDLE_DIR), or None: path import off.
    Off by default, so a page on a shared server never reads files of its machine that nobody put there for it."""
    raw = os.environ.get(BUNDLE_DIR_VAR, "").strip()
    return Path(raw).expanduser() if raw else None


def bundle_path(text: str) -> Path:
    """The bundle file a path typed on the Home page names (on the machine running this app): a regular .zip file,
    as the uploader takes; refused otherwise, saying what to type. Its contents are checked by ``read_bundle`` as
    an upload's are."""
    raw = text.strip()
    path = Path(raw).expanduser()
    allowed = bundle_dir()
    if allowed is None:
        raise BundleError(
            f"Bundle refused: importing from a path is off on this server. Set {BUNDLE_DIR_VAR} to the folder that "
            "holds bundles (only files inside it can be imported), or upload the bundle."
        )
    if not raw or not path.is_absolute():
        raise BundleError(
            f"Bundle refused: {raw!r} is not an absolute path. Type the full path of a bundle file on this machine, "
            "e.g. /data/corpus-bundle.zip."
        )
    if path.suffix.lower() != ".zip":
        raise BundleError(
            f"Bundle refused: {path.name!r} is not a .zip file; a bundle is one. Choose the .zip file that Prepare "
            "bundle or `python -m core.cli bundle export` wrote."
        )
    if not path.resolve().is_relative_to(allowed.resolve()):
        raise BundleError(
            f"Bundle refused: {path} is outside {allowed}, the folder {BUNDLE_DIR_VAR} allows. Put the bundle there, "
            "or upload it."
        )
    if not path.is_file():
        why = "a folder" if path.is_dir() else "no such file on this machine"
        raise BundleError(
            f"Bundle refused: {path} is {why}. Check the path (a file on the machine that runs this app), or "
            "upload the bundle instead."
        )
    return path


def typed_bundle(text: str) -> Path | None:
    """The bundle file a typed path names, or None when it names none (``bundle_path`` says why on import)."""
    try:
        return bundle_path(text) if text.strip() else None
    except BundleError:
        return None


def import_bundle(
    data: bytes | Path, *, source: str, origin: str = "", confirmed: Collection[str] = ()
) -> Imported:
    """Validate a bundle, check its vectors against the local models, put them into the store, make its corpus
    current and build its indexes through the normal path (every vector found in the store: nothing is embedded).

    An endpoint model of the bundle is loaded only when its name is in ``confirmed`` (the user confirmed its
    host): otherwise it fills its slot but waits (``Imported.pending``), nothing is sent to its host, and its
    vectors stay out of the store, unverified. Raises BundleError; a refused bundle leaves the store, the
    judgment store and the session as they were.

    ``data``: an upload's bytes, or the path of a bundle file (``bundle_path``), streamed from disk: its vectors
    are memory-mapped, never read whole into memory (``core.bundle.read``)."""
    started = time.perf_counter()
    bundle = read_bundle(data)
    names = local_names(bundle)
    held = {m.slot: m.name for m in bundle.models if m.is_endpoint and m.name not in confirmed}
    embedders = {
        m.slot: _load(bundle, cast(Slot, m.slot), names[m.slot]) for m in bundle.models if m.slot not in held
    }
    done = install(
        bundle, embedders, resources.store()
    )  # every check (models, vectors, labels) before a write
    load_judgments(bundle, resources.store().root)  # checked by install: adds what the bundle holds
    _apply_settings(bundle, held, names)  # only now: a refused bundle leaves the session as it was
    corpus = bundle.corpus
    resources.corpora().put(corpus.sha256, corpus)
    if state.corpus_key() != corpus.sha256:
        state.put("built_a", None)
        state.put("built_b", None)
    state.put("corpus_key", corpus.sha256)
    state.put("corpus_origin", _origin(bundle, origin))
    state.put("models_fallback_reason", pair.headline_problem(corpus))
    session = bundle.labels.get("session_labels")
    if isinstance(session, dict):
        state.put("cmp_labels", {**state.get("cmp_labels"), corpus.sha256: session})
    ready = [slot for slot in build.SLOTS if slot not in held]
    build.build_all(
        corpus,
        label="Installing the precomputed indexes",
        slots=ready,
        api_keys={slot: state.api_key(slot) for slot in ready},
    )
    built = [mi for slot in ready if (mi := build.built_index(slot)) is not None]
    notes = tuple(_query_note(slot, mi) for slot in ready if (mi := build.built_index(slot)) is not None)
    return Imported(
        corpus_sha=corpus.sha256,
        chunks=len(corpus.chunks),
        seconds=time.perf_counter() - started,
        written=sum(d.written for d in done),
        embedded=sum(mi.stats.embedded for mi in built if mi.stats is not None),
        query_notes=notes,
        source=source,
        checks=tuple(f"{d.slot}: {d.note}" for d in done),
        pending=tuple(sorted(held.items())),
    )


def import_sample() -> Imported:
    """The shipped sample bundle (sample corpus + the bundled pair, embeddings precomputed)."""
    if not SAMPLE_BUNDLE.is_file():
        raise DashboardError(
            f"{SAMPLE_BUNDLE.name} is missing from sample_corpus/; run `python {MAKE_SCRIPT}` to make it, "
            "or rebuild from scratch."
        )
    return import_bundle(SAMPLE_BUNDLE, source=SAMPLE_BUNDLE.name, origin="sample")


def sample_bundle_sha() -> str:
    """Corpus sha256 of the shipped sample bundle ('' when it is missing), read once per file version."""
    if not SAMPLE_BUNDLE.is_file():
        return ""
    stat = SAMPLE_BUNDLE.stat()
    return resources.memo(
        ("sample bundle sha", stat.st_mtime_ns, stat.st_size),
        lambda: read_bundle(SAMPLE_BUNDLE).corpus.sha256,
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


def pending_panel(
    data: bytes | Path | None, source: str, *, show_error: Callable[[Exception], None]
) -> Imported | None:
    """After an import whose bundle names an endpoint: the host it names, that nothing was sent there, and a
    button that confirms that host. A click imports the bundle again (``data``, the uploaded file or the path
    typed) with the host confirmed: the endpoint is loaded with the user's key, checks the bundle's vectors, they
    are installed and the index built. Returns that import (the caller reruns), else None."""
    confirmed_note = state.page_value("_home_confirmed")
    if confirmed_note:
        st.info(escape_md(confirmed_note), icon=":material/check:")
        state.set_page_value("_home_confirmed", None)
    done: Imported | None = state.page_value("_home_ready")
    corpus = resources.current_corpus()
    if done is None or not done.pending or corpus is None or corpus.sha256 != done.corpus_sha:
        return None
    for slot, name in done.pending:
        if state.held_endpoint(cast(Slot, slot)) != name:
            continue  # confirmed, or another model chosen, on the Models page
        st.warning(
            escape_md(
                build.held_message(slot, name, button_below=True)
                + " The bundle's vectors of this model are unverified (no local model can check them) and were not "
                "put in the store."
            ),
            icon=":material/shield:",
        )
        hosts = endpoint_hosts(name) or name
        label = escape_md(f"Confirm {hosts} for model {slot} (send my API key there)")
        if not st.button(label, key=f"_home_confirm_{slot}", icon=":material/key:"):
            continue
        state.confirm_endpoint(cast(Slot, slot))
        if data is None:  # the upload is gone (another page was opened): the build happens on the Models page
            state.set_page_value(
                "_home_confirmed", f"Confirmed {hosts} for model {slot}. Build it on the Models page."
            )
            st.rerun()  # the warning above is stale now: draw the panel again without it
        try:
            return import_bundle(data, source=source, confirmed={name})
        except Exception as exc:  # shown, never swallowed; the host stays confirmed (the user said so)
            show_error(exc)
            return None
    if done.query_notes:
        st.caption("Ready: " + "; ".join(escape_md(n) for n in done.query_notes) + ".")
    return None


def ready_sentence(done: Imported, stored: str) -> str:
    """The import in words that are true: vectors from the bundle, and what (if anything) was embedded here."""
    source = escape_name(done.source)
    if not done.embedded:
        return (
            f"Ready in {done.seconds:.1f} s: {count(done.chunks, 'chunk')}, every vector precomputed in "
            f"{source} ({stored}); nothing was embedded here."
        )
    return (
        f"Ready in {done.seconds:.1f} s: {count(done.chunks, 'chunk')}; {count(done.embedded, 'embedding')} "
        f"computed here, the others precomputed in {source} ({stored})."
    )


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
    st.success(ready_sentence(done, stored), icon=":material/check_circle:")
    st.caption("Typed queries are embedded here: " + "; ".join(escape_md(n) for n in done.query_notes) + ".")
    if done.checks:
        st.caption(
            "Vectors checked before they were stored: " + "; ".join(escape_md(c) for c in done.checks) + "."
        )
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
