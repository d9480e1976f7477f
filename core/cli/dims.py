"""``python -m core.cli dims``: how much of its own full-dimension top-k a model keeps at each dimension stop.

The same ``core.search.matryoshka.reduction_curve`` the Dimensions page calls: recall@k of exact search on the first
d dims (renormalised) against exact search at full dimension, once per reduction of the model (core.dims): a
Matryoshka-trained model's prefix cut, or post-hoc truncation and PCA rotation for any other model.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import numpy as np

from core.cli.common import add_corpus_model, build_one, dumps, load_any_corpus, positive_int
from core.dims import reduction_label
from core.search import pseudo_queries, reduction_curve
from core.store import EmbeddingStore


def add_parser(sub) -> argparse.ArgumentParser:
    """``dims``: recall@k at every dimension stop, for typed queries or chunks used as pseudo-queries."""
    p = sub.add_parser("dims", help="Matryoshka truncation: recall@k at each dimension vs full dimension")
    add_corpus_model(p, many=False)
    p.add_argument("-k", "--k", type=positive_int, default=10, help="depth of the compared top-k lists")
    p.add_argument(
        "--query", action="append", default=None, help="a query to use (repeat); default: pseudo-queries"
    )
    p.add_argument(
        "--pseudo",
        type=positive_int,
        default=200,
        help="chunks used as pseudo-queries when no --query is given",
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='print {"model", "k", "queries", "curves": [{"reduction", "label", "dims": [...]}], "dims": [...]} '
        "as JSON (dims: the first curve's rows)",
    )
    return p


def run(args: argparse.Namespace) -> int:
    """Print recall@k and exact-search time per query at each stop."""
    corpus = load_any_corpus(args.corpus, store=args.store)
    mi = build_one(corpus, args.model, args, EmbeddingStore(args.store))
    exclude: np.ndarray | None = None
    if args.query:
        queries = mi.embed_queries(args.query)
        kind = f"{len(args.query)} typed queries"
    else:
        exclude = pseudo_queries(len(corpus.chunks), n=args.pseudo)
        queries, kind = mi.vectors[exclude], f"{len(exclude)} chunks as pseudo-queries"
    dims = mi.offered_dims
    trained = bool(mi.spec.mrl_dims)
    curves: list[dict[str, Any]] = []
    for r in mi.reductions:
        curve = reduction_curve(mi, queries, reduction=r.id, dims=dims, k=args.k, exclude=exclude)
        rows = [
            {
                "dims": d,
                "reduction": r.id,
                "recall@k": round(curve.recall[d], 4),
                "exact_ms_per_query": round(curve.ms_per_query[d], 3),
                "bytes_per_vector": 4 * d,
            }
            for d in dims
        ]
        curves.append({"reduction": r.id, "label": reduction_label(r.id, trained=trained), "dims": rows})
    if args.json:
        report = {"model": mi.spec.name, "k": args.k, "queries": len(queries), "curves": curves}
        print(dumps({**report, "dims": curves[0]["dims"]}))
        return 0
    how = "Matryoshka-trained" if trained else "not trained for truncation"
    print(f"{mi.spec.name} ({how}), recall@{args.k} vs full {mi.dim} dims over {kind}:")
    print(f"{'dims':>6} {'reduction':<20} {'recall':>7} {'ms/query':>9} {'bytes':>7}")
    for c in curves:
        for row in c["dims"]:
            print(
                f"{row['dims']:>6} {c['label']:<20} {row['recall@k']:>7.3f} {row['exact_ms_per_query']:>9.3f} "
                f"{row['bytes_per_vector']:>7}"
            )
    sys.stdout.flush()
    return 0
