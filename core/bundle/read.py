"""Reading a bundle (its bytes, or a file on disk) into a checked Bundle; nothing is written but scratch files.

Order: the zip's central directory (names, count, encryption, sizes) -> manifest.json (at most 1 MiB) -> every
other member's declared size against what the manifest implies (vectors: texts x dims x 4 bytes + the .npy
header, which pins the texts down; corpus.json: a bound per chunk, at most 16 chunks per text; labels.json: a
bound by the size of corpus.json; all members together: a multiple of the zip's size) -> only then each member
is read, its sha256 checked, its arrays and objects counted on the bytes, then parsed (JSON depth and numbers,
corpus fields, settings and labels ranges, vector shapes, finiteness and unit length).

Memory: a vectors member is streamed (``shutil.copyfileobj``-style, a block at a time, hashed on the way) to a
scratch folder and memory-mapped from there read-only; its rows are checked a block at a time, and
``core.bundle.install`` streams them into the store's segments. An import from a path holds no copy of the zip
either: a 100k x 384 two-model bundle peaks at about the vectors' size, not six times the zip (docs/scale.md).
The scratch folder is removed when reading ends; the memory maps keep their (unlinked) files readable until the
Bundle is dropped (POSIX; on Windows the folder is left to the temp cleaner).
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np

from core.bundle.base import (
    FORMAT,
    JSON_MEMBERS,
    MB,
    REEXPORT,
    SLOT_NAMES,
    VERSION,
    Bundle,
    BundleError,
    BundleLimits,
    BundleModel,
    refuse,
)
from core.bundle.checks import check_labels, check_rows, check_settings, json_bound, parse_json, short
from core.bundle.corpus_json import corpus_from_json, distinct_texts
from core.ingest import ZIP_MEMBER_ERRORS, ZIP_OPEN_ERRORS, safe_member_name
from core.text import clean_text, format_bytes

_NPY_HEADER = (10, 4096)  # bytes an .npy header takes before the data: magic, version, length, padded dict
COPY_BLOCK = 1 << 20  # bytes of a member unpacked at a time (shutil.copyfileobj takes 64 KiB)
BundleSource = bytes | str | os.PathLike[str]  # a bundle's bytes (an upload), or the path of a bundle file


def _file(source: BundleSource) -> IO[bytes]:
    """The bundle as a binary file: its bytes wrapped (no copy), or its path opened."""
    if isinstance(source, bytes):
        return io.BytesIO(source)
    try:
        return open(source, "rb")  # closed by read_bundle
    except OSError as exc:  # missing, a folder, no permission
        raise refuse(
            f"the file {os.fspath(source)!r} cannot be read ({exc.strerror or exc}). Check the path, then choose "
            "the bundle file again."
        ) from None


def _open(
    fh: IO[bytes], size: int, limits: BundleLimits
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    """The zip and its members by name, checked from the central directory only (nothing read yet)."""
    if size > limits.max_bytes:
        raise refuse(
            f"the file is {format_bytes(size)} (limit {format_bytes(limits.max_bytes)}). Export a smaller corpus, "
            "or import it with `python -m core.cli bundle import`, whose limits the caller sets."
        )
    try:
        zf = zipfile.ZipFile(fh)
    except ZIP_OPEN_ERRORS as exc:  # UnicodeDecodeError is a ValueError
        raise refuse(f"not a readable zip file ({exc}). {REEXPORT}") from None
    return _checked_directory(zf, size, limits)


def _checked_directory(
    zf: zipfile.ZipFile, size: int, limits: BundleLimits
) -> tuple[zipfile.ZipFile, dict[str, zipfile.ZipInfo]]:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise refuse(f"it has {len(infos)} members (a bundle has at most {limits.max_members}). {REEXPORT}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise refuse(
            f"its members unpack to {format_bytes(total)} (limit {format_bytes(limits.max_total_bytes)}). Export a "
            "smaller corpus."
        )
    allowed = {"manifest.json", *JSON_MEMBERS} | {f"vectors/{s}.npy" for s in SLOT_NAMES}
    out: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        if safe_member_name(name) != name:
            raise refuse(f"member {name!r} has an unsafe path (absolute, '..' or not normalised). {REEXPORT}")
        if name not in allowed:
            raise refuse(
                f"unexpected member {name!r} (a bundle holds only {sorted(allowed)}; no pickles or other files). "
                f"{REEXPORT}"
            )
        if name in out:
            raise refuse(f"member {name!r} appears twice. {REEXPORT}")
        if info.flag_bits & 0x1:
            raise refuse(f"member {name!r} is encrypted; bundles are never encrypted. {REEXPORT}")
        if info.file_size > limits.max_member_bytes:
            raise refuse(
                f"member {name!r} unpacks to {format_bytes(info.file_size)} (limit "
                f"{format_bytes(limits.max_member_bytes)}). Export a smaller corpus."
            )
        if info.file_size > MB and info.file_size / max(1, info.compress_size) > limits.max_ratio:
            raise refuse(
                f"member {name!r} looks like a zip bomb ({format_bytes(info.file_size)} from "
                f"{format_bytes(info.compress_size)}). {REEXPORT}"
            )
        out[name] = info
    if "manifest.json" not in out:
        raise refuse(
            "it has no manifest.json; it is not a retrieval-compare bundle. Choose a file made with Prepare bundle "
            "or `python -m core.cli bundle export`."
        )
    allowance = limits.unpacked_allowance + limits.max_unpacked_ratio * size
    if total > allowance:
        raise refuse(
            f"its members unpack to {format_bytes(total)} from a {format_bytes(size)} file (at most "
            f"{limits.max_unpacked_ratio:g} times the file plus {format_bytes(limits.unpacked_allowance)}): a bundle's "
            f"vectors barely compress, so it is padded or a zip bomb. {REEXPORT}"
        )
    return zf, out


def _unpack(zf: zipfile.ZipFile, info: zipfile.ZipInfo, out: IO[bytes]) -> str:
    """Stream a member into ``out`` a block at a time (never more than its header's size plus one byte) and return
    its sha256; refused when it cannot be unpacked or is not the size its zip header says."""
    name, digest, got = info.filename, hashlib.sha256(), 0
    try:
        with zf.open(info) as fh:
            while got <= info.file_size and (block := fh.read(min(COPY_BLOCK, info.file_size + 1 - got))):
                got += len(block)
                digest.update(block)
                out.write(block)
    except ZIP_MEMBER_ERRORS as exc:
        raise refuse(f"member {name!r} cannot be unpacked ({exc}). {REEXPORT}") from None
    if got != info.file_size:
        raise refuse(
            f"member {name!r} is not the size its zip header says (damaged or altered file). {REEXPORT}"
        )
    return digest.hexdigest()


def _read(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    buf = io.BytesIO()
    _unpack(zf, info, buf)
    return buf.getvalue()


def _count(value: object, what: str, low: int = 1, high: int = 2**40) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise refuse(
            f"manifest.json {what} is {short(value)}; it must be an integer from {low:,} to {high:,}. {REEXPORT}"
        )
    return value


def _manifest(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limits: BundleLimits) -> dict[str, Any]:
    if info.file_size > limits.max_manifest_bytes:
        raise refuse(
            f"manifest.json is {format_bytes(info.file_size)} (a manifest is a few KiB; limit "
            f"{format_bytes(limits.max_manifest_bytes)}). {REEXPORT}"
        )
    manifest = parse_json(_read(zf, info), "manifest.json", limits)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise refuse(
            f"manifest.json does not say format {FORMAT!r}; it is not a retrieval-compare bundle. Choose a file made "
            "with Prepare bundle or `python -m core.cli bundle export`."
        )
    if manifest.get("version") != VERSION:
        raise refuse(
            f"it is format version {manifest.get('version')!r}; this app reads version {VERSION}. "
            "Export it again with this version of the app."
        )
    listed, models, corpus = manifest.get("members"), manifest.get("models"), manifest.get("corpus")
    if not isinstance(listed, dict) or not isinstance(models, list) or not isinstance(corpus, dict):
        raise refuse(f"manifest.json lacks its 'members', 'models' or 'corpus' entry. {REEXPORT}")
    if not models or len(models) > len(SLOT_NAMES) or not all(isinstance(m, dict) for m in models):
        raise refuse(f"manifest.json 'models' must hold one object per slot {SLOT_NAMES}. {REEXPORT}")
    for name, meta in listed.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str):
            raise refuse(
                f"manifest.json members.{name} must give the member's 'sha256' and 'bytes'. {REEXPORT}"
            )
        _count(meta.get("bytes"), f"members.{name}.bytes", low=0)
    texts = _count(corpus.get("texts"), "corpus.texts")  # the vectors' size pins it down (``_check_sizes``)
    # a chunk repeats another's text only so often: this bounds corpus.json (``json_bound``) by what the vectors hold
    _count(corpus.get("chunks"), "corpus.chunks", low=texts, high=texts * limits.max_chunks_per_text)
    slots = [m.get("slot") for m in models]
    for i, entry in enumerate(models):
        slot, member = entry.get("slot"), entry.get("vectors")
        if slot not in SLOT_NAMES or member != f"vectors/{slot}.npy" or slots.count(slot) > 1:
            raise refuse(
                f"manifest model {i} names slot {slot!r} and vectors {member!r}, which do not match. {REEXPORT}"
            )
        _count(entry.get("dim"), f"models[{i}].dim", high=limits.max_dim)
        if entry.get("count", texts) != texts:
            raise refuse(
                f"manifest.json models[{i}].count is {short(entry.get('count'))} but corpus.texts is {texts}. "
                f"{REEXPORT}"
            )
    return manifest


def _bounds(
    manifest: Mapping[str, Any], limits: BundleLimits, corpus_bytes: int
) -> dict[str, tuple[int, int, float, str]]:
    """Per member the (least, most) bytes the manifest implies (labels.json: by ``corpus_bytes``, the size of
    corpus.json), the highest compression ratio it may have, and that bound in words."""
    corpus = manifest["corpus"]
    out: dict[str, tuple[int, int, float, str]] = {}
    for name in JSON_MEMBERS:
        high = json_bound(name, corpus, limits, corpus_bytes)
        out[name] = (2, high, limits.max_ratio, f"at most {format_bytes(high)}")
    for entry in manifest["models"]:  # slot and member name checked by _manifest
        texts, dim = corpus["texts"], entry["dim"]
        data = texts * dim * 4
        words = f"{texts:,} texts x {dim:,} dims x 4 bytes = {data:,} bytes + the .npy header"
        out[entry["vectors"]] = (data + _NPY_HEADER[0], data + _NPY_HEADER[1], limits.max_vector_ratio, words)
    return out


def _check_sizes(
    infos: Mapping[str, zipfile.ZipInfo], manifest: Mapping[str, Any], limits: BundleLimits
) -> None:
    """Refuse, before reading any member but the manifest, a member whose size is not what the manifest implies."""
    listed: dict[str, Any] = manifest["members"]
    present = set(infos) - {"manifest.json"}
    if set(listed) != present:
        raise refuse(
            f"the manifest lists members {sorted(listed)} but the zip holds {sorted(present)}. {REEXPORT}"
        )
    corpus_info = infos.get("corpus.json")
    bounds = _bounds(manifest, limits, corpus_info.file_size if corpus_info is not None else 0)
    for name in sorted(present):
        info = infos[name]
        if name not in bounds:
            raise refuse(f"member {name!r} belongs to no model of the manifest. {REEXPORT}")
        low, high, ratio, implied = bounds[name]
        if info.file_size != listed[name]["bytes"]:
            raise refuse(
                f"member {name!r} unpacks to {info.file_size:,} bytes but the manifest says {listed[name]['bytes']:,} "
                f"(damaged or altered file). {REEXPORT}"
            )
        if not low <= info.file_size <= high:
            raise refuse(
                f"member {name!r} unpacks to {format_bytes(info.file_size)}, not what the manifest implies "
                f"({implied}); the bundle is padded or altered. {REEXPORT}"
            )
        vectors = name.startswith("vectors/")
        if vectors and info.file_size > 64 * 1024 and info.file_size / max(1, info.compress_size) > ratio:
            raise refuse(
                f"member {name!r} compresses {info.file_size / max(1, info.compress_size):,.0f}:1 (at most {ratio:g}:1 "
                f"for real embeddings): it holds no real vectors. {REEXPORT}"
            )


def _same(info: zipfile.ZipInfo, digest: str, said: str) -> None:
    if said != digest:
        raise refuse(
            f"checksum mismatch for {info.filename} (sha256 {digest[:12]}…, manifest says {said[:12]}…): "
            f"the file was altered or damaged. Download or copy it again, or: {REEXPORT}"
        )


def _checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, said: str) -> bytes:
    buf = io.BytesIO()
    _same(info, _unpack(zf, info, buf), said)
    return buf.getvalue()


def _extracted(zf: zipfile.ZipFile, info: zipfile.ZipInfo, said: str, folder: Path) -> Path:
    """A member streamed to a file in ``folder`` (its sha256 checked on the way): what ``np.load`` maps."""
    path = folder / info.filename.replace("/", "_")
    try:
        with open(path, "wb") as out:
            digest = _unpack(zf, info, out)
    except OSError as exc:
        raise BundleError(
            f"Cannot unpack {info.filename} ({format_bytes(info.file_size)}) to {folder}: {exc.strerror or exc}. "
            "Free some space there, or set TMPDIR to a folder with room."
        ) from None
    _same(info, digest, said)
    return path


def _vectors(path: Path, name: str, *, rows: int, dim: int) -> np.ndarray:
    """The member's array, memory-mapped read-only from its unpacked file, checked a block of rows at a time."""
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise refuse(
            f"{name} is not a plain numeric array ({exc}); bundles never hold pickled objects. {REEXPORT}"
        ) from None
    except (OSError, EOFError) as exc:
        raise refuse(f"{name} is not a readable .npy array ({exc}). {REEXPORT}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype != np.dtype("<f4") or arr.ndim != 2:
        raise refuse(
            f"{name} must be a 2-d float32 array, got {getattr(arr, 'dtype', '?')} {getattr(arr, 'shape', '')}. "
            f"{REEXPORT}"
        )
    if arr.shape != (rows, dim):
        raise refuse(
            f"{name} has shape {arr.shape}; the corpus has {rows} distinct texts at {dim} dims. {REEXPORT}"
        )
    check_rows(arr, name)
    return arr


def read_bundle(
    source: BundleSource,
    *,
    limits: BundleLimits = BundleLimits(),
    expected_corpus: str | None = None,
    scratch: Path | None = None,
) -> Bundle:
    """Validate a bundle (its bytes, or the path of its file: sizes, names, checksums, corpus identity, arrays,
    labels, settings); raises BundleError. Nothing is written but the vectors' scratch files (in ``scratch``, the
    system's temp folder when None); ``core.bundle.install`` then checks the vectors against the local models.

    ``expected_corpus``: a corpus sha256 the bundle must be for (e.g. the sample corpus as it is on disk now).
    """
    with _file(source) as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(0)
        zf, infos = _open(fh, size, limits)
        with (
            zf,
            tempfile.TemporaryDirectory(prefix="bundle-", dir=scratch, ignore_cleanup_errors=True) as tmp,
        ):
            return _read_checked(zf, infos, size, limits, expected_corpus, Path(tmp))


def _read_checked(
    zf: zipfile.ZipFile,
    infos: dict[str, zipfile.ZipInfo],
    size: int,
    limits: BundleLimits,
    expected_corpus: str | None,
    scratch: Path,
) -> Bundle:
    manifest = _manifest(zf, infos["manifest.json"], limits)
    for name in JSON_MEMBERS:
        if name not in infos:
            raise refuse(f"it has no {name}; every bundle has one. {REEXPORT}")
    _check_sizes(infos, manifest, limits)
    listed = manifest["members"]

    def member(name: str) -> bytes:
        return _checked(zf, infos[name], listed[name]["sha256"])

    corpus = corpus_from_json(parse_json(member("corpus.json"), "corpus.json", limits))
    meta: dict[str, Any] = manifest["corpus"]
    claimed = meta.get("sha256")
    if corpus.sha256 != claimed:
        raise refuse(
            f"its chunks hash to corpus {corpus.sha256[:12]}… but the manifest says {str(claimed)[:12]}…: "
            f"the bundle was made for other chunks (corpus.json was altered after it was made). {REEXPORT}"
        )
    if expected_corpus is not None and corpus.sha256 != expected_corpus:
        raise refuse(
            f"it was made for corpus {corpus.sha256[:12]}… ({len(corpus.chunks)} chunks), not for this corpus "
            f"{expected_corpus[:12]}…: the documents or the chunking settings differ. Load the same documents with "
            "the chunking the bundle was made with, or import the bundle made for this corpus."
        )
    hashes, _rows = distinct_texts(corpus)
    if len(hashes) != meta["texts"] or len(corpus.chunks) != meta["chunks"]:
        raise refuse(
            f"corpus.json holds {len(corpus.chunks):,} chunks ({len(hashes):,} distinct texts) but the manifest says "
            f"{meta['chunks']:,} ({meta['texts']:,}): the bundle was altered. {REEXPORT}"
        )
    settings = check_settings(manifest.get("settings"))
    labels = check_labels(parse_json(member("labels.json"), "labels.json", limits))
    models = []
    for i, entry in enumerate(manifest["models"]):
        slot, name = entry["slot"], entry["vectors"]  # checked by _manifest
        if name not in infos:
            raise refuse(
                f"manifest model {i} names vectors {name!r}, which the zip does not hold. {REEXPORT}"
            )
        fingerprint, spec = entry.get("fingerprint"), entry.get("spec")
        if not isinstance(fingerprint, dict) or not isinstance(spec, dict):
            raise refuse(f"model {slot} has no fingerprint or spec in the manifest. {REEXPORT}")
        model_name = entry.get("name") or spec.get("name") or ""
        if not isinstance(model_name, str) or len(model_name) > 4000:
            raise refuse(f"manifest.json models[{i}].name must be a model name (text). {REEXPORT}")
        unpacked = _extracted(zf, infos[name], listed[name]["sha256"], scratch)
        vecs = _vectors(unpacked, name, rows=len(hashes), dim=entry["dim"])
        models.append(
            BundleModel(
                slot=str(slot),
                name=model_name,
                spec=spec,
                cache_key=str(entry.get("cache_key") or ""),
                fingerprint=fingerprint,
                vectors=vecs,
            )
        )
    created = manifest.get("created")
    return Bundle(
        corpus=dataclasses.replace(corpus, name=clean_text(str(meta.get("name") or corpus.name)[:200])[0]),
        models=tuple(sorted(models, key=lambda m: m.slot)),
        settings=settings,
        labels=labels,
        created=created if isinstance(created, str) and len(created) <= 64 else "",
        origin=str(meta.get("origin") or "")[:40],
        size=size,
    )
