"""The one reader of BEIR ``corpus.jsonl`` and ``queries.jsonl`` lines, used by uploads, Evaluate and the CLI.

A corpus line ``{"_id": ..., "title": ..., "text": ...}`` becomes a ``BeirDoc`` with the id as a string,
text cleaned of code points tokenizers reject (``core.text.clean``) and, without a title, stripped, so that
``(title + " " + text).strip()`` (MTEB) is exactly what a chunk embeds. The first document of a repeated
``_id`` is kept. A query line names its id by ``_id`` (or ``id``/``qid``/``query_id``) and its text by
``text`` (or ``query``); a query without text is left out and reported. Every finding is a note naming the
file; ``strict=True`` (evaluation data) raises on lines that are not JSON documents instead of skipping them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from core.errors import IngestError
from core.text import clean_text, cleaned_note, has_visible_text

QUERY_ID_KEYS = ("_id", "id", "qid", "query_id")
QUERY_TEXT_KEYS = ("text", "query")


@dataclass(frozen=True)
class BeirDoc:
    """One BEIR corpus document (never split: MTEB embeds whole documents)."""

    id: str
    title: str
    text: str


@dataclass
class JsonLines:
    """The JSON values of a JSON Lines file, with their 1-based line numbers, and the lines that were not JSON."""

    values: list[tuple[int, object]] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)


@dataclass
class CorpusFile:
    """The documents of a corpus.jsonl and what the reader noticed (notes name the file)."""

    docs: list[BeirDoc] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # repeated _ids (first kept)
    blank: list[str] = field(default_factory=list)  # ids of documents without visible title or text
    ignored: int = 0  # lines that are not BEIR documents (lenient mode)


@dataclass
class QueriesFile:
    """{query id: text} of a queries.jsonl, the ids left out for lack of text, and notes."""

    queries: dict[str, str] = field(default_factory=dict)
    no_text: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def json_lines(lines: Iterable[str], *, name: str, strict: bool) -> JsonLines:
    """Parse every non-blank line; a line that is not JSON raises (strict) or is listed in ``bad``."""
    out = JsonLines()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            out.values.append((lineno, json.loads(line)))
        except (ValueError, RecursionError) as exc:
            if strict:
                why = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
                raise IngestError(f"{name} line {lineno}: invalid JSON ({why}).") from exc
            out.bad.append(lineno)
    return out


def is_beir_doc(value: object) -> bool:
    """Whether a JSON value looks like a BEIR corpus document (an object with ``_id`` and a text or title)."""
    return isinstance(value, dict) and "_id" in value and ("text" in value or "title" in value)


def _string(value: object) -> str | None:
    """A JSON string field (missing/null = ""), or None when it holds another type."""
    if value is None:
        return ""
    return value if isinstance(value, str) else None


class _Problems:
    """Lines a reader cannot use: raised at once (strict) or counted for one note (lenient)."""

    def __init__(self, name: str, strict: bool) -> None:
        self.name, self.strict = name, strict
        self.lines: list[int] = []

    def add(self, lineno: int, why: str) -> None:
        if self.strict:
            raise IngestError(f"{self.name} line {lineno}: {why}.")
        self.lines.append(lineno)

    def note(self, what: str) -> list[str]:
        if not self.lines:
            return []
        return [f"{self.name}: {len(self.lines)} line(s) {what} skipped (first: line {self.lines[0]})"]


def corpus_docs(values: Iterable[tuple[int, object]], *, name: str, strict: bool) -> CorpusFile:
    """BEIR documents from parsed JSON lines (see the module docstring for the rules)."""
    out = CorpusFile()
    problems = _Problems(name, strict)
    seen: set[str] = set()
    replaced = 0
    for lineno, obj in values:
        if not isinstance(obj, dict) or "_id" not in obj:
            if strict:
                problems.add(lineno, "expected an object with '_id' and 'text'")
            out.ignored += 1
            continue
        did = str(obj["_id"]).strip()
        title, text = _string(obj.get("title")), _string(obj.get("text"))
        if not did:
            problems.add(lineno, "empty '_id'; every document needs an id")
            continue
        if title is None or text is None:
            key = "title" if title is None else "text"
            problems.add(lineno, f"{key!r} must be a string, got {type(obj.get(key)).__name__}")
            continue
        if did in seen:
            out.duplicates.append(did)
            continue
        seen.add(did)
        did, n_id = clean_text(did)
        title, n_title = clean_text(title)
        text, n_text = clean_text(text)
        replaced += n_id + n_title + n_text
        if not title:  # MTEB embeds (title + " " + text).strip(); without a title that is text.strip()
            text = text.strip()
        if not has_visible_text(title) and not has_visible_text(text):
            out.blank.append(did)
        out.docs.append(BeirDoc(did, title, text))
    out.notes.extend(problems.note("with an empty _id or a non-string title/text were"))
    if out.duplicates:
        out.notes.append(
            f"{name}: {len(out.duplicates)} document(s) repeat an _id of an earlier line and were dropped, "
            f"the first one kept (e.g. {out.duplicates[0]!r})"
        )
    if out.blank:
        out.notes.append(
            f"{name}: {len(out.blank)} document(s) have no visible text (e.g. {out.blank[0]!r}); they are kept, "
            "as MTEB keeps them, but rank only by chance"
        )
    if replaced:
        out.notes.append(cleaned_note(name, replaced))
    return out


def read_corpus_jsonl(lines: Iterable[str], *, name: str, strict: bool = True) -> CorpusFile:
    """Read a BEIR corpus.jsonl (lines of text) into documents and notes."""
    parsed = json_lines(lines, name=name, strict=strict)
    out = corpus_docs(parsed.values, name=name, strict=strict)
    if parsed.bad:
        out.notes.insert(
            0,
            f"{name}: {len(parsed.bad)} line(s) are not valid JSON and were skipped (first: line {parsed.bad[0]})",
        )
    return out


def read_queries_jsonl(lines: Iterable[str], *, name: str, strict: bool = True) -> QueriesFile:
    """Read a BEIR queries.jsonl into {id: text}; queries without visible text are left out and listed."""
    parsed = json_lines(lines, name=name, strict=strict)
    out = QueriesFile()
    problems = _Problems(name, strict)
    problems.lines.extend(parsed.bad)
    repeated: list[str] = []
    replaced = 0
    for lineno, obj in parsed.values:
        raw_id = next((obj[k] for k in QUERY_ID_KEYS if k in obj), None) if isinstance(obj, dict) else None
        if not isinstance(obj, dict) or raw_id is None or not str(raw_id).strip():
            problems.add(lineno, "expected an object with '_id' and 'text'")
            continue
        qid, n_id = clean_text(str(raw_id).strip())
        raw_text = next((obj[k] for k in QUERY_TEXT_KEYS if k in obj), None)
        text, n_text = clean_text(raw_text) if isinstance(raw_text, str) else ("", 0)
        replaced += n_id + n_text
        if qid in out.queries or qid in out.no_text:
            repeated.append(qid)
            continue
        if not has_visible_text(text):
            out.no_text.append(qid)
            continue
        out.queries[qid] = text
    out.notes.extend(problems.note("that are not JSON objects with an id were"))
    if out.no_text:
        out.notes.append(
            f"{name}: {len(out.no_text)} quer(ies) have no text and are skipped, not scored "
            f"(e.g. {out.no_text[0]!r})"
        )
    if repeated:
        out.notes.append(
            f"{name}: {len(repeated)} query id(s) repeat an earlier line; the first is kept (e.g. {repeated[0]!r})"
        )
    if replaced:
        out.notes.append(cleaned_note(name, replaced))
    return out
