"""What a bundle says, checked before anything is used: JSON depth and numbers, settings ranges, labels, vectors.

Every refusal names the member and the field (``labels.json judgments.votes[0].k``), what it holds and what is
accepted, so the person who made the bundle can fix it or export it again.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.bundle.base import REEXPORT, BundleLimits, portable_name, refuse
from core.store import release_pages
from core.text import format_bytes

MAX_JSON_INT = 2**53  # JSON's exact integers: anything larger is no count, offset, grade or time of a bundle
UNIT_TOLERANCE = 1e-2  # |length - 1| of a stored vector (float16 models normalise to about 1e-3)
MAX_GRADE = 1000  # |grade| of an imported qrels judgment (TREC grades are small: -2 to 4)
MAX_DEPTH_K = 10_000  # a pool depth or a vote's k
MAX_TIME = 1e11  # unix seconds (the year 5138): a judgment's or a vote's time


def short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _path(parent: str, key: object) -> str:
    """``parent.key``, ``parent[3]`` or ``parent["odd key"]``: where a field is, as the refusal names it."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    text = str(key)
    if text.isidentifier():
        return f"{parent}.{text}" if parent else text
    return f"{parent}[{json.dumps(text[:60], ensure_ascii=False)}]"


def _where(link: tuple[Any, ...] | None) -> str:
    """The path of a field from its chain of (parent chain, key) links, built only when a refusal names it."""
    keys: list[object] = []
    while link is not None:
        link, key = link
        keys.append(key)
    where = ""
    for key in reversed(keys):
        where = _path(where, key)
    return where


def check_tree(value: Any, name: str, limits: BundleLimits) -> None:
    """Refuse a parsed JSON value nested deeper than ``limits.max_json_depth`` or holding an integer beyond
    ±2**53, naming the field (iterative: a deep value cannot exhaust the stack here). Only arrays and objects are
    kept on the stack, each with a link to its parent: a field's path is written only when it is refused, so a
    list of millions of numbers costs no memory here."""
    if not isinstance(value, dict | list):
        _check_scalar(value, name, None)
        return
    stack: list[tuple[dict[str, Any] | list[Any], int, tuple[Any, ...] | None]] = [(value, 1, None)]
    while stack:
        node, depth, link = stack.pop()
        if depth > limits.max_json_depth:
            raise refuse(
                f"{name} is nested more than {limits.max_json_depth} levels deep (at {_where(link) or 'the top'}); "
                f"a bundle's JSON is a few levels deep. {REEXPORT}"
            )
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in items:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1, (link, key)))
            elif isinstance(child, int) and not isinstance(child, bool) and abs(child) > MAX_JSON_INT:
                _check_scalar(child, name, (link, key))


def _check_scalar(value: object, name: str, link: tuple[Any, ...] | None) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_JSON_INT:
        raise refuse(
            f"{name} field {_where(link) or '(top)'} holds the integer {short(value)}, beyond ±2**53: no count, "
            f"grade, size or time of a bundle is that large. Fix that field, or: {REEXPORT}"
        )


# A JSON string (its closing quote optional, so an unterminated one ends the scan instead of being tried again
# from every quote inside it: linear time).
_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"?', re.DOTALL)


def json_shape(data: bytes, *, max_containers: int, max_strings: int | None = None) -> tuple[int, int]:
    """(arrays and objects, strings of two or more characters) a JSON text holds, counted on its bytes before
    anything is parsed: what parsing would turn into Python objects (a shorter string is a shared object).

    Counts of every bracket and quote (no copy, C speed) that stay within the maxima are taken as they are; only
    beyond them is the text scanned for its strings, so brackets inside strings (code in a chunk's text) are left
    out, and the scan stops once the strings alone are too many."""
    containers = data.count(b"[") + data.count(b"{")
    strings = data.count(b'"') // 2 + 1  # at least what the strings are
    if containers <= max_containers and (max_strings is None or strings <= max_strings):
        return containers, strings
    strings = 0
    for m in _STRING.finditer(data):
        start, end = m.span()
        containers -= data.count(b"[", start, end) + data.count(b"{", start, end)
        if end - start > 3:
            strings += 1
            if max_strings is not None and strings > max_strings:
                break  # too many already: the bundle is refused for its strings
    return containers, strings


