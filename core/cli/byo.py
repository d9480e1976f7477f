"""``python -m core.cli byo``: compare a candidate model against an existing Qdrant collection (production).

The collection is model B's index as it is (its named vector, its payload text); queries for it are embedded
with the model that embedded the collection (``--model``); ``--against`` builds the candidate in process over
the collection's texts. Prints each query's top-k from both and overlap@k (Jaccard), or JSON.
"""

from __future__ import annotations

import argparse
import sys

from core.cli.common import add_common, build_one, dumps, endpoint_notes, positive_int
from core.cli.frontier import read_queries
from core.errors import DashboardError
from core.models import load_embedder, resolve_model
from core.search import ByoCollection, QdrantTarget, byo_model_index, jaccard_at_k
from core.store import EmbeddingStore
from core.types import SearchParams


def add_parser(sub) -> argparse.ArgumentParser:
    """``byo``: an existing collection (named vector + payload text) against an in-process candidate."""
    p = sub.add_parser("byo", help="compare a model against an existing Qdrant collection (no re-embedding)")
    p.add_argument("--model", required=True, metavar="NAME",
                   help="the model that embedded the collection (embeds the queries; its dimension must match)")  # fmt: skip
    p.add_argument(
        "--against", default=None, metavar="NAME", help="candidate model, built in process over the texts"
    )
    p.add_argument(
        "--qdrant-vector", default="", metavar="NAME", help="named vector of the collection ('' = unnamed)"
    )
    p.add_argument(
        "--qdrant-text-field", default="text", metavar="FIELD", help="payload field with the passage text"
    )
    p.add_argument("--qdrant-id-field", default="chunk_id", metavar="FIELD",
                   help="payload field with the document id (missing = the point id)")  # fmt: skip
    q = p.add_mutually_exclusive_group(required=True)
    q.add_argument("--query", action="append", help="a query (repeat for several)")
    q.add_argument("--queries", metavar="FILE", help="queries.jsonl or one query a line")
    p.add_argument("-k", "--k", type=positive_int, default=10, help="results per query")
    p.add_argument("--json", action="store_true", help="print JSON")
    add_common(p)  # --qdrant-url / --qdrant-path / --qdrant-collection come from here
    return p


def run(args: argparse.Namespace) -> int:
    """Search the collection (and the candidate) for every query; print hits and overlap@k."""
    if not args.qdrant_collection or not (args.qdrant_url or args.qdrant_path):
        raise DashboardError("byo needs --qdrant-collection NAME and --qdrant-url URL or --qdrant-path DIR")
    target = QdrantTarget(url=args.qdrant_url or "", path=args.qdrant_path or "")
    byo = ByoCollection(target, args.qdrant_collection, vector=args.qdrant_vector,
                        text_field=args.qdrant_text_field, id_field=args.qdrant_id_field)  # fmt: skip
    spec = resolve_model(args.model)
    embedder = load_embedder(spec, device=args.device, max_tokens=args.max_tokens, timeout=args.timeout,
                             on_note=endpoint_notes(spec.name))  # fmt: skip
    store = EmbeddingStore(args.store)
    b = byo_model_index(byo, embedder, store=store)
    print(
        f"collection {args.qdrant_collection}: {len(b.corpus.chunks)} points, {b.dim} dims", file=sys.stderr
    )
    notes = [f.reason for f in b.corpus.files if f.reason]  # points left out (zero vectors), cleaned texts
    for note in notes:
        print(f"  note: {note}", file=sys.stderr)
    a = None
    if args.against:
        local = argparse.Namespace(
            **{**vars(args), "index": "hnswlib", "qdrant_url": None, "qdrant_path": None}
        )
        a = build_one(b.corpus, args.against, local, store)
    queries = list(args.query or read_queries(args.queries).values())
    rows = []
    for text in queries:
        hb = [h.chunk_id for h in b.search(text, SearchParams(k=args.k)).hits]
        row: dict = {"query": text, "collection": hb}
        if a is not None:
            ha = [h.chunk_id for h in a.search(text, SearchParams(k=args.k)).hits]
            row |= {"candidate": ha, "overlap": round(jaccard_at_k(ha, hb, k=args.k), 4)}
        rows.append(row)
    mean = sum(r["overlap"] for r in rows) / len(rows) if a is not None and rows else None
    if args.json:
        print(dumps({"collection": args.qdrant_collection, "model": spec.name, "against": args.against,
                     "k": args.k, "mean_overlap": mean, "notes": notes, "queries": rows}))  # fmt: skip
        return 0
    for r in rows:
        print(f"{r['query']}\n  collection: {', '.join(r['collection'])}")
        if a is not None:
            print(f"  candidate:  {', '.join(r['candidate'])}\n  overlap@{args.k}: {r['overlap']:.2f}")
    if mean is not None:
        print(f"mean overlap@{args.k} over {len(rows)} queries: {mean:.3f}")
    return 0
