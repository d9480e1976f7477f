"""Judgments in and out: graded TREC qrels (``qid 0 docid label``) and a CSV of judgments with rater and time.

- TREC qrels: ``format_trec_qrels`` writes one ``qid 0 docid grade`` line per judgment (ids with whitespace
  %-encoded, see ``core.datasets.beir.encode_trec_id``), the format trec_eval, ranx and this project's CLI read.
  ``parse_trec_qrels`` reads it back (and BEIR's 3-column tsv), naming the line of any error; a standard
  header row is skipped, any other non-judgment line is an error. Grades are integers as written (0, 1, 2,
  or higher grades of other collections); the same (qid, docid) twice with different grades is an error.
- Judgments CSV (``format_judgments_csv`` / ``parse_judgments_csv``): a header row and one row per judgment,
  columns ``CSV_COLUMNS``; ``label`` is empty for a skip, ``time`` is unix seconds (exact, for round trips)
  and ``time_utc`` the same instant in ISO 8601 for people. A cell that a spreadsheet would run as a formula
  (starting with ``= + - @``, tab or CR) is written with a leading ``'``, and so is a cell that starts with
  ``'``; the parser removes exactly one leading ``'``, so every text round-trips.
- Votes CSV (``format_votes_csv``): a header row and one row per blind A/B vote, columns ``VOTES_CSV_COLUMNS``
  (``outcome`` is the click translated to models: A, B, tie or both_bad); cells formula-safe as above.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone

from core.datasets.beir import _grade, read_qrels
from core.datasets.beir import format_trec_qrels as _format_trec_qrels
from core.errors import IngestError
from core.evaluation import Qrels
from core.judging import MAX_DEPTH_K, MAX_GRADE, ORIGINS, Judgment, Origin, Vote

CSV_COLUMNS = ("query_id", "query", "chunk_id", "label", "rater", "time_utc", "time", "pool_depth", "origin")
VOTES_CSV_COLUMNS = (
    "query_id", "query", "model_a", "model_b", "left", "winner", "outcome", "rater", "time_utc", "time", "k",
)  # fmt: skip
_REQUIRED = ("query_id", "chunk_id", "label", "rater")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def format_trec_qrels(qrels: Mapping[str, Mapping[str, int]]) -> str:
    """TREC qrels text ``qid 0 docid grade``, sorted by query and doc id (``core.datasets.beir.format_trec_qrels``)."""
    return _format_trec_qrels(qrels)


def parse_trec_qrels(text: str, source_name: str = "qrels") -> Qrels:
    """{qid: {docid: grade}} from TREC qrels (or BEIR tsv) text; IngestError names the file and line."""
    lines = text.splitlines()
    parsed = read_qrels(lines, label=source_name)
    if parsed.warnings:
        raise IngestError(
            f"{parsed.warnings[0]}. A TREC qrels line reads 'query-id 0 doc-id grade' with an integer grade."
        )
    seen: dict[tuple[str, str], tuple[int, int]] = {}
    for lineno, line in enumerate(lines, start=1):
        cols = line.split("\t") if "\t" in line else line.split()
        if len(cols) not in (3, 4) or parsed.notes and lineno == 1:
            continue
        qid, did = cols[0].strip(), cols[-2].strip()
        grade = _grade(cols[-1].strip())  # as read_qrels read it (and bounded there): int(float()) lost digits
        if grade is None:
            continue
        if (qid, did) in seen and seen[(qid, did)][0] != grade:
            first = seen[(qid, did)][1]
            raise IngestError(
                f"{source_name} line {lineno}: query {qid!r} and document {did!r} were already graded "
                f"{seen[(qid, did)][0]} on line {first}, now {grade}; keep one line per pair."
            )
        seen.setdefault((qid, did), (grade, lineno))
    if not parsed.qrels:
        raise IngestError(f"{source_name} holds no judgments; a line reads 'query-id 0 doc-id grade'.")
    return parsed.qrels


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") else text


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _csv(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def format_judgments_csv(judgments: Iterable[Judgment]) -> str:
    """CSV with a header row (``CSV_COLUMNS``), one row per judgment; label empty for a skip."""
    rows = []
    for j in judgments:
        when = (_utc(j.time), repr(float(j.time)))
        rows.append((j.query_id, j.query, j.chunk_id, j.label, j.rater, *when, j.pool_depth, j.origin))
    return _csv(CSV_COLUMNS, rows)


def format_votes_csv(votes: Iterable[Vote]) -> str:
    """CSV with a header row (``VOTES_CSV_COLUMNS``), one row per vote: both models, the left one, the click
    and its outcome, rater, time; cells a spreadsheet would run as formulas start with ``'``."""
    rows = []
    for v in votes:
        shown = (v.model_a, v.model_b, v.left, v.winner, v.outcome)
        rows.append((v.query_id, v.query, *shown, v.rater, _utc(v.time), repr(float(v.time)), v.k))
    return _csv(VOTES_CSV_COLUMNS, rows)


