"""``python -m core.cli report``: the decision report for one or two models on a corpus, as one HTML file.

Judgments come from ``--qrels FILE`` (with ``--queries FILE``), else from ``--judgments STORE`` (the Judge page's
store), else from the corpus itself when it is a judged folder (docs/ + queries.jsonl + qrels.tsv, such as
sample_corpus/) or a BEIR folder. The quality numbers are computed exactly as ``core.cli evaluate`` computes them.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from core.cli.common import (
    add_common,
    add_systems,
    build_one,
    build_systems,
    load_any_corpus,
    positive_int,
    run_command,
)
from core.cli.frontier import read_queries
from core.datasets import is_judged_folder, load_eval_set, read_qrels
from core.errors import DashboardError, IngestError
from core.evaluation import Qrels
from core.frontier import ScaleInputs
from core.judging import JudgmentStore
from core.report import ReportData, add_store_figures, build_report, gather, render_html, render_markdown
from core.store import EmbeddingStore
from core.types import Corpus


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``report`` subcommand."""
    p = subparsers.add_parser(
        "report",
        help="write the decision report (one self-contained HTML file, optional Markdown) for one or two models",
        description=__doc__.splitlines()[0],
    )
    p.add_argument(
        "--corpus", required=True, metavar="PATH", help="folder, file or .zip; a judged folder or BEIR folder"
    )
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME",
        help="preset, hub id, path or endpoint (twice)",
    )
    add_systems(p)
    p.add_argument("--queries", default=None, metavar="FILE", help="queries.jsonl or one query per line")
    p.add_argument(
        "--qrels", default=None, metavar="FILE", help="qrels (BEIR tsv or TREC) naming docs by path or id"
    )
    p.add_argument(
        "--judgments",
        default=None,
        metavar="STORE",
        help="judgment store (.sqlite file, or the store root folder)",
    )
    p.add_argument("--split", default=None, help="qrels split of a BEIR folder (default: test)")
    p.add_argument("--out", required=True, metavar="FILE", help="the HTML report to write")
    p.add_argument("--markdown", default=None, metavar="FILE", help="also write the report as Markdown")
    scale = ScaleInputs()
    p.add_argument("--target-chunks", type=positive_int, default=scale.chunks, help="cost at scale: chunks")
    p.add_argument("--qps", type=float, default=scale.qps, help="cost at scale: queries per second")
    p.add_argument("--replicas", type=positive_int, default=scale.replicas, help="cost at scale: replicas")
    p.add_argument("--M", dest="M", type=positive_int, default=16, help="HNSW graph degree")
    p.add_argument("--ef-construction", type=positive_int, default=200, help="HNSW build beam")
    add_common(p)
    return p


def _read_qrels(path: str) -> Qrels:
    p = Path(path).expanduser()
    if not p.is_file():
        raise IngestError(f"Qrels file {str(p)!r} does not exist: give a BEIR qrels .tsv or TREC qrels file.")
    with open(p, encoding="utf-8-sig") as fh:
        return read_qrels(fh, label=str(p)).qrels


