"""Choosing the model pair and building both indexes with visible progress, without repeating work."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TypedDict, cast

import streamlit as st

from core.build import PRIOR_CHUNKS, build_index, plan_build, progress_note, running_eta
from core.bundle import endpoint_hosts, vector_agreement
from core.errors import DashboardError
from core.models import (
    CostEstimate,
    Throughput,
    current_throughput,
    estimate_build,
    recorded,
    resolve_device,
)
from core.search import IndexParams, ModelIndex
from core.store import EmbeddingStore
from core.text import count, format_duration, plural
from core.types import Corpus
from ui import index_backend, last_session, resources, state
from ui.state import Slot
from ui.text import escape_md

log = logging.getLogger(__name__)

SLOTS: tuple[Slot, ...] = state.SLOTS
IndexKey = tuple[str, str, IndexParams, str]  # (corpus sha256, embedder cache key, index parameters, backend)
SLOW_BUILD_SECONDS = 15 * 60  # beyond this a CPU build of the headline model is not a demo


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
    """Model name, device, max tokens and whether remote code may run, chosen for slot A or B."""
    s = slot.lower()
    max_tokens = int(state.get(f"models_max_tokens_{s}") or 0) or None
    return {
        "name": str(state.get(f"models_{s}") or ""),
        "device": state.get("models_device"),
        "max_tokens": max_tokens,
        # never for a model an imported bundle put in the slot, until the user chooses it (ui.state.choose_model)
        "trust_remote_code": state.remote_code_allowed(cast(Slot, slot)),
    }


def held_message(slot: str, name: str, *, button_below: bool = False) -> str:
    """Why a slot's endpoint is not loaded: an imported bundle named it and the user has not confirmed its host.
    ``button_below``: the page shows the confirm button right under the message."""
    where = "with the button below" if button_below else f"on the Models page (model {slot})"
    return (
        f"Model {slot} is the endpoint {name}, named by an imported bundle: nothing is sent to "
        f"{endpoint_hosts(name) or name} (and no API key) until you confirm that host. Confirm it {where}, or "
        "choose another model on the Models page."
    )


def refuse_held(slot: str) -> None:
    """Raise (DashboardError) while the slot holds a bundle-named endpoint whose host the user has not confirmed."""
    held = state.held_endpoint(cast(Slot, slot))
    if held:
        raise DashboardError(held_message(slot, held))


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
        for d in mi.offered_dims:
            try:
                mi.index(d)
            except Exception:  # the slider builds on demand and shows the error there
                log.exception("background build of the %d-dim index of %s failed", d, mi.spec.name)
                return

    def start() -> bool:
        threading.Thread(target=work, name=f"prebuild-{mi.spec.name}", daemon=True).start()
        return True

    resources.memo(("prebuild", id(mi)), start)


class BuildCancelled(Exception):
    """A build stopped on request before the end (``stop`` said so); the job's record says how far it got."""

    def __init__(self, stopped: Stopped) -> None:
        super().__init__(stopped.message())
        self.stopped = stopped


@dataclass(eq=False)
class Stopped:
    """One build job's record in session state (``build_stopped``), made when it starts and updated as it runs.

    Streamlit ends a running script on any click (Cancel included) by raising at its next progress update, and
    in the same moment starts the next run, which must not touch session state of the old one: so the old run
    only updates this object, and ``ended`` tells the next run that the old one has stopped."""

    label: str  # what the job was: "Build both indexes", "Rebuild from scratch"
    corpus_sha: str
    total: int  # chunks in the job (both models)
    slot: str = ""  # the model that was running
    model: str = ""
    done: int = 0  # chunks of the whole job done at the last progress update
    saved: int = 0  # vectors this job wrote to the store: kept, a re-run does not embed them again
    cancelled: bool = False  # True once the Cancel click that ended it has been seen
    finished: bool = False  # the job ran to its end (then it is no longer kept)
    ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def message(self, *, kept: str = "the previous indexes are kept") -> str:
        """One plain sentence or three: how far it got, what is kept, what a re-run does."""
        how = "Cancelled" if self.cancelled else "Stopped (the page was used while it ran)"
        saved = (
            f"{self.saved:,} newly embedded chunks are saved in the store, so running it again starts from there"
            if self.saved
            else "no batch of this run had finished yet, so nothing new reached the store"
        )
        return (
            f"{self.label}: {how} after {self.done:,} of {self.total:,} chunks, while {self.slot} · "
            f"{escape_md(self.model)} was running; {kept}. {saved[:1].upper() + saved[1:]}."
        )


