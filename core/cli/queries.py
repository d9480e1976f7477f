"""``python -m core.cli queries``: write test queries from a corpus with an LLM, with provenance and qrels.

A stratified sample of chunks (by file and language) is handed to the LLM (``--llm llm:bundled`` or
``llm:MODEL@URL[,URL...]``), one query per chunk, rotating types (keyword, question, paraphrase) and languages
(the chunk's own, or another of ``--languages``: cross-lingual probes). Answers pass stated filters; the kept
queries go to ``--out`` (BEIR-like JSONL with a ``provenance`` object per line) and their source-chunk qrels
(grade 2) to ``OUT.qrels.tsv`` beside it. The estimate comes first, progress on stderr, then the strata, the filter
counts, the language pairs and the bias note on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from core.cli.common import StderrProgress, add_data_corpus, load_data_corpus, positive_int
from core.errors import DashboardError
from core.llm import open_llm
from core.queries import (
    BIAS_NOTE,
    FILTER_RULES,
    PASSAGE_CHARS,
    PROMPT_VERSION,
    QRELS_RULE,
    QUERY_TYPES,
    TYPE_RULES,
    check_languages,
    estimate,
    generate_queries,
    same_family_warning,
    write_queries,
)
from core.text import display_name, format_duration

SHOW, SHOW_DROPPED = 10, 5  # kept queries and dropped answers printed as examples
TINY_NOTE = (
    "note: the bundled LLM is a tiny model for trying the workflow; read the queries and drop bad ones before "
    "trusting a verdict that rests on them."
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``queries`` subcommand."""
    p = subparsers.add_parser(
        "queries",
        help="write test queries from a corpus with an LLM (provenance + source-chunk qrels beside them)",
        description=__doc__.splitlines()[0],
    )
    add_data_corpus(p)
    p.add_argument("--llm", required=True, metavar="SPEC", help="llm:bundled, or llm:MODEL@URL[,URL...]")
    p.add_argument("-n", "--n", type=positive_int, default=50, help="chunks to ask about (default 50)")
    p.add_argument(
        "--languages",
        type=_languages,
        default=None,
        metavar="CODES",
        help="comma-separated query languages, e.g. zh,en (default: the corpus's languages)",
    )
    p.add_argument(
        "--types",
        type=_types,
        default=QUERY_TYPES,
        metavar="TYPES",
        help=f"comma-separated query types to rotate (default {','.join(QUERY_TYPES)})",
    )
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--qrels-level",
        choices=("chunk", "file"),
        default="chunk",
        help="qrels name the source chunk (default) or its file (for corpora judged per file)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="embedding models you will test (repeatable): warns when one is of the generator's family",
    )
    p.add_argument("--out", required=True, metavar="FILE", help="queries JSONL to write (qrels go beside it)")
    p.add_argument(
        "--store",
        default=None,
        help="store folder holding the converted bundled LLM and the answer cache (default: $RETRIEVAL_COMPARE_STORE "
        "or user cache)",
    )
    return p


def _languages(text: str) -> list[str]:
    langs = [part.strip() for part in text.split(",") if part.strip()]
    if not langs:
        raise argparse.ArgumentTypeError("name at least one language code, e.g. en or zh,en")
    return langs


def _types(text: str) -> tuple[str, ...]:
    types = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [t for t in types if t not in QUERY_TYPES]
    if bad or not types:
        raise argparse.ArgumentTypeError(f"unknown query type(s) {bad}: choose from {','.join(QUERY_TYPES)}")
    return types


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Estimate, generate, filter, write; print what was kept and why the rest was dropped."""
    out = Path(args.out).expanduser()
    if out.is_dir():
        raise DashboardError(f"--out {out} is a folder; give a file name such as queries.jsonl")
    try:
        check_languages(args.languages or [])  # before the LLM loads
    except ValueError as exc:
        raise DashboardError(str(exc)) from None
    corpus = load_data_corpus(args.corpus)
    _err(f"corpus {args.corpus}: {len(corpus.chunks)} chunks; loading {args.llm} ...")
    llm = open_llm(args.llm, root=Path(args.store).expanduser() if args.store else None)
    options = {"languages": args.languages, "types": args.types, "seed": args.seed}
    try:
        seconds = estimate(llm, corpus, args.n, **options)
    except ValueError as exc:
        raise DashboardError(str(exc)) from None
    _err(
        f"estimate: {args.n} prompts to {llm.name}, about {format_duration(seconds)} (an estimate; "
        f"answers cached by an earlier run cost nothing; passages cut at {PASSAGE_CHARS} characters)"
    )
    bar, started = StderrProgress("queries"), time.perf_counter()

    def progress(done: int, total: int) -> None:
        bar(done, total, done / max(time.perf_counter() - started, 1e-9))

    result = generate_queries(llm, corpus, args.n, progress=progress, **options)
    qrels_file = write_queries(out, result.queries, level=args.qrels_level)
    print(
        f"{len(result.queries)} of {result.asked} answers kept ({result.keep_rate:.0%}) in "
        f"{format_duration(result.seconds)} by {result.generator} (prompt {PROMPT_VERSION}, seed {args.seed})"
        + (" — cancelled, the queries written so far are kept" if result.cancelled else "")
    )
    print(f"wrote {out} and {qrels_file} ({args.qrels_level}-level qrels, provenance beside them)")
    for q in result.queries[:SHOW]:
        print(f"  [{q.provenance.pair} {q.provenance.type}] {display_name(q.text)}")
    if len(result.queries) > SHOW:
        print(f"  ... {len(result.queries) - SHOW} more in {out}")
    print("\nstrata:")
    for line in result.strata.lines():
        print("  " + line)
    print("\nfilters (a dropped answer counts under the first filter it fails):")
    for name, count in result.filter_counts().items():
        print(f"  {count:>4}  {name}: {FILTER_RULES[name]}")
    for d in result.dropped[:SHOW_DROPPED]:
        print(f"  dropped ({d.reason}, {d.query_lang} {d.type}): {display_name(d.text or d.raw)[:120]!r}")
    print(
        "\nkept by query language: "
        + ", ".join(f"{lang} {k} of {n}" for lang, (k, n) in result.kept_by_language().items())
    )
    print("language pairs (query -> source chunk) of the kept queries:")
    for pair, count in result.pair_counts().items():
        print(f"  {count:>4}  {pair}")
    print("types: " + ", ".join(f"{t} {c}" for t, c in result.type_counts().items()) + f" ({TYPE_RULES})")
    print(f"\nqrels: {QRELS_RULE}")
    print(BIAS_NOTE)
    warning = same_family_warning(result.family, args.model)
    if warning:
        print("warning: " + warning)
    if llm.host == "local":
        print(TINY_NOTE)
    return 0
