"""``python -m core.cli judge``: grade the pooled top-k of every model and system with an LLM judge.

Each query of ``--queries`` (BEIR queries.jsonl, or one query a line) is searched with every ``--model`` and
``--system`` (exact search); the pool is the union of their top-k (core.judging.pool_queries: the Judge page's
pool). An LLM (``--llm llm:bundled`` or ``llm:MODEL@URL``) grades each pair on UMBRELA's 0-3 scale, mapped onto
0/1/2 (0 and 1 not relevant). The grades go into the corpus's judgment store (origin "llm"; a pair a person already
labelled is left to them unless ``--grade-judged``; a pair this judge graded before is reused) and into ``--out``:
BEIR qrels TSV (``query-id corpus-id score``, chunk ids) with a provenance file beside it (``OUT.provenance.json``)
that tells ``evaluate --qrels OUT`` these labels are an LLM's, so it prints their calibration against people's.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from core.cli.common import (
    StderrProgress,
    add_common,
    add_data_corpus,
    add_systems,
    build_systems,
    load_data_corpus,
    positive_int,
)
from core.cli.evaluate import provenance_path, read_queries_file
from core.datasets import format_beir_qrels
from core.errors import DashboardError, IngestError
from core.judging import (
    MAPPING_NOTE,
    PASSAGE_CHARS,
    PROMPT_VERSION,
    JudgmentStore,
    judge_pool,
    plan_judging,
    pool_queries,
)
from core.llm import BUNDLED_NOTE, open_llm
from core.store import EmbeddingStore
from core.types import Corpus, SearchParams

TINY_NOTE = (
    f"note: the bundled LLM is {BUNDLED_NOTE}; its calibration against people's labels (evaluate --qrels OUT) says "
    "how far it can be."
)


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``judge`` subcommand."""
    p = subparsers.add_parser(
        "judge",
        help="grade the pooled top-k of the models and systems with an LLM judge; write qrels",
        description=__doc__.splitlines()[0],
    )
    add_data_corpus(p)
    p.add_argument(
        "--queries", required=True, metavar="FILE", help="queries.jsonl (_id, text) or one query a line"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="preset, hub id, local folder or endpoint:URL",
    )
    add_systems(p)
    p.add_argument("--llm", required=True, metavar="SPEC", help="llm:bundled, or llm:MODEL@URL[,URL...]")
    p.add_argument(
        "-k", "--k", type=positive_int, default=10, help="pool depth: each system's top k (default 10)"
    )
    p.add_argument(
        "--out", required=True, metavar="FILE", help="qrels TSV of the LLM's grades (0/1/2) to write"
    )
    p.add_argument(
        "--judgments",
        default=None,
        metavar="STORE",
        help="judgment store (.sqlite file, or a store root folder; default: the corpus's store under --store)",
    )
    p.add_argument(
        "--grade-judged",
        action="store_true",
        help="also grade pairs a person already labelled (for the calibration; the person's label still wins)",
    )
    p.add_argument("--max-queries", type=positive_int, default=None, help="judge only the first N queries")
    add_common(p)
    return p


def open_store(path: str | None, corpus: Corpus, root: str | None) -> JudgmentStore:
    """The judgment store named by ``--judgments`` (file or root folder), else the corpus's under ``root``."""
    if path is None:
        return JudgmentStore.for_corpus(corpus.sha256, root=root)
    p = Path(path).expanduser()
    return JudgmentStore.for_corpus(corpus.sha256, root=p) if p.is_dir() else JudgmentStore(p, corpus.sha256)


def _rankings(systems: dict, texts: dict[str, str], k: int) -> dict[str, list[tuple[str, ...]]]:
    """{query id: [each system's top-k chunk ids]} by exact search (what evaluate scores)."""
    ids, queries = list(texts), list(texts.values())
    out: dict[str, list[tuple[str, ...]]] = {qid: [] for qid in ids}
    for name, system in systems.items():
        print(f"[{name}] searching {len(queries)} queries ...", file=sys.stderr, flush=True)
        for qid, res in zip(ids, system.search_many(queries, SearchParams(k=k, exact=True)), strict=True):
            out[qid].append(tuple(h.chunk_id for h in res.hits))
    return out


