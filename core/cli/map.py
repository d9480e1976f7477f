"""``python -m core.cli map``: where on a corpus each of two models wins: a map of the corpus, regions, per-region wins.

Embeds the corpus with both models (the store keeps the vectors), lays each model's vectors out in 2-D, splits the
corpus into regions both models agree on, places the queries (``--queries``, or a judged folder's own
queries.jsonl) in regions, and prints one row per region: its label, chunks, queries, A wins, B wins, ties, and
the mean nDCG@10 difference A - B with its 95% bootstrap interval (judged queries only). ``--out`` writes the whole
map as JSON (both layouts, regions, per-region figures, query points, the chunks that moved most); the rules are
in core/corpus_map.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.common import StderrProgress, add_common, build_one, load_any_corpus, positive_int, run_command
from core.cli.evaluate import load_with_qrels, read_queries_file
from core.corpus_map import TIE_BAND, CorpusMap, build_map
from core.datasets import is_judged_folder, load_judged_folder
from core.errors import DashboardError
from core.evaluation import run_retrieval
from core.store import EmbeddingStore

DEPTH = 100  # chunks fetched per query: deep enough for 10 documents when files have several chunks


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``map`` subcommand."""
    p = subparsers.add_parser(
        "map",
        help="a map of the corpus coloured by where model A or model B wins (regions, per-region wins, JSON)",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--corpus", required=True, metavar="PATH",
                   help="folder, file or .zip; a judged folder (docs/, queries.jsonl, qrels.tsv) brings its queries and qrels")  # fmt: skip
    p.add_argument("--model", action="append", required=True, metavar="NAME",
                   help="preset, hub id, local folder or endpoint:URL; give exactly two (A, then B)")  # fmt: skip
    p.add_argument(
        "--queries", default=None, metavar="FILE", help="queries.jsonl, or plain text with one query a line"
    )
    p.add_argument(
        "--qrels",
        default=None,
        metavar="FILE",
        help="graded TREC qrels (qid 0 docid grade) or a BEIR qrels .tsv",
    )
    p.add_argument("--seed", type=int, default=0, help="layout, k-means and bootstrap seed (default 0)")
    p.add_argument("--regions", type=positive_int, default=None, metavar="K", help="number of regions (default: round(sqrt(chunks / 10)) within 2..10)")  # fmt: skip
    p.add_argument("--layout", choices=("auto", "umap", "pca"), default="auto",
                   help="auto: UMAP (fitted on a 20,000-chunk sample above that), PCA below 16 chunks")  # fmt: skip
    p.add_argument("--out", default=None, metavar="FILE", help="write the map as JSON")
    add_common(p)
    return p


def _data(args: argparse.Namespace):
    """(corpus, queries or None, qrels or None, warnings) from the options."""
    path = Path(args.corpus).expanduser()
    if args.qrels:
        data = load_with_qrels(str(path), args.qrels, args.queries)
        return data.corpus, data.queries, data.qrels, data.warnings
    if path.is_dir() and is_judged_folder(path) and not args.queries:
        data = load_judged_folder(path)
        return data.corpus, data.queries, data.qrels, data.warnings
    corpus = load_any_corpus(path)
    queries = read_queries_file(Path(args.queries)).queries if args.queries else None
    return corpus, queries, None, ()


def _num(v: float | None, fmt: str = "+.3f") -> str:
    return "–" if v is None else format(v, fmt)


def format_table(cmap: CorpusMap) -> str:
    """The per-region table the command prints."""
    rows = cmap.table()
    width = min(48, max(12, *(len(r["label"]) for r in rows))) + 2
    head = f"{'region':<{width}}{'chunks':>7}{'queries':>8}{'A wins':>7}{'B wins':>7}{'ties':>6}  mean diff [95% CI]"
    lines = [f"A = {cmap.model_a}, B = {cmap.model_b}; diff = nDCG@10 A - B over judged queries, tie within ±{TIE_BAND}",
             head, "-" * len(head)]  # fmt: skip
    for r in rows:
        label = r["label"] if len(r["label"]) <= width - 2 else r["label"][: width - 3] + "…"
        ci = "" if r["ci_low"] is None else f" [{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]"
        judged = f" ({r['judged']} judged)" if r["judged"] != r["queries"] else ""
        lines.append(
            f"{label:<{width}}{r['chunks']:>7}{r['queries']:>8}{r['wins_a']:>7}{r['wins_b']:>7}{r['ties']:>6}"
            f"  {_num(r['mean_diff'])}{ci}{judged}"
        )
    lines.append(f"layout A: {cmap.layout_a.method} ({cmap.layout_a.seconds:.1f} s); "
                 f"layout B: {cmap.layout_b.method} ({cmap.layout_b.seconds:.1f} s)")  # fmt: skip
    if cmap.moved:
        shown = ", ".join(f"{c} ({j:.2f})" for c, j in cmap.moved[:5])
        lines.append(f"moved most (10-NN Jaccard, {'exact' if cmap.moved_exact else 'hnswlib'}): {shown}")
    return "\n".join(lines)


def make_map(args: argparse.Namespace) -> CorpusMap:
    """Do the work of ``run`` and return the map (raises DashboardError on bad input)."""
    if len(args.model) != 2:
        raise DashboardError(
            f"map compares two models: give --model exactly twice (A, then B), got {len(args.model)}."
        )
    corpus, queries, qrels, warnings = _data(args)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    store = EmbeddingStore(args.store)
    built, runs = [], []
    for side, name in zip("AB", args.model, strict=True):
        mi = build_one(corpus, name, args, store, label=f"{side}: {name}")
        built.append(mi)
        if queries:
            runs.append(
                run_retrieval(
                    mi, queries, k=DEPTH, doc_id="id", progress=StderrProgress(f"[{side}] searching")
                )
            )
    print(f"laying out {len(corpus.chunks)} chunks ...", file=sys.stderr, flush=True)
    return build_map(
        corpus, built[0].vectors, built[1].vectors,
        model_a=built[0].name, model_b=built[1].name,
        runs_a=runs[0] if runs else None, runs_b=runs[1] if runs else None,
        qrels=qrels, queries=queries, seed=args.seed, store=store, k=args.regions, method=args.layout,
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the per-region table and write the JSON."""
    cmap = make_map(args)
    print(format_table(cmap))
    for note in cmap.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        out = Path(args.out).expanduser()
        try:
            out.write_text(cmap.to_json(), encoding="utf-8")
        except OSError as exc:
            raise DashboardError(
                f"Cannot write the map to {out}: {exc.strerror or exc}; choose another --out."
            ) from exc
        print(f"wrote {out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m core.cli.map ...`` (the same as ``python -m core.cli map ...``)."""
    parser = argparse.ArgumentParser(prog="python -m core.cli map")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run_command(run, parser.parse_args(["map", *(argv or [])]))
