"""Putting a read bundle to use: every check first (model fingerprints, the vectors against the local model,
the labels against a scratch judgment store), then the vectors into the embedding store and the labels into
the judgment store. A refused bundle leaves both stores as they were.

The bundle's vectors are checked, not believed: before any is written, a few of its texts (``CHECK_TEXTS``: the
shortest, the longest and a seeded random choice of the rest) are embedded again with the local model and the
lowest cosine to the bundle's rows must reach ``MIN_AGREEMENT``. An endpoint model has no local copy to check
with, and loading it would send the user's API key to the host the bundle names: unless the caller passes a
loaded embedder for it (an endpoint the user confirmed, which then checks the rows itself), its vectors are
reported as unverified and never enter the store.
"""

from __future__ import annotations

import dataclasses
import random
import tempfile
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.bundle.base import REEXPORT, Bundle, BundleError, BundleModel, Installed, refuse
from core.bundle.corpus_json import distinct_texts, texts_in_order
from core.bundle.fingerprint import fingerprint_differences, model_fingerprint
from core.datasets import qrels_judgments
from core.errors import StoreError
from core.judging import Judgment, JudgmentStore, query_id
from core.store import EmbeddingStore
from core.types import Embedder

CHECK_TEXTS = 8  # texts re-embedded per model before a bundle's vectors are installed
MIN_AGREEMENT = 0.98  # lowest cosine accepted (the same model on CPU vs GPU: > 0.99; another model: < 0.5)
QRELS_RATER = "imported: bundle qrels"


def check_models(bundle: Bundle, embedders: Mapping[str, Embedder]) -> None:
    """Refuse (BundleError naming the differences) unless each slot's local model is the one that made its vectors.

    An endpoint slot without an embedder is left out (its vectors stay unverified and out of the store)."""
    problems = []
    for m in bundle.models:
        emb = embedders.get(m.slot)
        if emb is None:
            if m.is_endpoint:
                continue
            raise BundleError(f"No model loaded for slot {m.slot} ({m.name}); load it to import its vectors.")
        diffs = fingerprint_differences(m.fingerprint, model_fingerprint(emb))
        if diffs:
            problems.append(f"model {m.slot} ({m.name}): " + "; ".join(diffs))
    if problems:
        raise refuse(
            "its vectors were made by another model revision than the one here — "
            + " | ".join(problems)
            + ". Use the same model (revision, max tokens) as the machine that exported it, or rebuild from scratch."
        )