def check_shape(data: bytes, name: str, limits: BundleLimits) -> None:
    """Refuse, before parsing, a JSON member holding more arrays, objects or strings than its bytes can be: what
    parsing millions of ``[]`` or ``"ab"`` would cost in memory (ten times the member and more) is never spent."""
    corpus = name == "corpus.json"
    per = limits.corpus_bytes_per_container if corpus else limits.json_bytes_per_container
    per_string = limits.corpus_bytes_per_string if corpus else None
    max_containers = len(data) // per + 64  # and a few for a small member
    max_strings = len(data) // per_string + 64 if per_string else None
    containers, strings = json_shape(data, max_containers=max_containers, max_strings=max_strings)
    size = format_bytes(len(data))
    if max_strings is not None and strings > max_strings:
        raise refuse(
            f"{name} holds more than {max_strings:,} strings of two or more characters in {size}: a bundle's {name} "
            f"has at most one per {per_string} bytes, so it is padded or altered and is not parsed. {REEXPORT}"
        )
    if containers > max_containers:
        raise refuse(
            f"{name} opens {containers:,} arrays and objects in {size}: a bundle's {name} has at most one per {per} "
            f"bytes ({max_containers:,} here), so it is padded or altered and is not parsed. {REEXPORT}"
        )


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def parse_json(data: bytes, name: str, limits: BundleLimits) -> Any:
    """A member's JSON: UTF-8, no NaN/Infinity, no more arrays, objects and strings than its size allows
    (``check_shape``, counted before parsing), not nested too deeply (RecursionError is a refusal, as the upload
    reader in core.ingest does), no integer beyond ±2**53."""
    check_shape(data, name, limits)
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise refuse(
            f"{name} is nested too deeply to read (more than {limits.max_json_depth} levels is never a bundle). "
            f"{REEXPORT}"
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(f"{name} is not valid UTF-8 JSON ({exc}). {REEXPORT}") from None
    check_tree(value, name, limits)
    return value


# ---- settings ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Range:
    """An integer setting's accepted range (the app's widget's min and max)."""

    low: int
    high: int
    none_ok: bool = False  # null means "the model's default"


# Where each setting lands in the app and the range its widget accepts (tests/test_bundle_checks.py keeps these
# equal to the pages' number inputs).
SETTING_RANGES: dict[str, Range] = {
    "chunking.size": Range(32, 8192),  # corpus_size, pages/1_Corpus.py
    "chunking.overlap": Range(0, 2048),  # corpus_overlap
    "max_tokens.A": Range(0, 32768, none_ok=True),  # models_max_tokens_a, pages/2_Models.py
    "max_tokens.B": Range(0, 32768, none_ok=True),
    "index.M": Range(4, 96),  # models_hnsw_m
    "index.ef_construction": Range(16, 800),  # models_hnsw_efc
    "index.ef_search": Range(10, 1000),  # models_hnsw_ef
    "k": Range(1, 100),  # cmp_k, pages/3_Compare.py
}
CHUNK_UNITS = ("chars", "tokens")
_SECTIONS = ("chunking", "max_tokens", "index")


def _setting_error(field: str, value: object, accepted: str) -> Exception:
    return refuse(
        f"manifest.json settings.{field} is {short(value)}; this app accepts {accepted}. Export the bundle again "
        f"with {field} in that range, or remove settings.{field} from manifest.json."
    )


def check_settings(settings: object) -> dict[str, Any]:
    """The bundle's settings, each known one type- and range-checked (a refusal names the field and the range);
    unknown ones are dropped (they would not be applied)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise refuse(
            f"manifest.json settings is {type(settings).__name__}, not an object. Remove it from manifest.json "
            f"(the app's own settings are then kept), or: {REEXPORT}"
        )
    out: dict[str, Any] = {}
    for section in _SECTIONS:
        found = settings.get(section)
        if found is None:
            continue
        if not isinstance(found, dict):
            raise refuse(
                f"manifest.json settings.{section} is {type(found).__name__}, not an object. Remove settings.{section} "
                f"from manifest.json, or: {REEXPORT}"
            )
        out[section] = {}
    for field, rng in SETTING_RANGES.items():
        section, _, key = field.partition(".")
        holder = settings.get(section) if key else settings
        if not isinstance(holder, dict) or (key or section) not in holder:
            continue
        value = holder[key or section]
        if value is None and rng.none_ok:
            pass
        elif isinstance(value, bool) or not isinstance(value, int) or not rng.low <= value <= rng.high:
            accepted = f"an integer from {rng.low:,} to {rng.high:,}" + (" or null" if rng.none_ok else "")
            raise _setting_error(field, value, accepted)
        if key:
            out[section][key] = value
        else:
            out[section] = value
    chunking = settings.get("chunking")
    if isinstance(chunking, dict):
        unit = chunking.get("unit")
        if "unit" in chunking and unit not in CHUNK_UNITS:
            raise _setting_error("chunking.unit", unit, "'chars' or 'tokens'")
        if "unit" in chunking:
            out["chunking"]["unit"] = unit
        size, overlap = out["chunking"].get("size"), out["chunking"].get("overlap")
        if size is not None and overlap is not None and overlap >= size:
            raise _setting_error("chunking.overlap", overlap, f"an overlap smaller than the size ({size})")
    models = settings.get("models")
    # informational (the manifest's model entries are what is loaded); a folder path of the machine that made it
    # becomes 'local:<its last part>', as in the entries
    if isinstance(models, dict):
        out["models"] = {
            s: portable_name(v)
            for s, v in models.items()
            if s in ("A", "B") and isinstance(v, str) and len(v) <= 2000
        }
    return {k: v for k, v in out.items() if v != {}}


# ---- labels -----------------------------------------------------------------------------------------


def _int_in(value: object, low: int, high: int, where: str, what: str, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise refuse(
            f"labels.json {where} is {short(value)}; {what} is an integer from {low:,} to {high:,}"
            + (" (or null)" if none_ok else "")
            + ". Fix that field or export the bundle again."
        )


def _time(value: object, where: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= MAX_TIME
    ):
        raise refuse(
            f"labels.json {where} is {short(value)}; a time is unix seconds from 0 to {MAX_TIME:.0e}. Fix that "
            "field or export the bundle again."
        )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise refuse(
            f"labels.json {where} must be an object, not {type(value).__name__}. Fix that field, or: {REEXPORT}"
        )
    return value


def _check_qrels(found: object) -> None:
    qrels = _mapping(found, "qrels")
    queries = _mapping(qrels.get("queries"), "qrels.queries")
    judged = _mapping(qrels.get("qrels"), "qrels.qrels")
    for qid, text in queries.items():
        if not isinstance(text, str):
            where = _path("qrels.queries", qid)
            raise refuse(
                f"labels.json {where} must be the query's text, not {type(text).__name__}. Fix that field, or: "
                f"{REEXPORT}"
            )
    for qid, docs in judged.items():
        where = _path("qrels.qrels", qid)
        for doc, grade in _mapping(docs, where).items():
            _int_in(grade, -MAX_GRADE, MAX_GRADE, _path(where, doc), "a grade")


def _check_session_labels(found: object) -> None:
    for query, marks in _mapping(found, "session_labels").items():
        where = _path("session_labels", query)
        for chunk_id, label in _mapping(marks, where).items():
            _int_in(label, 0, 2, _path(where, chunk_id), "a Compare-page label")


def _check_dump(found: object) -> None:
    dump = _mapping(found, "judgments")
    for part in ("judgments", "votes"):
        rows = dump.get(part, [])
        if not isinstance(rows, list):
            raise refuse(
                f"labels.json judgments.{part} must be a list, not {type(rows).__name__}. Fix that field, or: "
                f"{REEXPORT}"
            )
        for i, row in enumerate(rows):
            where = f"judgments.{part}[{i}]"
            row = _mapping(row, where)
            if "time" in row:
                _time(row["time"], f"{where}.time")
            if part == "votes":
                _int_in(row.get("k"), 1, MAX_DEPTH_K, f"{where}.k", "a vote's k")
                continue
            _int_in(row.get("label"), -MAX_GRADE, MAX_GRADE, f"{where}.label", "a label", none_ok=True)
            _int_in(
                row.get("pool_depth"), 1, MAX_DEPTH_K, f"{where}.pool_depth", "a pool depth", none_ok=True
            )


def check_labels(labels: object) -> dict[str, Any]:
    """labels.json's three parts ('qrels', 'session_labels', 'judgments'), each checked for shape and ranges
    before anything is written (an out-of-range number is refused naming its field); other keys are dropped."""
    if not isinstance(labels, dict):
        raise refuse(f"labels.json must be an object, not {type(labels).__name__}. {REEXPORT}")
    checks = {"qrels": _check_qrels, "session_labels": _check_session_labels, "judgments": _check_dump}
    out: dict[str, Any] = {}
    for key, check in checks.items():
        if labels.get(key) is not None:
            check(labels[key])
            out[key] = labels[key]
    return out


# ---- vectors ----------------------------------------------------------------------------------------


CHECK_BLOCK_BYTES = 8 << 20  # bytes of the float32 rows checked at a time (5,461 rows of 384 dims)


def check_rows(arr: np.ndarray, name: str, *, block: int | None = None) -> None:
    """Every row finite and of unit length: every model here gives L2-normalised vectors (the Embedder
    contract), so a zero row, a row of 1e30 or an unnormalised row was not made by one of them.

    Read ``block`` rows at a time (by default ``CHECK_BLOCK_BYTES`` of them; ``arr`` may be a memory map of a
    file larger than memory): what a check holds is one block's finite mask and norms (summed in float64 without
    a float64 copy of the rows), never a copy of the whole array, and a memory map's rows are let go of once
    checked."""
    if block is None:
        block = max(1, CHECK_BLOCK_BYTES // max(1, int(arr.shape[-1]) * 4))
    zero_count = off_count = 0
    first_zero = first_off = -1
    off_norm = 0.0
    for start in range(0, int(arr.shape[0]), max(1, block)):
        part = np.asarray(arr[start : start + block])
        if not np.isfinite(part).all():
            raise refuse(f"{name} holds NaN or infinite values. {REEXPORT}")
        norms = np.sqrt(np.einsum("ij,ij->i", part, part, dtype=np.float64))
        zero = np.flatnonzero(norms == 0)
        if len(zero) and first_zero < 0:
            first_zero = start + int(zero[0])
        zero_count += len(zero)
        off = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE)
        if len(off) and first_off < 0:
            first_off, off_norm = start + int(off[0]), float(norms[off[0]])
        off_count += len(off)
        release_pages(arr)  # a memory map's rows checked so far need not stay resident
    if zero_count:
        raise refuse(
            f"{name} has {zero_count:,} zero vector(s) (first: row {first_zero}); an embedding is never all zeros. "
            "Export the bundle again from the machine that built it."
        )
    if off_count:
        raise refuse(
            f"{name} has {off_count:,} row(s) that are not unit length (row {first_off} has length {off_norm:.4g}); "
            "every model here gives normalised vectors, so these were not made by one. Export the bundle again."
        )


def json_bound(
    name: str, manifest_corpus: Mapping[str, Any], limits: BundleLimits, corpus_bytes: int = 0
) -> int:
    """The most bytes a JSON member may hold: corpus.json from the manifest's chunks (which ``core.bundle.read``
    holds to at most ``max_chunks_per_text`` per distinct text, and the texts to the vectors' size), labels.json
    from the size of corpus.json (``corpus_bytes``: its labels name its chunks and queries)."""
    if name == "labels.json":
        by_corpus = limits.labels_allowance + limits.labels_per_corpus_byte * max(corpus_bytes, 0)
        return min(limits.max_labels_bytes, by_corpus, limits.max_json_bytes)
    chunks = manifest_corpus.get("chunks")
    n = chunks if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0 else 1
    return min(64 * 1024 + n * limits.corpus_bytes_per_chunk, limits.max_json_bytes)
