"""``python -m core.cli``: list models, build cached indexes, search a corpus (results on stdout, progress on stderr).

``evaluate``, ``frontier``, ``dims``, ``bundle`` and ``map`` live in their own modules (core/*_cli.py); what the commands
share is in core/cli/common.py.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from core.cli import bundle as bundle_cli
from core.cli import byo as qdrant_cli
from core.cli import dims as dims_cli
from core.cli import evaluate as evaluate_cli
from core.cli import frontier as frontier_cli
from core.cli import judge as judge_cli
from core.cli import map as map_cli
from core.cli import queries as queries_cli
from core.cli import report as report_cli
from core.cli.common import (
    add_corpus_model,
    build_one,
    build_systems,
    dumps,
    load_any_corpus,
    positive_int,
    run_command,
)
from core.errors import DashboardError
from core.models import PRESETS, availability
from core.store import EmbeddingStore
from core.text import display_name, format_bytes, format_count
from core.types import SearchParams

# ---- models ---------------------------------------------------------------------------------------


def add_models_parser(sub) -> argparse.ArgumentParser:
    """``models``: the presets and whether each can be loaded here."""
    p = sub.add_parser(
        "models", help="list model presets with dims, MRL, size, licence and availability here"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def run_models(args: argparse.Namespace) -> int:
    """Print the preset table."""
    rows: list[dict[str, Any]] = []
    for spec in PRESETS.values():
        mrl = f"{min(spec.mrl_dims)}..{max(spec.mrl_dims)}" if spec.mrl_dims else "no"
        rows.append(
            {
                "name": spec.name,
                "model_id": spec.model_id,
                "dims": spec.dim,
                "mrl": mrl,
                "params": spec.params,
                "licence": spec.licence,
                "availability": availability(spec),
            }
        )
    if args.json:
        print(dumps(rows))
        return 0
    header = f"{'model':<24} {'dims':>5}  {'MRL':<9} {'params':>7}  {'licence':<11} availability"
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['name']:<24} {r['dims']:>5}  {r['mrl']:<9} {format_count(r['params']):>7}  {r['licence']:<11} "
            f"{r['availability']}"
        )
    return 0


# ---- build / search -------------------------------------------------------------------------------


def add_build_parser(sub) -> argparse.ArgumentParser:
    """``build``: ingest, embed (cached) and index a corpus for one or more models."""
    p = sub.add_parser(
        "build",
        help="ingest a corpus, embed it (cached) and build one HNSW index per model (and any --system)",
    )
    add_corpus_model(p, many=True, systems=True)
    p.add_argument("--json", action="store_true", help="print a JSON report instead of text")
    return p


def run_build(args: argparse.Namespace) -> int:
    """Print per-file status, then per-model build statistics."""
    corpus = load_any_corpus(args.corpus, store=args.store)
    store = EmbeddingStore(args.store)
    files = [
        {"source": f.source, "status": f.status, "reason": f.reason, "chunks": f.chunks, "bytes": f.bytes}
        for f in corpus.files
    ]
    if not args.json:
        loaded = sum(f.status == "loaded" for f in corpus.files)
        print(
            f"corpus {args.corpus}: {loaded} of {len(corpus.files)} files loaded, {len(corpus.chunks)} chunks"
        )
        for f in corpus.files:
            detail = (
                f.reason
                if f.status != "loaded"
                else f"{f.chunks} chunks" + (f"; {f.reason}" if f.reason else "")
            )
            print(f"  {f.status:<9} {display_name(f.source)}  ({display_name(detail)})")
        sys.stdout.flush()
    models, built = [], {}
    for name in args.model:
        mi = build_one(corpus, name, args, store)
        built[name] = mi
        s = mi.stats
        if (
            s is None
        ):  # build_model_index always records them; a loaded index without them has nothing to print
            raise DashboardError(f"{name}: the build recorded no statistics")
        row = {
            "model": s.model,
            "kind": "dense",
            "chunks": s.chunks,
            "embedded": s.embedded,
            "cached": s.chunks - s.embedded,
            "model_calls": s.model_calls,
            "embed_seconds": round(s.embed_seconds, 3),
            "items_per_second": round(s.items_per_second, 1),
            "index_seconds": round(s.index_seconds, 3),
            "dims": s.dims,
            "index_bytes": s.index_bytes,
        }
        models.append(row)
        if not args.json:
            print(
                f"model {s.model}: {s.chunks} chunks ({s.embedded} embedded, {row['cached']} cached), "
                f"{s.embed_seconds:.1f} s, {s.items_per_second:.1f} items/s, {s.model_calls} model calls, "
                f"index {s.dims} dims {format_bytes(s.index_bytes)} in {s.index_seconds:.2f} s",
                flush=True,
            )
    if args.system:
        systems = build_systems(corpus, args, store, specs=args.system, built=built)
        for system in systems.values():
            row = {
                "model": system.name,
                "kind": system.kind,
                "chunks": len(corpus.chunks),
                "build_seconds": round(system.build_seconds, 3),
                "index_bytes": system.index_bytes,
            }
            models.append(row)
            if not args.json:
                print(
                    f"system {system.name} ({system.kind}): {len(corpus.chunks)} chunks, index "
                    f"{format_bytes(system.index_bytes)}, built in {system.build_seconds:.2f} s",
                    flush=True,
                )
    if args.json:
        print(
            dumps(
                {"corpus": str(args.corpus), "chunks": len(corpus.chunks), "files": files, "models": models}
            )
        )
    return 0


def add_search_parser(sub) -> argparse.ArgumentParser:
    """``search``: top-k passages of a corpus for one query."""
    p = sub.add_parser(
        "search", help="search a corpus with one model or system (builds or reuses its cached index)"
    )
    add_corpus_model(p, many=False, systems=True)
    p.add_argument("--query", required=True, help="the question or keywords")
    p.add_argument("-k", "--k", type=positive_int, default=10, help="number of results")
    p.add_argument("--dims", type=positive_int, default=None, help="Matryoshka dimension (default: full)")
    p.add_argument("--exact", action="store_true", help="exact numpy search instead of HNSW")
    p.add_argument(
        "--ef",
        type=positive_int,
        default=None,
        help="HNSW search beam (default: the index's ef_search, 128; always >= k)",
    )
    p.add_argument(
        "--instruction", default=None, help="task instruction for instruction-tuned models (Qwen3)"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print [{"rank", "score", "chunk_id", "source", "text"}, ...] instead of text',
    )
    return p


def run_search(args: argparse.Namespace) -> int:
    """Print the ranked hits of one query."""
    corpus = load_any_corpus(args.corpus, store=args.store)
    store = EmbeddingStore(args.store)
    params = SearchParams(
        k=args.k, dims=args.dims, exact=args.exact, ef=args.ef, instruction=args.instruction
    )
    if args.model:
        mi = build_one(corpus, args.model, args, store)
        result = mi.search(args.query, params)
        how = "exact" if result.exact else mi.backend.kind if mi.backend else "HNSW"
        head = f"{mi.spec.name} @ {result.dims} dims ({how}): query {result.embed_ms:.1f} ms, search {result.search_ms:.2f} ms"
    else:
        system = next(iter(build_systems(corpus, args, store, specs=[args.system]).values()))
        result = system.search_many([args.query], params)[0]
        stages = "".join(
            f", {k.removesuffix('_ms')} {v:.1f} ms" for k, v in result.extra.items() if k.endswith("_ms")
        )
        head = f"{system.name} ({system.kind}): query {result.embed_ms:.1f} ms, search {result.search_ms:.2f} ms{stages}"
    chunks = corpus.chunks
    if args.json:
        print(
            dumps(
                [
                    {
                        "rank": h.rank,
                        "score": round(h.score, 6),
                        "chunk_id": h.chunk_id,
                        "source": chunks[h.chunk_index].source,
                        "text": chunks[h.chunk_index].text,
                    }
                    for h in result.hits
                ]
            )
        )
        return 0
    print(head)
    if not result.hits:
        print(f"  no results{': ' + str(result.extra['note']) if result.extra.get('note') else ''}")
    for h in result.hits:
        c = chunks[h.chunk_index]
        where = display_name(f"{c.source} {c.location}".strip())
        snippet = " ".join(c.text.split())
        print(
            f"{h.rank:>3}. {h.score:.4f}  {where}\n     {snippet[:200]}{'...' if len(snippet) > 200 else ''}"
        )
    return 0


_LOCAL_COMMANDS = (
    (add_models_parser, run_models),
    (add_build_parser, run_build),
    (add_search_parser, run_search),
)


def build_parser() -> argparse.ArgumentParser:
    """The CLI parser with every registered subcommand."""
    parser = argparse.ArgumentParser(prog="python -m core.cli", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add, run in _LOCAL_COMMANDS:
        add(sub).set_defaults(func=run)
    evaluate_cli.add_parser(sub).set_defaults(func=evaluate_cli.run)
    judge_cli.add_parser(sub).set_defaults(func=judge_cli.run)
    queries_cli.add_parser(sub).set_defaults(func=queries_cli.run)
    frontier_cli.add_parser(sub).set_defaults(func=frontier_cli.run)
    dims_cli.add_parser(sub).set_defaults(func=dims_cli.run)
    report_cli.add_parser(sub).set_defaults(func=report_cli.run)
    bundle_cli.add_parser(sub).set_defaults(func=bundle_cli.run)
    qdrant_cli.add_parser(sub).set_defaults(func=qdrant_cli.run)
    map_cli.add_parser(sub).set_defaults(func=map_cli.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the chosen subcommand; expected errors print 'error: ...' and exit 2."""
    args = build_parser().parse_args(argv)
    return run_command(args.func, args)


if __name__ == "__main__":
    raise SystemExit(main())