def vector_agreement(fresh: np.ndarray, stored: np.ndarray) -> float:
    """Lowest cosine between matching rows of two (n, dim) arrays: 1.0 when every vector was reproduced."""
    a = np.asarray(fresh, dtype=np.float64)
    b = np.asarray(stored, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise BundleError(f"cannot compare vectors of shapes {a.shape} and {b.shape}")
    if not len(a):
        return 1.0
    cos = (a * b).sum(axis=1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-12)
    return float(cos.min())


def check_rows_to_embed(texts: list[str], rows: list[int], n: int, seed: int) -> list[int]:
    """Which of ``rows`` to embed again: the shortest and the longest text, then a seeded random choice."""
    if len(rows) <= n:
        return list(rows)
    by_length = sorted(rows, key=lambda r: len(texts[r]))
    picked = [by_length[0], by_length[-1]]
    rest = [r for r in rows if r not in picked]
    return sorted(picked + random.Random(seed).sample(rest, n - len(picked)))


def verify_vectors(
    model: BundleModel,
    embedder: Embedder,
    texts: list[str],
    rows: list[int],
    *,
    seed: int,
    n: int = CHECK_TEXTS,
) -> tuple[int, float]:
    """Embed a few of ``rows``' texts with ``embedder`` and compare with the bundle's rows; (texts, lowest cosine).

    Raises BundleError below MIN_AGREEMENT, naming the model, the cosine and what to do."""
    picks = check_rows_to_embed(texts, rows, n, seed)
    if not picks:
        return 0, 1.0
    fresh = np.asarray(embedder.encode_documents([texts[r] for r in picks]), dtype=np.float32)
    if fresh.shape != (len(picks), model.dim):
        raise refuse(
            f"model {model.slot} ({model.name}) gives {fresh.shape[-1]}-dim vectors here but the bundle's have "
            f"{model.dim}: they were made by another model. Rebuild from scratch."
        )
    low = vector_agreement(fresh, model.vectors[picks])
    if low < MIN_AGREEMENT:
        raise refuse(
            f"model {model.slot} ({model.name}): its vectors are not this model's. {len(picks)} of its texts embedded "
            f"here (the shortest, the longest and a random choice, seed {seed}) have a lowest cosine of {low:.3f} to "
            f"the bundle's vectors (at least {MIN_AGREEMENT} is needed): they were swapped, altered or made by another "
            "model. Export the bundle again from the machine that built it, or rebuild from scratch."
        )
    return len(picks), low


def _judgment_rows(bundle: Bundle) -> tuple[dict[str, Any] | None, list[Judgment]]:
    dump = bundle.labels.get("judgments")
    return (dump if isinstance(dump, dict) else None), qrels_judgments_of(bundle)


def check_labels_load(bundle: Bundle) -> None:
    """Load the bundle's judgments, votes and qrels into a scratch judgment store: whatever the real store would
    refuse is refused now, before anything is written."""
    dump, from_qrels = _judgment_rows(bundle)
    if dump is None and not from_qrels:
        return
    with tempfile.TemporaryDirectory(prefix="bundle-labels-") as tmp:
        scratch = JudgmentStore(Path(tmp) / "check.sqlite", bundle.corpus.sha256)
        _load(scratch, dump, from_qrels)


def _unusable(what: str, exc: Exception) -> BundleError:
    return refuse(f"labels.json holds {what} this app cannot use: {str(exc).rstrip('.')}. {REEXPORT}")


def _load(store: JudgmentStore, dump: dict[str, Any] | None, from_qrels: list[Judgment]) -> int:
    try:
        added = int(store.load(dump)) if dump is not None else 0
        return added + store.add_judgments(from_qrels)
    except StoreError as exc:
        raise _unusable("judgments", exc) from None
    except (ValueError, OverflowError) as exc:
        raise _unusable("qrels or judgments", exc) from None


def _unverified(m: BundleModel) -> Installed:
    return Installed(
        m.slot, m.name, "", int(m.vectors.shape[0]), 0, m.dim, verified=False,
        note=f"{m.vectors.shape[0]:,} vectors unverified: an endpoint model cannot be checked without calling it, "
        "and the bundle's host is not called with your key until you confirm it, so they were not put in the store",
    )  # fmt: skip


def install(
    bundle: Bundle, embedders: Mapping[str, Embedder], store: EmbeddingStore, *, seed: int | None = None
) -> list[Installed]:
    """Check everything, then put each checked model's vectors into the store under its local cache key.

    Checks, all before the first write: each model's fingerprint (``check_models``); for the texts the store
    does not hold yet, ``CHECK_TEXTS`` of them embedded again with ``embedders[slot]`` (``verify_vectors``, seeded
    by ``seed``, random when None); the labels loaded into a scratch judgment store (``check_labels_load``). An
    endpoint slot with no embedder is not installed (``Installed.verified`` False, with a note)."""
    check_models(bundle, embedders)
    hashes, _rows = distinct_texts(bundle.corpus)
    ordered = texts_in_order(bundle.corpus)
    seed = random.SystemRandom().randrange(2**31) if seed is None else seed
    plans: list[tuple[BundleModel, Embedder | None, int, float | None]] = []
    for m in bundle.models:
        emb = embedders.get(m.slot)
        if emb is None:
            plans.append((m, None, 0, None))
            continue
        missing = [i for i, have in enumerate(store.stored(emb.cache_key, ordered)) if not have]
        checked, low = verify_vectors(m, emb, ordered, missing, seed=seed) if missing else (0, None)
        plans.append((m, emb, checked, low))
    check_labels_load(bundle)
    done = []
    for m, emb, checked, low in plans:
        if emb is None:
            done.append(_unverified(m))
            continue
        # row i of the bundle's vectors is the text hashes[i]: streamed from the memory map into the store's
        # segments, never read whole into memory
        written = store.put(emb.cache_key, hashes, m.vectors)
        note = (
            f"checked: {checked} texts embedded here agree with the bundle (lowest cosine {low:.4f})"
            if low is not None
            else "every vector was already in the store"
        )
        done.append(
            Installed(m.slot, m.name, emb.cache_key, len(hashes), written, m.dim, True, checked, low, note)
        )
    return done


def labels_for(bundle: Bundle) -> dict[str, Any]:
    """The bundle's labels ({'qrels', 'session_labels', 'judgments'}), each present only when exported."""
    return {k: v for k, v in bundle.labels.items() if k in ("qrels", "session_labels", "judgments")}


def judgments_dump(corpus_sha: str, root: Path | None = None) -> dict[str, Any] | None:
    """The judgment store's dump (judgments and votes) for a corpus, or None when it holds nothing."""
    dump = JudgmentStore.for_corpus(corpus_sha, root).dump()
    return dump if any(dump.get(k) for k in ("judgments", "votes")) else None


def _created_time(bundle: Bundle) -> float:
    """The bundle's creation time in unix seconds (0.0 when unknown): the time of its imported qrels, so
    importing the same bundle twice adds no row."""
    try:
        return datetime.fromisoformat(bundle.created).timestamp()
    except (ValueError, OverflowError, OSError):
        return 0.0


def qrels_judgments_of(bundle: Bundle) -> list[Judgment]:
    """The qrels a bundle carries (labels.json 'qrels': {'queries', 'qrels'}) as imported judgments of its corpus.

    Kept: judged documents that are a chunk id or a file of the corpus, queries with a text. Query ids become
    the text's own id (``core.judging.store.query_id``), as the Judge page's import does, so a query judged here
    and imported is one query. None for a sample bundle: the sample's judgments are read from sample_corpus/."""
    found = bundle.labels.get("qrels")
    if found is None or bundle.origin == "sample":
        return []
    queries = found.get("queries") if isinstance(found, dict) else None
    qrels = found.get("qrels") if isinstance(found, dict) else None
    if not isinstance(queries, dict) or not isinstance(qrels, dict):
        raise refuse(
            f"labels.json 'qrels' must hold a 'queries' object (id: text) and a 'qrels' object. {REEXPORT}"
        )
    docs = {c.id for c in bundle.corpus.chunks} | {c.source for c in bundle.corpus.chunks}
    kept: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        if not isinstance(judged, dict) or not all(
            isinstance(g, int) and not isinstance(g, bool) for g in judged.values()
        ):
            raise refuse(
                f"labels.json qrels of query {str(qid)[:80]!r} must map document ids to integer grades. {REEXPORT}"
            )
        text = queries.get(qid)
        if isinstance(text, str) and text.strip():
            kept[qid] = {d: g for d, g in judged.items() if d in docs}
    texts = {q: str(queries[q]) for q in kept}
    found_rows = qrels_judgments(kept, texts, rater=QRELS_RATER, time=_created_time(bundle))
    return [dataclasses.replace(j, query_id=query_id(j.query)) for j in found_rows]


def load_judgments(bundle: Bundle, root: Path | None = None) -> int:
    """Merge the bundle's judgments and votes, and its qrels as imported judgments (``qrels_judgments_of``),
    into the local judgment store of its corpus, where Evaluate ('union') and the report read them; rows added."""
    dump, from_qrels = _judgment_rows(bundle)  # refuses malformed qrels before anything is written
    if dump is None and not from_qrels:
        return 0
    try:
        store = JudgmentStore.for_corpus(bundle.corpus.sha256, root)
    except StoreError as exc:
        raise _unusable("judgments", exc) from None
    return _load(store, dump, from_qrels)


def summary(bundle: Bundle) -> dict[str, Any]:
    """What a bundle holds, for the CLI and the app (JSON-safe)."""
    return {
        "corpus": {
            "name": bundle.corpus.name,
            "sha256": bundle.corpus.sha256,
            "chunks": len(bundle.corpus.chunks),
            "files": len(bundle.corpus.files),
            "origin": bundle.origin,
        },
        "models": [
            {
                "slot": m.slot,
                "name": m.name,
                "dim": m.dim,
                "vectors": int(m.vectors.shape[0]),
                "made_with": m.cache_key,
            }
            for m in bundle.models
        ],
        "labels": {k: (len(v) if isinstance(v, (list, dict)) else 1) for k, v in labels_for(bundle).items()},
        "settings": bundle.settings,
        "created": bundle.created,
        "bytes": bundle.size,
    }