StopCheck = Callable[[int, int], bool]  # (chunks done, chunks in the job) -> True to stop the build


class JobProgress:
    """One progress bar for a whole build job (both models): chunks done / total, rate, ETA, the running model.

    ETA = the running model's remaining chunks at its measured rate, plus each later model's estimate (the
    Models page's cost estimate) or, without one, its chunks at the running model's rate. ``stop`` is asked at
    every update; True raises BuildCancelled (Streamlit's own Cancel ends the run at an update instead).
    """

    def __init__(
        self,
        slots: tuple[str, ...],
        n_chunks: int,
        estimates: dict[str, float] | None = None,
        *,
        label: str = "Build job",
        stop: StopCheck | None = None,
        corpus_sha: str = "",
    ) -> None:
        self.slots, self.n_chunks, self.label, self.stop = slots, n_chunks, label, stop
        self.record = Stopped(label, corpus_sha, n_chunks * len(slots), slots[0] if slots else "")
        self.on_progress: Callable[[Stopped], None] | None = None  # told at every update (no st calls in it)
        self.estimates = estimates or {}
        self.finished = 0  # models done (built or reused)
        self.started = time.perf_counter()
        self._slot_start: dict[str, float] = {}  # when each model started embedding
        self._est_rate: dict[str, float | None] = {}  # chunks/s its pre-build estimate implied
        self.speed = 1.0  # measured / estimated seconds of the running model: scales later estimates
        planned = [self.estimates[s] for s in slots if s in self.estimates]
        est = f" · estimate {format_duration(sum(planned))}" if planned and len(planned) == len(slots) else ""
        self.bar = st.progress(0.0, text=self._head() + "starting …" + est)

    @property
    def total(self) -> int:
        return self.n_chunks * len(self.slots)

    def _head(self) -> str:
        return f"{self.label} · model {min(self.finished + 1, len(self.slots))} of {len(self.slots)} · "

    def update(self, slot: str, name: str, done: int, total: int, rate: float, note: str = "") -> None:
        """A progress call of the running model (its own done / total and items/s)."""
        job_done = self.finished * self.n_chunks + min(done, total)
        self.record.done, self.record.slot, self.record.model = job_done, slot, name
        if self.on_progress is not None:
            self.on_progress(self.record)
        if self.stop is not None and self.stop(job_done, self.total):
            raise BuildCancelled(self.record)  # build_all fills in what reached the store
        later = self.slots[self.slots.index(slot) + 1 :] if slot in self.slots else ()
        eta = self._eta(slot, done, total, rate)
        for other in later:
            est = self.estimates.get(other)
            eta += est * self.speed if est else (self.n_chunks / rate if rate > 0 else float("nan"))
        self.bar.progress(
            min(job_done / self.total, 1.0) if self.total else 1.0,
            text=self._head()
            + f"{slot} · {escape_md(name)}: {done:,}/{total:,} · whole job {job_done:,}/{self.total:,} chunks · "
            f"{rate:,.1f} chunks/s · ETA {format_duration(eta) if eta == eta else 'after the first batch'}"
            + (f" · {escape_md(note)}" if note else ""),
        )

    def _eta(self, slot: str, done: int, total: int, rate: float) -> float:
        """The running model's seconds left: its estimate at first, converging to the measured rate (running_eta)."""
        now = time.perf_counter()
        start = self._slot_start.setdefault(slot, now)
        measured = min(float(done), rate * (now - start)) if rate > 0 else 0.0
        # the first measured batch: what was left to embed at the start
        if slot not in self._est_rate and rate > 0:
            est = self.estimates.get(slot)
            todo = total - (done - measured)
            self._est_rate[slot] = todo / est if est and est == est and est > 0 and todo > 0 else None
        est_rate = self._est_rate.get(slot)
        if est_rate and rate > 0 and measured >= PRIOR_CHUNKS:
            self.speed = min(max(est_rate / rate, 0.25), 4.0)
        if rate <= 0 and slot not in self._est_rate:
            est = self.estimates.get(slot)
            return est if est is not None and done == 0 else float("nan")
        return running_eta(
            remaining=total - done, measured_chunks=measured, measured_rate=rate, estimated_rate=est_rate
        )

    def model_done(self, slot: str, name: str, *, reused: bool) -> None:
        self.finished += 1
        self.record.done = self.finished * self.n_chunks
        self.bar.progress(
            min(self.finished / len(self.slots), 1.0),
            text=f"{self.label} · {slot} · {escape_md(name)} {'reused (already built)' if reused else 'built'} · "
            f"{self.finished} of {len(self.slots)} models indexed · {time.perf_counter() - self.started:.1f} s"
            # not "ready": the page still has work to do after the last model (the caller reruns when it is done)
            + (" · finishing …" if self.finished >= len(self.slots) else ""),
        )


