"""``python -m core.cli frontier``: recall, bytes and latency of every dimension x precision x index per model.

Prints one table per model (and the equal-budget readout for two models) on stdout, progress on stderr, and
optionally writes ``{"k", "queries", "models": {name: [{"dims", "precision", "index", "bytes_per_vector",
"recall@k", "ndcg@10", "p50_ms", "p95_ms", ...}]}}``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from core.cli.common import (
    StderrProgress,
    add_common,
    build_one,
    dumps,
    load_any_corpus,
    positive_int,
    run_command,
)
from core.datasets import read_qrels
from core.errors import DashboardError, IngestError
from core.evaluation import choose_doc_key, doc_key
from core.frontier import (
    Judged,
    ScaleInputs,
    Sweep,
    binary_collapse_warning,
    embedding,
    equal_budget,
    sweep_index,
    to_json,
)
from core.ingest import read_queries_jsonl
from core.judging import JudgmentStore
from core.models import Throughput, current_throughput
from core.search import pseudo_queries
from core.store import EmbeddingStore
from core.types import Corpus


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``frontier`` subcommand."""
    p = subparsers.add_parser(
        "frontier",
        help="recall@k, bytes/vector and p50/p95 latency of every dims x precision x index configuration",
        description=__doc__.splitlines()[0],
    )
    p.add_argument("--corpus", required=True, metavar="PATH", help="folder, file or .zip")
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME",
        help="preset, hub id or path (repeat for two)",
    )
    p.add_argument("-k", "--k", type=positive_int, default=10, help="recall@k (default 10)")
    p.add_argument(
        "--queries",
        default=None,
        metavar="FILE",
        help="queries.jsonl (_id, text) or one query per line; default: chunks as pseudo-queries",
    )
    p.add_argument(
        "--qrels", default=None, metavar="FILE", help="BEIR qrels tsv for nDCG@10 (with --queries .jsonl)"
    )
    p.add_argument(
        "--from-store",
        action="store_true",
        help="queries and judgments from the corpus's judgment store (the Judge page's: pooled and imported "
        "labels over thumbs) for nDCG@10",
    )
    p.add_argument(
        "--pseudo", type=positive_int, default=200, help="pseudo-queries when no --queries (default 200)"
    )
    p.add_argument(
        "--latency-queries", type=positive_int, default=20, help="single queries timed per configuration"
    )
    p.add_argument("--rescore-multiplier", type=positive_int, default=4, help="binary shortlist = this x k")
    p.add_argument("--no-hnsw", dest="hnsw", action="store_false", help="flat configurations only")
    p.add_argument("--M", dest="M", type=positive_int, default=16, help="HNSW graph degree")
    p.add_argument("--ef-construction", type=positive_int, default=200, help="HNSW build beam")
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write the sweep as JSON")
    add_common(p)
    return p


def read_queries(path: str) -> dict[str, str]:
    """{id: text} from a queries.jsonl, or from a text file with one query per line (ids q1, q2, ...)."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise IngestError(f"Queries file {str(p)!r} does not exist: give a queries.jsonl or a text file.")
    with open(p, encoding="utf-8-sig") as fh:
        if p.suffix.lower() in (".jsonl", ".json"):
            return read_queries_jsonl(fh, name=str(p)).queries
        lines = [line.strip() for line in fh if line.strip()]
    if not lines:
        raise IngestError(f"Queries file {str(p)!r} holds no query: write one query per line.")
    return {f"q{i + 1}": t for i, t in enumerate(lines)}


def judged_for(corpus: Corpus, qids: list[str], qrels: Mapping[str, Mapping[str, int]]) -> Judged:
    """Judgments aligned with the query ids; qrels name chunk ids or file paths (whichever matches better)."""
    key = doc_key(choose_doc_key(corpus, {q: dict(d) for q, d in qrels.items()}))
    return Judged(doc_ids=[key(c) for c in corpus.chunks], qrels=[qrels.get(q) for q in qids])


def _judged(corpus: Corpus, qids: list[str], qrels_path: str | None) -> Judged | None:
    if qrels_path is None:
        return None
    with open(Path(qrels_path).expanduser(), encoding="utf-8-sig") as fh:
        qrels = read_qrels(fh, label=qrels_path).qrels
    return judged_for(corpus, qids, qrels)


def store_queries(corpus: Corpus, root: str | None) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Judged queries and qrels of the corpus's judgment store (people's labels), or a DashboardError naming the fix."""
    queries, qrels = JudgmentStore.for_corpus(corpus.sha256, root=root).qrels("human")
    qrels = {q: dict(d) for q, d in qrels.items() if d and q in queries}
    if not qrels:
        raise DashboardError(
            f"The judgment store of corpus {corpus.name or corpus.sha256[:12]} holds no judgments: judge some "
            "results on the Judge page (or import qrels there), or give --queries and --qrels."
        )
    return {q: queries[q] for q in qrels}, qrels


