"""Generated queries on disk: a BEIR-like queries JSONL with provenance, and the source-chunk qrels TSV beside it."""

from __future__ import annotations

import json
from pathlib import Path

from core.errors import DashboardError
from core.judging import query_id
from core.queries.prompts import QUERY_TYPES
from core.queries.records import (
    BIAS_NOTE,
    PROVENANCE_FIELDS,
    QRELS_RULE,
    GeneratedQuery,
    Provenance,
    QrelsLevel,
    qrels_of,
)

PROVENANCE_SUFFIX = (
    ".provenance.json"  # beside the qrels, as core.cli judge writes it: {"origin": "generated", ...}
)


class QueryFileError(DashboardError):
    """A generated-queries file that cannot be read back: names the file, the line and the field."""


def qrels_path(path: str | Path) -> Path:
    """Where the qrels of ``queries.jsonl`` go: ``queries.qrels.tsv`` beside it."""
    p = Path(path)
    return p.with_name((p.stem if p.suffix == ".jsonl" else p.name) + ".qrels.tsv")


def write_queries(path: str | Path, queries: list[GeneratedQuery] | tuple[GeneratedQuery, ...], *,
                  level: QrelsLevel = "chunk") -> Path:  # fmt: skip
    """Write ``queries`` as JSONL, their qrels (``query-id\\tcorpus-id\\tscore``) beside it and the qrels' provenance
    (``QRELS.provenance.json``: origin "generated", generator, rule, bias); returns the qrels path."""
    p = Path(path)
    lines = [json.dumps(q.to_json(), ensure_ascii=False) for q in queries]
    p.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    out = qrels_path(p)
    rows = ["query-id\tcorpus-id\tscore"] + [
        f"{qid}\t{doc}\t{grade}"
        for qid, docs in qrels_of(queries, level=level).items()
        for doc, grade in docs.items()
    ]
    out.write_text("\n".join(rows) + "\n", encoding="utf-8")
    sources = sorted({(q.provenance.generator, q.provenance.model, q.provenance.host, q.provenance.prompt_version,
                       q.provenance.seed) for q in queries})  # fmt: skip
    about = {
        "origin": "generated",  # not people's labels: evaluate and the report keep this evidence apart
        "queries": p.name,
        "level": level,
        "generators": [
            dict(zip(("name", "model", "host", "prompt_version", "seed"), s, strict=True)) for s in sources
        ],
        "rule": QRELS_RULE,
        "bias": BIAS_NOTE,
    }
    provenance = out.with_name(out.name + PROVENANCE_SUFFIX)
    provenance.write_text(json.dumps(about, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return out


def _need_str(obj: dict, key: str, where: str, prefix: str = "") -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise QueryFileError(f"{where}: field {prefix + key!r} must be a non-empty string, got {value!r}.")
    return value


def _query(obj: object, where: str) -> GeneratedQuery:
    if not isinstance(obj, dict):
        raise QueryFileError(
            f"{where}: expected a JSON object with _id, text, lang, cross_lingual, provenance."
        )
    qid, text = _need_str(obj, "_id", where), _need_str(obj, "text", where)
    prov = obj.get("provenance")
    if not isinstance(prov, dict):
        raise QueryFileError(f"{where}: field 'provenance' must be an object with {list(PROVENANCE_FIELDS)}.")
    missing = [f for f in PROVENANCE_FIELDS if f not in prov]
    if missing:
        raise QueryFileError(f"{where}: field 'provenance' lacks {missing}; regenerate the file.")
    values: dict[str, object] = {}
    for f in PROVENANCE_FIELDS:
        if f == "seed":
            seed = prov["seed"]
            if not isinstance(seed, int) or isinstance(seed, bool):
                raise QueryFileError(
                    f"{where}: field 'provenance.seed' must be a whole number, got {seed!r}."
                )
            values[f] = seed
        else:
            values[f] = _need_str(prov, f, where, "provenance.")
    p = Provenance(**values)  # type: ignore[arg-type]
    if p.type not in QUERY_TYPES:
        raise QueryFileError(
            f"{where}: field 'provenance.type' is {p.type!r}; choose from {list(QUERY_TYPES)}."
        )
    if p.pair != f"{p.query_lang}->{p.source_lang}":
        raise QueryFileError(
            f"{where}: field 'provenance.pair' is {p.pair!r} but query_lang->source_lang is "
            f"{p.query_lang}->{p.source_lang}; fix one of them."
        )
    q = GeneratedQuery(id=qid, text=text, provenance=p)
    if obj.get("lang") != q.lang:
        raise QueryFileError(
            f"{where}: field 'lang' is {obj.get('lang')!r}, not provenance.query_lang {q.lang!r}."
        )
    if obj.get("cross_lingual") is not q.cross_lingual:
        raise QueryFileError(
            f"{where}: field 'cross_lingual' is {obj.get('cross_lingual')!r}; with {p.pair} it must be "
            f"{str(q.cross_lingual).lower()}."
        )
    if qid != query_id(text):
        raise QueryFileError(
            f"{where}: field '_id' {qid!r} is not the id of its text ({query_id(text)!r}, core.judging.query_id): "
            "an edited text needs its new id."
        )
    return q


def read_queries(path: str | Path) -> list[GeneratedQuery]:
    """Read a file ``write_queries`` wrote, checking every field; a bad line raises naming its number and field."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryFileError(
            f"Cannot read generated queries {str(p)!r}: {exc}. Give a UTF-8 .jsonl file."
        ) from None
    out: list[GeneratedQuery] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{p.name} line {lineno}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryFileError(f"{where}: not JSON ({exc.msg} at column {exc.colno}).") from None
        q = _query(obj, where)
        if q.id in seen:
            raise QueryFileError(
                f"{where}: field '_id' {q.id!r} repeats line {seen[q.id]}; keep one of them."
            )
        seen[q.id] = lineno
        out.append(q)
    return out