def scratch_store() -> EmbeddingStore:
    """Where 'Rebuild from scratch' embeds (beside the store, never mixed with the precomputed vectors): a
    cancelled rebuild resumes from it; a finished one empties its model's folder."""
    return EmbeddingStore(resources.store().root / "from-scratch")


def stored_vectors(store: EmbeddingStore, cache_key: str) -> int:
    """How many vectors the store holds for one model key (read from the segments' metadata)."""
    return int(store.stats()["models"].get(cache_key, {}).get("vectors", 0))


@dataclass
class _Built:
    """One slot's result inside a job, before the job commits it to session state."""

    key: IndexKey
    mi: ModelIndex
    reused: bool
    seconds: float
    agreement: float | None = None  # fresh rebuild: lowest cosine to the vectors it replaces


def _build_one(
    slot: str,
    corpus: Corpus,
    *,
    api_key: str | None,
    job: JobProgress,
    fresh: bool,
    saved: dict[str, tuple[EmbeddingStore, int]],
) -> _Built:
    """Embed (through the store) and index the corpus for one slot; reuse what exists unless ``fresh``."""
    t0 = time.perf_counter()
    refuse_held(slot)  # a key is only sent to a host the user typed or confirmed
    settings = slot_settings(slot)
    name = settings["name"]
    counts = resources.chunk_token_counts(corpus, name)
    # Refuse up front, with the estimate, what would otherwise end in an out-of-memory kill.
    plan = plan_build(
        corpus,
        resources.model_spec(name),
        device=settings["device"],
        max_tokens=settings["max_tokens"],
        trust_remote_code=settings["trust_remote_code"],
        params=index_params(),
        backend=index_backend.backend(),  # None = hnswlib; a missing Qdrant URL/folder is refused here
        seq_len=max(counts, default=16),
        model_loaded=resources.loaded_embedder(
            name, device=settings["device"], max_tokens=settings["max_tokens"]
        )
        is not None,
    )
    with st.spinner(f"Loading {escape_md(name)} …"):
        embedder = resources.embedder(
            name,
            device=settings["device"],
            max_tokens=settings["max_tokens"],
            api_key=api_key,
            trust_remote_code=settings["trust_remote_code"],
        )
    key = index_key(corpus, embedder.cache_key, plan.params, index_backend.backend_key())
    registry = resources.indexes()
    previous = registry.get(key)
    if previous is not None and not fresh:
        job.model_done(slot, name, reused=True)
        return _Built(key, previous, True, time.perf_counter() - t0)
    store = scratch_store() if fresh else resources.store()
    saved[embedder.cache_key] = (store, stored_vectors(store, embedder.cache_key))
    job.update(slot, name, 0, len(corpus.chunks), 0.0, "loading the model and embedding the first batch")

    def progress(done: int, total: int, rate: float) -> None:
        # Endpoint clients say what they adapted (split, smaller batch); a pool also gives texts/s per server.
        job.update(slot, name, done, total, rate, progress_note(embedder))

    def make() -> ModelIndex:
        return build_index(
            plan,
            corpus,
            embedder,
            store=store,
            progress=progress,
            index_progress=None
            if plan.backend is None
            else lambda d, t, r: job.update(slot, name, d, t, r, "uploading to Qdrant"),
        )

    # A fresh rebuild joins the registry only when the whole job is done (the previous indexes serve until then).
    mi = make() if fresh else registry.get_or_create(key, make)
    job.model_done(slot, name, reused=False)
    agreement = vector_agreement(mi.vectors, previous.vectors) if fresh and previous is not None else None
    return _Built(key, mi, False, time.perf_counter() - t0, agreement)


def _commit(slot: str, built: _Built, *, fresh: bool) -> None:
    """Make a slot's new index the session's (and, for a fresh rebuild, the registry's)."""
    if fresh:
        resources.indexes().put(built.key, built.mi)
        scratch_store().clear(built.mi.embedder.cache_key)  # done: the next rebuild starts from scratch again
    state.put(f"built_{slot.lower()}", built.key)
    prebuild_dims(built.mi)


