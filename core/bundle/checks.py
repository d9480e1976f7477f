"""What a bundle says, checked before anything is used: JSON depth and numbers, settings ranges, labels, vectors.

Every refusal names the member and the field (``labels.json judgments.votes[0].k``), what it holds and what is
accepted, so the person who made the bundle can fix it or export it again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.bundle.base import BundleLimits, refuse

MAX_JSON_INT = 2**53  # JSON's exact integers: anything larger is no count, offset, grade or time of a bundle
UNIT_TOLERANCE = 1e-2  # |length - 1| of a stored vector (float16 models normalise to about 1e-3)
MAX_GRADE = 1000  # |grade| of an imported qrels judgment (TREC grades are small: -2 to 4)
MAX_DEPTH_K = 10_000  # a pool depth or a vote's k
MAX_TIME = 1e11  # unix seconds (the year 5138): a judgment's or a vote's time


def _short(value: object) -> str:
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


def check_tree(value: Any, name: str, limits: BundleLimits) -> None:
    """Refuse a parsed JSON value nested deeper than ``limits.max_json_depth`` or holding an integer beyond
    ±2**53, naming the field (iterative: a deep value cannot exhaust the stack here)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        node, where, depth = stack.pop()
        if isinstance(node, dict | list):
            if depth > limits.max_json_depth:
                raise refuse(
                    f"{name} is nested more than {limits.max_json_depth} levels deep (at {where or 'the top'}); "
                    "a bundle's JSON is a few levels deep. Export the bundle again with the app or `bundle export`."
                )
            items = node.items() if isinstance(node, dict) else enumerate(node)
            stack.extend((v, _path(where, k), depth + 1) for k, v in items)
        elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > MAX_JSON_INT:
            raise refuse(
                f"{name} field {where or '(top)'} holds the integer {_short(node)}, beyond ±2**53: no count, grade, "
                "size or time of a bundle is that large. Fix that field or export the bundle again."
            )


def _no_constant(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON number")


def parse_json(data: bytes, name: str, limits: BundleLimits) -> Any:
    """A member's JSON: UTF-8, no NaN/Infinity, not nested too deeply (RecursionError is a refusal, as the upload
    reader in core.ingest does), no integer beyond ±2**53."""
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_no_constant)
    except RecursionError:
        raise refuse(
            f"{name} is nested too deeply to read (more than {limits.max_json_depth} levels is never a bundle); "
            "export the bundle again with the app or `bundle export`."
        ) from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise refuse(f"{name} is not valid UTF-8 JSON ({exc}).") from None
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
        f"manifest.json settings.{field} is {_short(value)}; this app accepts {accepted}. Export the bundle again "
        f"with {field} in that range, or remove settings.{field} from manifest.json."
    )


def check_settings(settings: object) -> dict[str, Any]:
    """The bundle's settings, each known one type- and range-checked (a refusal names the field and the range);
    unknown ones are dropped (they would not be applied)."""
    if settings is None:
        return {}
    if not isinstance(settings, dict):
        raise refuse(f"manifest.json settings is {type(settings).__name__}, not an object.")
    out: dict[str, Any] = {}
    for section in _SECTIONS:
        found = settings.get(section)
        if found is None:
            continue
        if not isinstance(found, dict):
            raise refuse(f"manifest.json settings.{section} is {type(found).__name__}, not an object.")
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
    if isinstance(models, dict):  # informational (the manifest's model entries are what is loaded)
        out["models"] = {
            s: v for s, v in models.items() if s in ("A", "B") and isinstance(v, str) and len(v) <= 2000
        }
    return {k: v for k, v in out.items() if v != {}}


# ---- labels -----------------------------------------------------------------------------------------


def _int_in(value: object, low: int, high: int, where: str, what: str, *, none_ok: bool = False) -> None:
    if value is None and none_ok:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise refuse(
            f"labels.json {where} is {_short(value)}; {what} is an integer from {low:,} to {high:,}"
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
            f"labels.json {where} is {_short(value)}; a time is unix seconds from 0 to {MAX_TIME:.0e}. Fix that "
            "field or export the bundle again."
        )


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise refuse(f"labels.json {where} must be an object, not {type(value).__name__}.")
    return value


def _check_qrels(found: object) -> None:
    qrels = _mapping(found, "qrels")
    queries = _mapping(qrels.get("queries"), "qrels.queries")
    judged = _mapping(qrels.get("qrels"), "qrels.qrels")
    for qid, text in queries.items():
        if not isinstance(text, str):
            where = _path("qrels.queries", qid)
            raise refuse(f"labels.json {where} must be the query's text, not {type(text).__name__}.")
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
            raise refuse(f"labels.json judgments.{part} must be a list, not {type(rows).__name__}.")
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
        raise refuse(f"labels.json must be an object, not {type(labels).__name__}.")
    checks = {"qrels": _check_qrels, "session_labels": _check_session_labels, "judgments": _check_dump}
    out: dict[str, Any] = {}
    for key, check in checks.items():
        if labels.get(key) is not None:
            check(labels[key])
            out[key] = labels[key]
    return out


# ---- vectors ----------------------------------------------------------------------------------------


def check_rows(arr: np.ndarray, name: str) -> None:
    """Every row finite and of unit length: every model here gives L2-normalised vectors (the Embedder
    contract), so a zero row, a row of 1e30 or an unnormalised row was not made by one of them."""
    if not np.isfinite(arr).all():
        raise refuse(f"{name} holds NaN or infinite values; export the bundle again.")
    norms = np.linalg.norm(arr.astype(np.float64), axis=1)
    zero = np.flatnonzero(norms == 0)
    if len(zero):
        raise refuse(
            f"{name} has {len(zero):,} zero vector(s) (first: row {int(zero[0])}); an embedding is never all zeros. "
            "Export the bundle again from the machine that built it."
        )
    off = np.flatnonzero(np.abs(norms - 1.0) > UNIT_TOLERANCE)
    if len(off):
        first = int(off[0])
        raise refuse(
            f"{name} has {len(off):,} row(s) that are not unit length (row {first} has length {norms[first]:.4g}); "
            "every model here gives normalised vectors, so these were not made by one. Export the bundle again."
        )


def json_bound(name: str, manifest_corpus: Mapping[str, Any], limits: BundleLimits) -> int:
    """The most bytes a JSON member may hold, from what the manifest says (chunks) and the limits."""
    if name == "labels.json":
        return min(limits.max_labels_bytes, limits.max_json_bytes)
    chunks = manifest_corpus.get("chunks")
    n = chunks if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0 else 1
    return min(64 * 1024 + n * limits.corpus_bytes_per_chunk, limits.max_json_bytes)
