"""Structured text files: BEIR corpus JSONL, other JSON (string values), CSV/TSV (one text column)."""

from __future__ import annotations

import csv
import io
import json

from core.errors import IngestError
from core.ingest.document import EmptyText, Extracted, ExtractedKind, Section
from core.ingest.jsonl import corpus_docs, is_beir_doc, json_lines
from core.ingest.options import Limits

# A CSV cell may be as long as a file may be (Python's default limit, 128 KiB, refused whole files).
# The limit is process-wide; it only bounds what one field may hold.
csv.field_size_limit(Limits().max_file_bytes)


def _strings(obj: object, out: list[str], depth: int = 0) -> None:
    """All non-empty string values of a JSON value, in document order (keys are not text)."""
    if depth > 200:
        return
    if isinstance(obj, str):
        if obj.strip():
            out.append(obj.strip())
    elif isinstance(obj, dict):
        for value in obj.values():
            _strings(value, out, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            _strings(value, out, depth + 1)


def _records_text(
    records: list[tuple[object, str, int | None]], *, encoding: str, kind: ExtractedKind, notes: list[str]
) -> Extracted:
    """One section per record (label, strings joined by blank lines, source line)."""
    parts: list[str] = []
    sections: list[Section] = []
    pos = 0
    for label, record_text, line in records:
        if not record_text:
            continue
        if parts:
            parts.append("\n\n")
            pos += 2
        heading = (str(label),) if label not in (None, "") else ()
        sections.append(Section(pos, pos + len(record_text), heading, line=line))
        parts.append(record_text)
        pos += len(record_text)
    return Extracted("".join(parts), encoding, kind, sections, line_numbers=False, notes=notes)


def read_jsonl(text: str, *, name: str, encoding: str) -> Extracted:
    """JSON Lines: BEIR corpus documents when lines carry ``_id`` (``core.ingest.jsonl``), else string values per line."""
    # lines as a text file yields them (universal newlines, as core.datasets.beir reads corpus.jsonl): str.splitlines()
    # would also split at U+2028, U+0085 …, which JSON strings may hold unescaped
    parsed = json_lines(io.StringIO(text, newline=None), name=name, strict=False)
    bad = parsed.bad
    notes = []
    if bad:
        notes.append(f"{name}: {len(bad)} line(s) are not valid JSON and were skipped (first: line {bad[0]})")
    if any(is_beir_doc(obj) for _, obj in parsed.values):
        beir = corpus_docs(parsed.values, name=name, strict=False)
        if beir.ignored:
            notes.append(f"{name}: {beir.ignored} line(s) without '_id' ignored in a BEIR corpus file")
        return Extracted("", encoding, "beir", notes=notes + beir.notes, docs=beir.docs)
    records: list[tuple[object, str, int | None]] = []
    for number, obj in parsed.values:
        strings: list[str] = []
        _strings(obj, strings)
        records.append((f"line {number}", "\n".join(strings), number))
    if bad and not records:
        raise IngestError(
            f"{name}: no line is valid JSON (first bad line: {bad[0]}); check that it is JSON Lines"
        )
    return _records_text(records, encoding=encoding, kind="json", notes=notes)


def read_json(text: str, *, name: str, encoding: str) -> Extracted:
    """A JSON document: a list of BEIR docs, or the text of its string values (one section per item)."""
    try:
        obj = json.loads(text)
    except ValueError as exc:
        if "\n{" in text or text.lstrip().startswith("{") and "}\n{" in text.replace("\r", ""):
            return read_jsonl(text, name=name, encoding=encoding)
        raise IngestError(f"{name}: not valid JSON ({exc}); fix it or rename it to .txt") from exc
    except RecursionError as exc:
        raise IngestError(f"{name}: JSON nested too deeply to read; flatten it") from exc
    if isinstance(obj, list) and obj and all(is_beir_doc(o) for o in obj):
        beir = corpus_docs(enumerate(obj, start=1), name=name, strict=False)
        return Extracted("", encoding, "beir", notes=beir.notes, docs=beir.docs)
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, list) else [("", obj)]
    records: list[tuple[object, str, int | None]] = []
    for key, value in items:
        strings: list[str] = []
        _strings(value, strings)
        records.append((key, "\n".join(strings), None))
    return _records_text(records, encoding=encoding, kind="json", notes=[])


def read_csv(text: str, *, name: str, encoding: str, column: str | None, delimiter: str = ",") -> Extracted:
    """One section per row of the chosen text column (or the column with the longest text on average)."""
    if delimiter == ",":
        try:
            delimiter = csv.Sniffer().sniff(text[:20000], delimiters=",;\t|").delimiter
        except csv.Error:
            delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            raise IngestError(f"{name}: CSV has no header row; add one naming the columns")
        header = [h.strip().lstrip("\ufeff") for h in header]
        rows: list[tuple[int, list[str]]] = []
        line = reader.line_num + 1
        for row in reader:
            rows.append((line, row))
            line = reader.line_num + 1
    except csv.Error as exc:
        raise IngestError(
            f"{name}: malformed CSV near line {reader.line_num} ({exc}); fix or re-export it"
        ) from exc
    notes: list[str] = []
    if column is not None:
        if column not in header:
            raise IngestError(
                f"{name}: column {column!r} not found; columns are {header}; set ChunkOptions.csv_column to one of them"
            )
        idx = header.index(column)
    else:

        def avg_text(i: int) -> float:
            values = [r[i] for _, r in rows[:2000] if i < len(r) and r[i].strip()]
            texty = [v for v in values if not v.strip().replace(".", "").replace("-", "").isdigit()]
            return sum(len(v) for v in texty) / max(1, len(values))

        idx = max(range(len(header)), key=avg_text)
        notes.append(
            f"{name}: text column {header[idx]!r} picked automatically (longest text of {header}); "
            "set ChunkOptions.csv_column to choose another"
        )
    records: list[tuple[object, str, int | None]] = [
        (f"row {n}", r[idx].strip(), line) for n, (line, r) in enumerate(rows, start=1) if idx < len(r)
    ]
    if not any(t for _, t, _ in records):
        raise EmptyText(f"{name}: column {header[idx]!r} is empty in every row; choose another csv_column")
    return _records_text(records, encoding=encoding, kind="csv", notes=notes)