def build_slot(
    slot: str, corpus: Corpus, *, api_key: str | None = None, job: JobProgress | None = None
) -> ModelIndex:
    """Embed (through the store) and index the corpus for slot A/B with progress; reuse what exists.

    With ``job`` the progress goes to the job's one bar (see build_all); alone, the slot gets its own."""
    built = _build_one(
        slot,
        corpus,
        api_key=api_key,
        job=job or JobProgress((slot,), len(corpus.chunks)),
        fresh=False,
        saved={},
    )
    _commit(slot, built, fresh=False)
    return built.mi


CANCEL_HELP = (
    "Stops a running build after the batch in flight; the previous indexes stay, embedded chunks are kept in the "
    "store."
)


def _cancel_hit(key: str) -> None:
    """Remember a click on the live Cancel for the run it starts (the live button is not drawn again there)."""
    state.set_page_value(f"{key}_hit", True)


def cancel_button(key: str, *, message: bool = True) -> Callable[[], None]:
    """A Cancel beside a build, disabled while nothing runs; returns ``arm``, which the caller calls when its
    build starts: the button is then enabled for that run. A click stops the running build (Streamlit ends the run
    at its next progress update; chunks embedded so far stay in the store). With ``message`` the run the click
    caused says where the build stopped and what is kept (show_stop; build_panel calls that below its
    buttons); ``cancel_clicked`` tells that run it was a Cancel."""
    slot = st.empty()
    slot.button("Cancel build", key=key, icon=":material/cancel:", help=CANCEL_HELP, disabled=True)
    if message:
        show_stop(clicked=cancel_clicked(key))

    def arm() -> None:
        with slot:
            st.button(
                "Cancel build", key=f"{key}_live", icon=":material/cancel:", help=CANCEL_HELP,
                on_click=_cancel_hit, args=(key,),
            )  # fmt: skip

    return arm


def cancel_clicked(key: str) -> bool:
    """True on the run a click on ``key``'s live Cancel started (once)."""
    hit = bool(state.page_value(f"{key}_hit"))
    if hit:
        state.set_page_value(f"{key}_hit", False)
    return hit


def show_stop(*, clicked: bool, wait_s: float = 180) -> None:
    """Where the last unfinished build of this corpus stopped and what it kept (after a Cancel click, or any
    click that ended the run); 'No build was running.' for a Cancel with nothing to stop.

    The run a Cancel click starts begins while the old one is still embedding its batch in flight: it waits
    (up to ``wait_s``) for the old run to stop, so the figures it shows are final."""
    stopped: Stopped | None = state.get("build_stopped")
    if stopped is not None and (stopped.corpus_sha != state.corpus_key() or stopped.finished):
        stopped = None  # a stop on another corpus says nothing about this one
    if stopped is None:
        if clicked:
            st.info("No build was running.", icon=":material/cancel:")
        return
    if clicked:
        stopped.cancelled = True
    if not stopped.ended.is_set():
        with st.spinner(
            f"Stopping the build after the batch in flight ({stopped.done:,} of {stopped.total:,} chunks "
            "done) …"
        ):
            stopped.ended.wait(wait_s)
    if clicked:
        stopped.cancelled = True  # again: the old run's stop handler may have run meanwhile
    kept = (
        "the previous indexes are kept"
        if any(built_index(s) is not None for s in SLOTS)
        else "no index was replaced"
    )
    if not stopped.ended.is_set():
        st.info(
            f"{stopped.label}: stopping after the batch in flight ({stopped.done:,} of {stopped.total:,} chunks "
            f"done); {kept}.",
            icon=":material/cancel:",
        )
        return
    if stopped.finished:  # it ended on its own while this run waited
        return
    st.info(stopped.message(kept=kept), icon=":material/cancel:")


