"""The last session, kept in the store so that a browser reload or a second tab comes back to it.

A small record (core.store ``session_record``): the corpus (its JSON kept beside, so an upload, a BEIR set or a
bundle's corpus come back without their files), the chosen models and settings, which indexes were built, and the
state of the last build (running, finished, interrupted). A fresh session (no corpus, no model chosen) restores it:
the corpus and the choices at once, the indexes by building them from the stored vectors (nothing is embedded).

One store holds one record: on a server shared by several people a reload would show the last person's corpus.
Set RETRIEVAL_COMPARE_RESTORE=0 there.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from core.bundle import corpus_from_json, corpus_json
from core.errors import DashboardError
from core.models import display_label
from core.models.endpoint import is_endpoint_name
from core.store import EmbeddingStore
from core.types import Corpus
from ui import resources, state
from ui.state import SLOTS, Slot

log = logging.getLogger(__name__)

ENV_VAR = "RETRIEVAL_COMPARE_RESTORE"
BuildState = Literal["running", "finished", "interrupted"]
_SETTINGS = (
    "corpus_unit", "corpus_size", "corpus_overlap", "models_device", "models_max_tokens_a", "models_max_tokens_b",
    "models_instr_a", "models_instr_b", "models_hnsw_m", "models_hnsw_efc", "models_hnsw_ef",
    "eval_source", "eval_sets",  # a BEIR set's judgments are held per process: the same server still has them
)  # fmt: skip


def enabled() -> bool:
    """Whether sessions are recorded and restored (RETRIEVAL_COMPARE_RESTORE=0 turns it off)."""
    return os.environ.get(ENV_VAR, "1").strip() != "0"


@dataclass(frozen=True)
class Restored:
    """What a fresh session got back: the corpus, the models, the slots whose indexes come from the store, and
    the last build when it did not finish."""

    corpus_sha: str
    corpus_name: str
    chunks: int
    models: dict[str, str]
    rebuild: tuple[str, ...]  # slots whose indexes were built: rebuilt from stored vectors
    interrupted: dict[str, Any] | None  # the unfinished build's record (label, done, total, model)

    def message(self, *, blind: bool = False) -> str:
        """'Restored your last session (corpus X, models A/B).' (``blind``: without the model names)."""
        models = " / ".join(f"{s} {display_label(n)}" for s, n in self.models.items() if n) or "none chosen"
        if blind:
            models = "hidden while judging"
        return f"Restored your last session (corpus {self.corpus_name}, {self.chunks:,} chunks; models {models})."


def interrupted_message(b: dict[str, Any], *, blind: bool = False) -> str:
    """Where an unfinished build stopped and what resuming it does (``blind``: without the model name)."""
    where = (
        f" after {int(b.get('done') or 0):,} of {int(b.get('total') or 0):,} chunks" if b.get("total") else ""
    )
    model = f", while {b.get('slot')} · {b.get('model')} was running" if b.get("model") and not blind else ""
    return (
        f"The last build ({b.get('label') or 'build'}) did not finish: it stopped{where}{model} (a reload, a "
        "click elsewhere, or it is still running in another tab). Every finished batch is in the store: "
        "resuming embeds only the rest."
    )


def _store() -> EmbeddingStore:
    return resources.store()


def sync() -> None:
    """Record this session's corpus, models, settings and built indexes when they changed (cheap otherwise).

    A session without a corpus records nothing: it must not wipe the record a reload is about to restore."""
    if not enabled():
        return
    corpus = resources.current_corpus()
    if corpus is None:
        return
    built = [s for s in SLOTS if _built(s)]
    record = {
        "corpus": {
            "sha256": corpus.sha256,
            "name": corpus.name,
            "chunks": len(corpus.chunks),
            "origin": state.corpus_origin(),
        },
        "models": {s: state.model_name(s) or "" for s in SLOTS},
        "untrusted": dict(state.get("models_untrusted")),
        "held": dict(state.get("models_held")),
        "settings": {k: state.get(k) for k in _SETTINGS},
        "built": built,
    }
    marker = json.dumps(record, sort_keys=True, default=str)
    if state.get("session_synced") == marker:
        return
    try:
        kept = _store().keep_corpus(corpus.sha256, json.dumps(corpus_json(corpus)).encode("utf-8"))
        _store().update_session_record(**record, kept=kept)
    except DashboardError:  # a read-only store: the app works, a reload just starts empty
        log.exception("could not record the session in the store")
        return
    state.put("session_synced", marker)


def _built(slot: Slot) -> bool:
    key = state.get(f"built_{slot.lower()}")
    return key is not None and key[0] == state.corpus_key() and resources.indexes().get(key) is not None


def build_started(*, label: str, corpus_sha: str, total: int) -> str:
    """A build job starts (ui.build.build_all): recorded as running, so a reload can say it did not finish.
    Returns the job's id: only this job's later calls change the record (not an old run stopping late)."""
    job = uuid.uuid4().hex[:12]
    _build_state(
        job, "running", start=True, label=label, corpus_sha=corpus_sha, done=0, total=total, slot="", model=""
    )
    return job


def build_ended(job: str, outcome: BuildState, *, done: int, total: int, slot: str, model: str) -> None:
    """A build job ended: finished, or interrupted (Cancel, a click, a reload). No session state is touched: a
    stopped run may not write it any more."""
    _build_state(job, outcome, done=done, total=total, slot=slot, model=model)


class _Progress(Protocol):
    done: int
    total: int
    slot: str
    model: str


def progress_writer(job: str, every_s: float = 2.0) -> Callable[[_Progress], None]:
    """A build's progress callback that records how far it got, at most every ``every_s`` seconds: a reload
    mid-build then says where it stopped (the stopped run may not get to say it before the new one reads)."""
    last = [0.0]

    def write(p: _Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= every_s:
            last[0] = now
            _build_state(job, "running", done=p.done, total=p.total, slot=p.slot, model=p.model)

    return write


def _build_state(job: str, outcome: BuildState, *, start: bool = False, **fields: object) -> None:
    if not enabled():
        return
    try:
        store = _store()
        old = (store.session_record() or {}).get("build") or {}
        if not start and old.get("job") != job:
            return  # a newer build (a resume in the reloaded page) owns the record now
        base = {} if start else old
        store.update_session_record(build={**base, **fields, "job": job, "state": outcome, "at": time.time()})
    except Exception:  # the record is a convenience: a build never fails because of it
        log.exception("could not record the build state")


def restore() -> Restored | None:
    """Once per session, on its first run: a fresh session takes the last session's corpus and choices.

    Returns what it restored (the caller rebuilds the indexes from the store and says so), else None."""
    if state.get("session_tried"):
        return None
    state.put("session_tried", True)
    if not enabled() or state.corpus_key() is not None or any(state.model_name(s) for s in SLOTS):
        return None
    store = _store()
    record = store.session_record()
    corpus = _kept_corpus(store, record)
    if record is None or corpus is None:
        return None
    resources.corpora().put(corpus.sha256, corpus)
    state.put("corpus_key", corpus.sha256)
    origin = record["corpus"].get("origin")
    state.put("corpus_origin", origin if origin in ("sample", "upload", "beir") else "upload")
    for key, value in (record.get("settings") or {}).items():
        if key in _SETTINGS and isinstance(value, type(state.DEFAULTS[key])):
            state.put(key, value)
    models = {s: str((record.get("models") or {}).get(s) or "") for s in SLOTS}
    untrusted, held = record.get("untrusted") or {}, record.get("held") or {}
    for slot in SLOTS:
        if models[slot]:  # a model a bundle named stays untrusted (and its endpoint held) as it was
            state.choose_model(slot, models[slot], from_bundle=untrusted.get(slot) == models[slot])
            if held.get(slot) == models[slot]:
                state.hold_endpoint(slot, models[slot])
    state.put("models_fallback_reason", "")
    rebuild = tuple(
        s
        for s in record.get("built") or []
        if s in SLOTS
        and models[s]
        and not is_endpoint_name(models[s])  # an endpoint needs this session's key
    )
    build = record.get("build") or {}
    unfinished = build.get("state") in ("running", "interrupted") and build.get("corpus_sha") == corpus.sha256
    restored = Restored(
        corpus_sha=corpus.sha256,
        corpus_name=corpus.name or "corpus",
        chunks=len(corpus.chunks),
        models={s: n for s, n in models.items() if n},
        rebuild=rebuild,
        interrupted=dict(build) if unfinished else None,
    )
    state.put("session_restored", restored)
    state.put("session_synced", None)
    return restored


def _kept_corpus(store: EmbeddingStore, record: dict | None) -> Corpus | None:
    sha = str(((record or {}).get("corpus") or {}).get("sha256") or "")
    data = store.kept_corpus(sha) if sha else None
    if data is None:
        return None
    try:
        corpus = corpus_from_json(json.loads(data))
    except (ValueError, DashboardError):  # damaged: start empty rather than restore a part
        log.exception("the kept corpus %s cannot be read", sha)
        return None
    return corpus if corpus.sha256 == sha and corpus.chunks else None


def restored() -> Restored | None:
    """What this session restored, while its corpus is still the one restored."""
    found = cast(Restored | None, state.get("session_restored"))
    return found if found is not None and found.corpus_sha == state.corpus_key() else None


def unfinished_build() -> dict[str, Any] | None:
    """The record of the last build of this session's corpus when it did not finish (read fresh: another tab or
    a resumed build may have finished it since)."""
    corpus_sha = state.corpus_key()
    build = ((_store().session_record() or {}).get("build") or {}) if enabled() and corpus_sha else {}
    return (
        build
        if build.get("state") in ("running", "interrupted") and build.get("corpus_sha") == corpus_sha
        else None
    )
