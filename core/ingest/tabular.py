"""Structured text files: BEIR corpus JSONL, other JSON (string values), CSV/TSV (one text column)."""

from __future__ import annotations

import csv
import io
import json

from core.errors import IngestError
from core.ingest.document import BeirDoc, Extracted, Section


def _is_beir(obj: object) -> bool:
    return isinstance(obj, dict) and "_id" in obj and ("text" in obj or "title" in obj)


def _beir_doc(obj: dict) -> BeirDoc:
    title = obj.get("title") or ""
    text = obj.get("text") or ""
    return BeirDoc(
        str(obj["_id"]),
        title if isinstance(title, str) else str(title),
        text if isinstance(text, str) else str(text),
    )


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
    records: list[tuple[object, str, int | None]], *, encoding: str, kind: str, notes: list[str]
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
    """JSON Lines: BEIR corpus documents when lines carry ``_id``, otherwise the string values per line."""
    docs: list[BeirDoc] = []
    records: list[tuple[object, str, int | None]] = []
    bad: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            bad.append(number)
            continue
        if _is_beir(obj):
            docs.append(_beir_doc(obj))
        else:
            strings: list[str] = []
            _strings(obj, strings)
            records.append((f"line {number}", "\n".join(strings), number))
    notes = []
    if bad:
        notes.append(f"{name}: {len(bad)} line(s) are not valid JSON and were skipped (first: line {bad[0]})")
    if docs:
        if records:
            notes.append(f"{name}: {len(records)} line(s) without '_id' ignored in a BEIR corpus file")
        return Extracted("", encoding, "beir", notes=notes, docs=docs)
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
    if isinstance(obj, list) and obj and all(_is_beir(o) for o in obj):
        return Extracted("", encoding, "beir", docs=[_beir_doc(o) for o in obj])
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
    records = [
        (f"row {n}", r[idx].strip(), line) for n, (line, r) in enumerate(rows, start=1) if idx < len(r)
    ]
    if not any(t for _, t, _ in records):
        raise IngestError(f"{name}: column {header[idx]!r} is empty in every row; choose another csv_column")
    return _records_text(records, encoding=encoding, kind="csv", notes=notes)