def build_all(
    corpus: Corpus,
    *,
    api_keys: dict[str, str | None] | None = None,
    estimates: dict[str, float] | None = None,
    fresh: bool = False,
    label: str = "Build both indexes",
    stop: StopCheck | None = None,
    slots: Sequence[str] = SLOTS,
    remember: bool = True,
) -> list[dict[str, str]]:
    """Build both slots (or ``slots``: A alone when B is the user's own collection) under one progress bar;
    returns the estimate-vs-actual rows (see show_build_report).

    ``fresh`` embeds every chunk again (in scratch_store(), not reusing the store) and compares the vectors with
    the ones they replace. The session gets the new indexes only when the job ends: a stopped job (``stop``, or
    Streamlit ending the run on a Cancel click) keeps the previous ones and records where it stopped in
    ``build_stopped``; what it embedded stays in the store. Raises the first slot's error after trying the other
    slot too (both errors are shown by the caller). ``remember`` records the job in the last-session record
    (ui.last_session: a reload says whether it finished); restoring a session's indexes does not."""
    job = JobProgress(
        tuple(slots), len(corpus.chunks), estimates, label=label, stop=stop, corpus_sha=corpus.sha256
    )
    record = job.record
    state.put("build_stopped", record)  # before any work: a stopped run may not write session state any more
    if remember:  # the corpus and models this build is for: a reload mid-build comes back to them
        last_session.sync()
        job_id = last_session.build_started(label=label, corpus_sha=corpus.sha256, total=record.total)
        job.on_progress = last_session.progress_writer(job_id)  # where it got to, should the page be reloaded
    built: dict[str, _Built] = {}
    errors: list[Exception] = []
    saved: dict[str, tuple[EmbeddingStore, int]] = {}  # model key -> (store, vectors held before this job)
    try:
        for slot in slots:
            try:
                built[slot] = _build_one(
                    slot, corpus, api_key=(api_keys or {}).get(slot), job=job, fresh=fresh, saved=saved
                )
            except BuildCancelled:
                raise
            except Exception as exc:
                errors.append(exc)
    except (
        BaseException
    ) as exc:  # BuildCancelled, or Streamlit's stop at a progress update (no st calls here)
        try:
            record.saved = max(sum(stored_vectors(st_, k) - n for k, (st_, n) in saved.items()), 0)
        except Exception:  # the count is for the message; the stop itself must go on
            log.exception("could not count the vectors a stopped build saved")
        record.cancelled = record.cancelled or isinstance(exc, BuildCancelled)  # the next run may have set it
        if remember:
            last_session.build_ended(
                job_id,
                "interrupted",
                done=record.done,
                total=record.total,
                slot=record.slot,
                model=record.model,
            )
        raise
    else:
        record.finished = True
        if remember:
            last_session.build_ended(
                job_id, "finished", done=record.total, total=record.total, slot="", model=""
            )
    finally:
        record.ended.set()
    state.put("build_stopped", None)
    for name, b in built.items():
        _commit(name, b, fresh=fresh)
    if remember:
        last_session.sync()  # the indexes it built: a reload rebuilds them from the store
    if errors:
        raise errors[0] if len(errors) == 1 else BuildErrors(errors)
    return [_report_row(name, b, (estimates or {}).get(name), fresh=fresh) for name, b in built.items()]


def _report_row(slot: str, b: _Built, estimate: float | None, *, fresh: bool) -> dict[str, str]:
    stats = b.mi.stats
    embedded = stats.embedded if stats is not None and not b.reused else 0
    chunks = b.mi.corpus.chunks
    n, distinct = len(chunks), len({c.embed_text for c in chunks})  # the store embeds each distinct text once
    what = f"embedded {count(embedded, 'chunk')}" if embedded else "reused stored embeddings"
    notes = []
    if embedded and (have := distinct - embedded) > 0:
        notes.append(
            f"{have:,} kept from a stopped rebuild" if fresh else f"{have:,} {plural(have, 'was')} stored"
        )
    if embedded and (repeats := n - distinct) > 0:  # not 'stored': a fresh store holds none of them
        notes.append(f"{repeats:,} {plural(repeats, 'repeats', 'repeat')} an earlier chunk's text")
    if notes:
        what += f" ({'; '.join(notes)})"
    if b.agreement is not None:
        what += f"; lowest cosine to the precomputed vectors {b.agreement:.5f}"
    return {
        "model": f"{slot} · {b.mi.spec.name}",
        "estimated": format_duration(estimate) if estimate is not None else "—",
        "took": format_duration(b.seconds),
        "what ran": what,
    }


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
    st.dataframe(
        rows,
        hide_index=True,
        width="stretch",
        column_config={
            "model": st.column_config.TextColumn("model", width="medium"),
            "estimated": st.column_config.TextColumn("estimated", width="small"),
            "took": st.column_config.TextColumn("took", width="small"),
            "what ran": st.column_config.TextColumn("what ran", width="large"),
        },
    )