def _int_or_none(value: str, field: str, where: str) -> int | None:
    if not value.strip():
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or not number.is_integer():
        raise IngestError(f"{where}: {field} {value!r} is not a whole number.")
    return int(number)


def _time(row: dict[str, str], where: str) -> float:
    raw = row.get("time", "").strip()
    if raw:
        try:
            t = float(raw)
        except ValueError:
            t = math.nan
        if not math.isfinite(t):
            raise IngestError(f"{where}: time {raw!r} is not unix seconds.")
        return t
    utc = row.get("time_utc", "").strip()
    if utc:
        try:
            parsed = datetime.fromisoformat(utc.replace("Z", "+00:00"))
        except ValueError as exc:
            raise IngestError(f"{where}: time_utc {utc!r} is not an ISO 8601 time.") from exc
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    raise IngestError(f"{where}: give the judgment's time (column time or time_utc).")


def parse_judgments_csv(text: str, source_name: str = "judgments.csv") -> list[Judgment]:
    """Judgments from ``format_judgments_csv`` text. Columns query, time_utc, pool_depth and origin may be
    missing (query defaults to the query id, origin to "imported"); errors name the line and the fix."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise IngestError(
            f"{source_name}: the header row lacks {', '.join(missing)}; the columns are {', '.join(CSV_COLUMNS)}."
        )
    out: list[Judgment] = []
    for lineno, raw in enumerate(reader, start=2):
        where = f"{source_name} line {lineno}"
        if None in raw:
            raise IngestError(f"{where}: more cells than header columns; quote cells that hold commas.")
        row = {k.strip(): _uncell(v or "") for k, v in raw.items() if k is not None}
        if not any(v.strip() for v in row.values()):
            continue
        origin = row.get("origin", "").strip() or "imported"
        if origin not in ORIGINS:
            raise IngestError(f"{where}: origin {origin!r} is not one of {', '.join(ORIGINS)}.")
        for field in ("query_id", "chunk_id", "rater"):
            if not row.get(field, "").strip():
                raise IngestError(f"{where}: {field} is empty.")
        label = _int_or_none(row["label"], "label", where)
        if label is not None and abs(label) > MAX_GRADE:
            raise IngestError(
                f"{where}: label {row['label'].strip()[:40]!r} is out of range; an imported grade is an integer "
                f"from {-MAX_GRADE:,} to {MAX_GRADE:,}."
            )
        if origin != "imported" and label not in (None, 0, 1, 2):
            raise IngestError(f"{where}: label {label} is not 0, 1, 2 (or empty for a skip).")
        depth = _int_or_none(row.get("pool_depth", ""), "pool_depth", where)
        if depth is not None and not 1 <= depth <= MAX_DEPTH_K:
            raise IngestError(
                f"{where}: pool_depth {row['pool_depth'].strip()[:40]!r} must be an integer from 1 to "
                f"{MAX_DEPTH_K:,} (or empty)."
            )
        qid = row["query_id"].strip()
        out.append(
            Judgment(
                query_id=qid,
                query=row.get("query", "").strip() or qid,
                chunk_id=row["chunk_id"].strip(),
                label=label,
                rater=row["rater"].strip(),
                time=_time(row, where),
                pool_depth=depth,
                origin=cast_origin(origin),
            )
        )
    return out


def cast_origin(value: str) -> Origin:
    """A checked origin string as the Origin literal type."""
    if value == "pooled":
        return "pooled"
    if value == "thumbs":
        return "thumbs"
    return "imported"


def qrels_judgments(
    qrels: Qrels, queries: Mapping[str, str], *, rater: str, time: float
) -> list[Judgment]:
    """Imported judgments from qrels (origin "imported"); a query without text keeps its id as the text."""
    return [
        Judgment(q, queries.get(q, "") or q, d, int(g), rater, time, None, "imported")
        for q in sorted(qrels)
        for d, g in sorted(qrels[q].items())
    ]