def run(args: argparse.Namespace) -> int:
    """Search, pool, estimate, grade, store and write the qrels; print the counts."""
    if not args.model and not args.system:
        raise DashboardError("Name at least one --model or --system whose top-k the LLM should judge.")
    texts = dict(read_queries_file(Path(args.queries)).queries)
    if args.max_queries:
        texts = dict(list(texts.items())[: args.max_queries])
    corpus = load_data_corpus(args.corpus)
    if not corpus.chunks:
        raise IngestError(f"{args.corpus}: no file with text to search, so there is nothing to judge.")
    print(
        f"corpus {args.corpus}: {len(corpus.chunks)} chunks; {len(texts)} queries",
        file=sys.stderr,
        flush=True,
    )
    store = EmbeddingStore(args.store)
    systems = build_systems(corpus, args, store, models=args.model, specs=args.system)
    pools = pool_queries(texts, _rankings(systems, texts, args.k), args.k)
    chunk_texts = {c.id: c.text for c in corpus.chunks}
    judgments = open_store(args.judgments, corpus, args.store)
    print(f"loading {args.llm} ...", file=sys.stderr, flush=True)
    llm = open_llm(args.llm, root=Path(args.store).expanduser() if args.store else None)
    plan = plan_judging(llm, judgments, texts, pools, chunk_texts, skip_human=not args.grade_judged)
    print(f"[{plan.rater}] {plan.sentence()}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    shown = StderrProgress(f"[{llm.name}] grading")

    def progress(done: int, total: int) -> None:
        shown(done, total, done / max(time.perf_counter() - t0, 1e-9))

    try:
        result = judge_pool(
            llm, judgments, texts, pools, chunk_texts, depth=args.k, progress=progress, plan=plan
        )
    except KeyboardInterrupt:
        print(
            f"interrupted: the pairs graded so far are kept in {judgments.path}; run the command again to go on "
            "(they are reused, not graded again)",
            file=sys.stderr,
        )
        return 130
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(format_beir_qrels(result.labels), encoding="utf-8")
    provenance = {
        "origin": "llm",
        "rater": result.rater,
        "llm": llm.name,
        "model": llm.model,
        "host": llm.host,
        "prompt_version": PROMPT_VERSION,
        "passage_chars": PASSAGE_CHARS,
        "mapping": MAPPING_NOTE,
        "k": args.k,
        "systems": list(systems),
        "queries": len(texts),
        "judged_queries": len(result.labels),
        "pairs": sum(len(d) for d in result.labels.values()),
        "no_grade": result.no_grade,
        "corpus": str(args.corpus),
        "corpus_sha256": corpus.sha256,
    }
    provenance_path(out).write_text(
        json.dumps(provenance, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    pairs = provenance["pairs"]
    rate = 60.0 * result.judged / result.seconds if result.judged and result.seconds > 0 else None
    print(
        f"pool: {len(texts)} queries x top {args.k} of {len(systems)} systems ({', '.join(systems)}) = "
        f"{plan.pairs} pairs"
    )
    print(result.sentence())
    if rate:
        print(f"rate: {rate:.1f} judgments/min (model loading excluded)")
    counts = [sum(1 for d in result.labels.values() for g in d.values() if g == label) for label in (0, 1, 2)]
    if result.grades:
        print("grades graded now (0-3): " + ", ".join(f"{g}: {n}" for g, n in result.grades.items()))
    print(f"labels (0/1/2): {counts[0]} / {counts[1]} / {counts[2]}; {MAPPING_NOTE}")
    for qid, cid, raw in result.no_grade_examples:
        print(f"  no grade: query {qid}, chunk {cid}: {raw!r}")
    print(f"wrote {out} ({pairs} judgments of {len(result.labels)} queries) and {provenance_path(out).name}")
    print(f"store: {judgments.path} (origin llm, rater {result.rater!r})")
    if llm.host == "local":
        print(TINY_NOTE)
    return 130 if result.cancelled else 0