def estimate(slot: str, corpus: Corpus) -> CostEstimate:
    """What building this slot's index would cost here (measured on the loaded model when there is one)."""
    settings = slot_settings(slot)
    name = settings["name"]
    counts = resources.chunk_token_counts(corpus, name)
    # chunks whose vectors the store already holds cost nothing: estimate only the rest (when the model is loaded,
    # its cache key says which; before that, every chunk counts)
    loaded = resources.loaded_embedder(
        name,
        device=settings["device"],
        max_tokens=settings["max_tokens"],
        trust_remote_code=settings["trust_remote_code"],
    )
    todo = [True] * len(counts)
    if loaded is not None:
        have = resources.store().stored(loaded.cache_key, [c.embed_text for c in corpus.chunks])
        todo = [not h for h in have]
    device = resolve_device(settings["device"])
    est = estimate_build(
        resources.model_spec(name),
        n_tokens=sum(n for n, t in zip(counts, todo, strict=True) if t),
        n_chunks=sum(todo),
        device=device,
        throughput=slot_throughput(slot, corpus, device=device),
    )
    cached = len(counts) - sum(todo)
    if cached:
        est = replace(
            est, basis=f"{cached:,} of {len(counts):,} chunks are already in the store; " + est.basis
        )
    return est


def slot_throughput(slot: str, corpus: Corpus, *, device: str) -> Throughput | None:
    """The slot model's one throughput here (core.models.throughput): the last build's or sample's record in the
    store, else, when the model is loaded, a timed sample of 32 chunks (recorded); None before either exists."""
    settings = slot_settings(slot)
    name = settings["name"]
    loaded = resources.loaded_embedder(
        name,
        device=settings["device"],
        max_tokens=settings["max_tokens"],
        trust_remote_code=settings["trust_remote_code"],
    )
    if loaded is not None:
        return current_throughput(loaded, resources.store(), [c.embed_text for c in corpus.chunks[:64]])
    return recorded(resources.store(), resources.model_spec(name).name, device)


def job_estimates(corpus: Corpus) -> dict[str, float]:
    """Estimated seconds per slot for embedding the whole corpus (slots whose estimate fails are left out)."""
    found: dict[str, float] = {}
    for slot in SLOTS:
        if not slot_settings(slot)["name"]:
            continue
        try:
            found[slot] = estimate(slot, corpus).seconds
        except Exception:  # the build itself reports what is wrong with the model
            log.exception("no build estimate for slot %s", slot)
    return found


def build_panel(
    where: str,
    corpus: Corpus,
    *,
    label: str = "Build both indexes",
    fresh: bool = False,
    estimates: dict[str, float] | None = None,
    api_keys: dict[str, str | None] | None = None,
    show_error: Callable[[Exception], None],
    button_key: str | None = None,
    icon: str = ":material/build:",
    help: str | None = None,
    primary: bool = True,
    slots: Sequence[str] = SLOTS,
) -> bool:
    """The one way a page starts a build: its button with a Cancel beside it, the estimate before the start,
    the whole job under one progress bar, and afterwards the estimate beside what it took (or where a cancelled
    build stopped and what it kept). True on the run in which a build finished (the caller reruns, so the
    sidebar and status drawn before it show the new indexes). ``show_error`` is ui.widgets.show_error (which
    imports this module)."""
    with st.container(horizontal=True, vertical_alignment="center"):  # side by side, stacked where narrow
        go = st.button(
            label,
            key=button_key or f"_{where}_build",
            type="primary" if primary else "secondary",
            icon=icon,
            help=help,
        )
        arm = cancel_button(f"_{where}_cancel", message=False)
    show_stop(clicked=cancel_clicked(f"_{where}_cancel"))
    report = state.page_value(f"_{where}_build_report")
    if report and report[0] == corpus.sha256:
        show_build_report(report[1])
    if not go:
        return False
    arm()  # Cancel is live only while this build runs
    if estimates is None:
        with st.spinner("Estimating the build: counting tokens, timing each loaded model on 32 chunks …"):
            estimates = job_estimates(corpus)
    if estimates:
        st.caption(
            "Estimate on this machine: "
            + " · ".join(f"{slot} {format_duration(s)}" for slot, s in estimates.items())
            + f" for {len(corpus.chunks):,} chunks per model."
        )
    try:
        rows = build_all(
            corpus, api_keys=api_keys, estimates=estimates, fresh=fresh, label=label, slots=slots
        )
    except BuildErrors as many:
        for exc in many.errors:
            show_error(exc)
        return False
    except Exception as exc:  # a project error names the input and the fix
        show_error(exc)
        return False
    state.set_page_value(f"_{where}_build_report", (corpus.sha256, rows))
    return True