def format_table(s: Sweep) -> str:
    """One model's rows as a text table (Pareto-optimal rows starred)."""
    head = (
        f"{'dims':>5} {'reduction':<20}{'precision':<15}{'index':<6}{'B/vector':>9}{'recall@k':>9}{'nDCG@10':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}"
    )
    lines = [
        f"{s.model}: {s.queries} queries, recall@{s.k} vs its own {s.full_dim}-dim float32 exact top-k",
        head,
    ]
    for r in s.rows:
        nd = "-" if r.ndcg10 is None else f"{r.ndcg10:.4f}"
        lines.append(
            f"{r.dims:>5} {s.reduction_label(r):<20}{r.precision:<15}{r.index:<6}{r.bytes_per_element:>9.0f}"
            f"{r.recall:>9.4f}{nd:>8}{r.p50_ms:>9.3f}{r.p95_ms:>9.3f}" + ("  *" if r.pareto else "")
        )
    lines.append("* Pareto-optimal (no configuration is smaller and at least as good)")
    warning = binary_collapse_warning(s)
    if warning:
        lines.append(f"warning: {warning}")
    lines += [f"note: {n}" for n in s.notes]
    return "\n".join(lines)


def run_frontier(args: argparse.Namespace) -> list[Sweep]:
    """Build (or load) each model's vectors and sweep it; raises DashboardError on bad input. Each model's one
    throughput here (core.models.current_throughput) is kept in ``args.throughputs`` for the cost lines."""
    if len(args.model) > 2:
        raise DashboardError(f"Give one or two --model options, got {len(args.model)}.")
    corpus = load_any_corpus(args.corpus, store=args.store)
    store = EmbeddingStore(args.store)
    if args.from_store and (args.queries or args.qrels):
        raise DashboardError("Give either --from-store or --queries/--qrels, not both.")
    store_qrels: dict[str, dict[str, int]] | None = None
    texts: dict[str, str] | None = None
    if args.from_store:
        texts, store_qrels = store_queries(corpus, args.store)
    else:
        texts = read_queries(args.queries) if args.queries else None
    sweeps = []
    args.throughputs = []
    for name in args.model:
        mi = build_one(corpus, name, args, store)
        args.throughputs.append(
            current_throughput(mi.embedder, store, [c.embed_text for c in corpus.chunks[:64]])
        )
        exclude = None
        if texts is None:
            rows = pseudo_queries(len(corpus.chunks), n=args.pseudo)
            qvecs, exclude, judged = mi.vectors[rows], rows, None
        else:
            qvecs = mi.embed_queries(list(texts.values()))
            judged = (
                judged_for(corpus, list(texts), store_qrels)
                if store_qrels is not None
                else _judged(corpus, list(texts), args.qrels)
            )
        if exclude is not None and len(corpus.chunks) < 2:
            raise DashboardError("Pseudo-queries need at least 2 chunks; give --queries instead.")
        sweeps.append(
            sweep_index(
                mi,
                qvecs,
                k=args.k,
                hnsw=args.hnsw,
                exclude=exclude,
                judged=judged,
                latency_queries=args.latency_queries,
                rescore_multiplier=args.rescore_multiplier,
                progress=StderrProgress(f"{mi.spec.name} sweep"),
            )
        )
    return sweeps


def run(args: argparse.Namespace) -> int:
    """Print (and write) the sweep; expected errors are reported by cli_common.run_command."""
    sweeps = run_frontier(args)
    for s in sweeps:
        print(format_table(s))
        print()
    if len(sweeps) == 2:
        a, b = sweeps
        judged = any(r.ndcg10 is not None for s in sweeps for r in s.rows)
        for metric in ("recall", "ndcg@10") if judged else ("recall",):
            print(f"equal budget ({'nDCG@10' if metric == 'ndcg@10' else 'recall@k'}):")
            print("  " + equal_budget(a, b, metric=metric).sentence)
            print("  " + equal_budget(b, a, metric=metric).sentence)
    throughputs: list[Throughput] = getattr(args, "throughputs", [])
    scale = ScaleInputs()
    if throughputs:
        print(f"embedding cost at {scale.chunks:,} chunks (one pass at default prices):")
        for tp in throughputs:
            print("  " + embedding(tp, scale).sentence())
    if args.json_out:
        out = to_json(sweeps)
        out["throughput"] = {tp.model: tp.to_json() for tp in throughputs}
        out["warnings"] = {s.model: w for s in sweeps if (w := binary_collapse_warning(s))}
        Path(args.json_out).write_text(dumps(out) + "\n", encoding="utf-8")
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m core.cli.frontier ...``)."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.frontier")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
