"""Session bundles: one zip with a corpus, both models' stored vectors, labels, votes and settings.

A bundle lets a team embed on a GPU box and demo on a laptop: importing it puts every vector into the
embedding store under the local model's cache key, so the normal build path finds them all cached and only
builds the hnswlib index. Layout (JSON + .npy, never pickle)::

    manifest.json       format, version, corpus identity, settings, models (name, spec, cache key, fingerprint),
                        and the sha256 and size of every other member; no path of the machine that made it
                        (a model chosen by its local folder is named 'local:<folder name>')
    corpus.json         chunks (ids, text, spans, languages) and per-file statuses
    labels.json         qrels of the judged set, the Compare page's labels, the judgment store's dump
                        (an import merges the dump and the qrels into the local judgment store, see
                        ``load_judgments``; the sample's own qrels stay in sample_corpus/)
    vectors/A.npy       float32 (texts, dim): one row per distinct chunk text, in corpus order, as stored
    vectors/B.npy

This module writes bundles. Imports are untrusted: ``core.bundle.read`` checks sizes from the zip's central
directory against the manifest before reading, checksums, JSON depth and numbers, the corpus identity, settings
and labels ranges and the vectors' norms; ``core.bundle.install`` checks each model's portable fingerprint and
re-embeds a few texts with the local model before anything is written.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

import numpy as np

from core.bundle.base import FORMAT, JSON_MEMBERS, SLOT_NAMES, VERSION, BundleError, BundleLimits
from core.bundle.checks import check_settings, check_shape, json_bound
from core.bundle.corpus_json import corpus_json, distinct_texts
from core.bundle.fingerprint import model_fingerprint, portable_cache_key, portable_model_name, portable_spec
from core.text import format_bytes
from core.types import Corpus, Embedder

# ---- export -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExportModel:
    """One model to export: the name the user chose, its loaded embedder, its vectors in chunk order."""

    slot: str
    name: str
    embedder: Embedder
    vectors: np.ndarray  # (chunks, dim), e.g. ModelIndex.vectors


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _importable(members: Mapping[str, bytes]) -> None:
    """Refuse to write JSON members that an import would refuse (``core.bundle.read``'s bounds): labels beyond
    4 MiB plus the size of corpus.json, more arrays, objects or strings than their size allows."""
    limits = BundleLimits()
    corpus_bytes, labels_bytes = len(members["corpus.json"]), len(members["labels.json"])
    bound = json_bound("labels.json", {}, limits, corpus_bytes)
    if labels_bytes > bound:
        raise BundleError(
            f"Cannot export: the labels (qrels, the Compare page's labels, judgments and votes) take "
            f"{format_bytes(labels_bytes)}; a bundle of this corpus holds at most {format_bytes(bound)} of them "
            f"({format_bytes(limits.labels_allowance)} plus the size of its corpus.json), and an import would refuse "
            "more. Share the labels as files instead (the Judge page's judgments.csv and qrels.txt, the Blind votes "
            "page's votes.csv; they import there), and export the bundle with a store that holds none (`--store` "
            "or RETRIEVAL_COMPARE_STORE naming another folder)."
        )
    for name in JSON_MEMBERS:
        try:
            check_shape(members[name], name, limits)
        except BundleError as exc:
            raise BundleError(str(exc).replace("Bundle refused: ", "Cannot export: ", 1)) from None


def make_bundle(
    corpus: Corpus,
    models: Sequence[ExportModel],
    *,
    settings: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
    origin: str = "",
) -> bytes:
    """The bundle zip's bytes: corpus, each model's distinct-text vectors, labels and settings, with checksums
    (what the page's download button hands over; ``write_bundle`` streams one to a file instead)."""
    buf = io.BytesIO()
    write_bundle(buf, corpus, models, settings=settings, labels=labels, origin=origin)
    return buf.getvalue()


VECTOR_BLOCK_ROWS = 16_384  # rows gathered, hashed and compressed at a time while a bundle is written


def _write_npy(zf: zipfile.ZipFile, member: str, vecs: np.ndarray, take: Sequence[int]) -> dict[str, Any]:
    """``vecs[take]`` as a float32 .npy member, a block of rows at a time (never a whole copy); its sha256 and size
    (the bytes ``np.save`` would write: a version 1.0 header, then the rows in C order)."""
    header = io.BytesIO()
    shape = (len(take), int(vecs.shape[1]))
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": shape})
    digest, size = hashlib.sha256(), 0
    with zf.open(member, "w", force_zip64=True) as out:
        blocks = (
            np.ascontiguousarray(vecs[take[i : i + VECTOR_BLOCK_ROWS]], dtype="<f4").tobytes()
            for i in range(0, len(take), VECTOR_BLOCK_ROWS)
        )
        for part in itertools.chain([header.getvalue()], blocks):
            out.write(part)
            digest.update(part)
            size += len(part)
    return {"sha256": digest.hexdigest(), "bytes": size}


def write_bundle(
    target: str | os.PathLike[str] | BinaryIO,
    corpus: Corpus,
    models: Sequence[ExportModel],
    *,
    settings: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
    origin: str = "",
) -> None:
    """Write a bundle to a path or a binary file, the vectors streamed a block of rows at a time (peak memory: one
    block, not the vectors); ``make_bundle`` states what it holds. The manifest, with every member's sha256 and
    size, is written last; an import reads it first by name."""
    if not corpus.chunks:
        raise BundleError(
            "Nothing to export: the corpus has no chunks. Load a corpus and build both indexes first."
        )
    slots = [m.slot for m in models]
    if len(set(slots)) != len(slots) or not set(slots) <= set(SLOT_NAMES) or not models:
        raise BundleError(f"Export needs one model per slot {SLOT_NAMES}; got slots {slots}.")
    try:
        checked_settings = check_settings(dict(settings or {}))
    except BundleError as exc:  # a bundle this app would refuse to import is not written
        raise BundleError(str(exc).replace("Bundle refused: ", "Cannot export: ", 1)) from None
    hashes, rows = distinct_texts(corpus)
    first_row = {r: i for i, r in reversed(list(enumerate(rows)))}  # distinct row -> first chunk index
    take = [first_row[r] for r in range(len(hashes))]
    members: dict[str, bytes] = {
        "corpus.json": _json_bytes(corpus_json(corpus)),
        "labels.json": _json_bytes(dict(labels or {})),
    }
    _importable(members)
    entries = []
    pending: list[tuple[str, np.ndarray]] = []
    for m in models:
        vecs = np.asarray(m.vectors)
        if vecs.ndim != 2 or vecs.shape[0] != len(corpus.chunks):
            raise BundleError(
                f"Model {m.slot} ({m.name}): vectors of shape {vecs.shape} do not match {len(corpus.chunks)} chunks; "
                "build its index on this corpus first."
            )
        member = f"vectors/{m.slot}.npy"
        size = len(hashes) * int(vecs.shape[1]) * 4
        if size > (limit := BundleLimits().max_member_bytes):  # an import would refuse it: not written at all
            raise BundleError(
                f"Cannot export: model {m.slot}'s vectors take {format_bytes(size)} ({len(hashes):,} texts x "
                f"{int(vecs.shape[1])} dims), above the {format_bytes(limit)} a bundle member may hold, and an import would refuse it. Export a "
                "smaller corpus, or share the embedding store folder (RETRIEVAL_COMPARE_STORE) or a Qdrant collection."
            )
        pending.append((member, vecs))
        entries.append(
            {
                "slot": m.slot,
                "name": portable_model_name(m.name, m.embedder.spec),  # a folder path: 'local:<name>'
                "spec": portable_spec(m.embedder.spec),
                "cache_key": portable_cache_key(m.embedder),
                "fingerprint": model_fingerprint(m.embedder),
                "vectors": member,
                "count": len(hashes),
                "dim": int(vecs.shape[1]),
            }
        )
    # settings.models as the entries name them (a folder path: 'local:<name>', as check_settings makes it too)
    if "models" in checked_settings:
        checked_settings["models"] = {**checked_settings["models"], **{e["slot"]: e["name"] for e in entries}}
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        written = {}
        for name, data in members.items():
            zf.writestr(name, data)
            written[name] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for member, vecs in pending:
            written[member] = _write_npy(zf, member, vecs, take)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "corpus": {
                "name": corpus.name,
                "sha256": corpus.sha256,
                "chunks": len(corpus.chunks),
                "texts": len(hashes),
                "origin": origin,
            },
            "settings": checked_settings,
            "models": entries,
            "members": written,
        }
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