def _store_judgments(path: str, corpus: Corpus) -> tuple[Any, dict[str, str], Qrels]:
    """(store, queries, qrels) from a judgment store file or root folder (core.judging.store)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(
            f"Judgment store {str(p)!r} does not exist: give the .sqlite file the Judge page wrote, or the store "
            "root folder that holds judgments/<corpus sha256>.sqlite."
        )
    store = JudgmentStore.for_corpus(corpus.sha256, root=p) if p.is_dir() else JudgmentStore(p, corpus.sha256)
    queries, qrels = store.qrels("human")  # people's labels; LLM grades are their own evidence
    return store, dict(queries), {q: dict(d) for q, d in qrels.items() if d}


def load_inputs(args: argparse.Namespace) -> tuple[Corpus, dict[str, str], Qrels | None, str, Any, list[str]]:
    """Corpus, queries, qrels, where they came from (in words), the judgment store, and reproduce commands."""
    path = Path(args.corpus).expanduser()
    eval_set = path.is_dir() and (is_judged_folder(path) or (path / "corpus.jsonl").is_file())
    queries: dict[str, str] = {}
    qrels: Qrels | None = None
    source = ""
    models = " ".join(f"--model {shlex.quote(m)}" for m in args.model)  # frontier: dense models only
    systems = " ".join([models, *(f"--system {shlex.quote(x)}" for x in args.system)])
    commands: list[str] = []
    if eval_set:
        data = load_eval_set(path, split=args.split)
        for w in data.warnings:
            print(f"warning: {w}", file=sys.stderr)
        corpus = data.corpus
        queries, qrels = dict(data.queries), dict(data.qrels)
        source = f"the judgments shipped with {path.name}, {data.split} split"
    else:
        corpus = load_any_corpus(path, store=args.store)
    if args.queries:
        queries = read_queries(args.queries)
        source = f"queries from {Path(args.queries).name}"
    if args.qrels:
        qrels = _read_qrels(args.qrels)
        source = f"qrels from {Path(args.qrels).name}"
        if not queries:
            raise IngestError(
                "--qrels needs the queries' text: give --queries FILE (queries.jsonl with _id, text)."
            )
        queries = {q: t for q, t in queries.items() if q in qrels}
    store = None
    if args.judgments:
        store, sq, sqrels = _store_judgments(args.judgments, corpus)
        if not args.qrels and sqrels:
            queries, qrels = {q: sq[q] for q in sqrels if q in sq}, sqrels
            source = f"the judgment store ({len(sqrels)} judged queries, pooled and imported over thumbs)"
    q = shlex.quote
    if eval_set and not args.qrels and not (store is not None and source.startswith("the judgment store")):
        commands.append(
            f"python -m core.cli evaluate --beir {q(str(path))} {systems} --exact --json evaluate.json"
            + (f" --split {q(args.split)}" if args.split else "")
        )
        if is_judged_folder(path):
            commands.append(
                f"python -m core.cli frontier --corpus {q(str(path / 'docs'))} {models} "
                f"--queries {q(str(path / 'queries.jsonl'))} --qrels {q(str(path / 'qrels.tsv'))} --json frontier.json"
            )
    elif args.queries:
        commands.append(
            f"python -m core.cli frontier --corpus {q(str(path))} {models} --queries {q(args.queries)}"
            + (f" --qrels {q(args.qrels)}" if args.qrels else "")
            + " --json frontier.json"
        )
    else:
        commands.append(f"python -m core.cli frontier --corpus {q(str(path))} {models} --json frontier.json")
    report = [f"python -m core.cli report --corpus {q(str(path))} {systems}"]
    for flag, value in (
        ("--queries", args.queries),
        ("--qrels", args.qrels),
        ("--judgments", args.judgments),
    ):
        if value:
            report.append(f"{flag} {q(value)}")
    report.append(f"--out {q(args.out)}")
    if args.markdown:
        report.append(f"--markdown {q(args.markdown)}")
    commands.append(" ".join(report))
    return corpus, queries, qrels or None, source, store, commands


def _unique(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        out.append(n if n not in out else f"{n} ({len(out) + 1})")
    return out


def build(args: argparse.Namespace) -> tuple[ReportData, str, str | None]:
    """Measure and render: (data, html, markdown or None)."""
    if len(args.model) > 2:
        raise DashboardError(f"Give one or two --model options, got {len(args.model)}.")
    corpus, queries, qrels, source, jstore, commands = load_inputs(args)
    store = EmbeddingStore(args.store)
    names = _unique(list(args.model))
    indexes = [build_one(corpus, raw, args, store, label=n) for raw, n in zip(args.model, names, strict=True)]
    print(
        "measuring: evaluation, disagreement, Matryoshka curve, frontier, latency ...",
        file=sys.stderr,
        flush=True,
    )
    scale = replace(ScaleInputs(), chunks=args.target_chunks, qps=args.qps, replicas=args.replicas)
    data = gather(
        corpus,
        indexes,
        corpus_label=str(args.corpus),
        queries=queries,
        qrels=qrels,
        query_source=source,
        names=names,
        scale=scale,
        commands=commands,
        systems=build_systems(
            corpus,
            args,
            store,
            specs=args.system,
            built=dict(zip(args.model, indexes, strict=True)),
        )
        if args.system
        else None,  # fmt: skip
        say=lambda line: print(f"  {line}", file=sys.stderr, flush=True),
    )
    add_store_figures(data, jstore)
    for m in data.models:  # the one throughput the cost section prices, and where it comes from
        if m.throughput is not None:
            print(f"  throughput {m.name}: {m.throughput.label()}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    report = build_report(data)
    page = render_html(report)
    print(
        f"  report written, charts rendered ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True
    )
    return data, page, render_markdown(report) if args.markdown else None


def run(args: argparse.Namespace) -> int:
    """Write the report (and the Markdown export); expected errors are reported by cli_common.run_command."""
    _, page, markdown = build(args)
    Path(args.out).write_text(page, encoding="utf-8")
    print(f"wrote {args.out} ({len(page.encode('utf-8')) / 1024:.0f} KiB)", file=sys.stderr)
    if args.markdown and markdown is not None:
        Path(args.markdown).write_text(markdown, encoding="utf-8")
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m core.cli.report ...``)."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.report")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
