"""Evaluation wall time: 1,000 judged queries x 10,000 documents, exact vs HNSW, through the real code path.

Run: ``python benchmarks/bench_evaluate.py`` (``--quick``: 2,000 documents x 200 queries).

Synthetic data (no model involved; what is timed is search + doc mapping + metrics, not embedding):
- ``clusters`` centres drawn from N(0, I) in ``dim`` dims and L2-normalised;
- each document = its centre + N(0, I/dim) noise, L2-normalised (cluster mates have cosine ~0.5);
- each query = a random "target" document + N(0, 9 I/dim) noise, normalised (cosine ~0.3 to its target,
  so ranking is imperfect: MRR@10 ~0.7 rather than 1); judgments: the target grade 2 and the 4 other
  documents of its cluster nearest to the target grade 1.
The vectors go into a real ``ModelIndex`` (HNSW M=16, ef_construction=200); the only stand-in is the
query encoder, which returns the precomputed query vectors. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation import evaluate, run_retrieval
from core.search import IndexParams, ModelIndex
from core.store import EmbeddingStore
from core.types import Chunk, Corpus, ModelSpec


def clustered(n_docs: int, n_queries: int, *, dim: int, clusters: int, seed: int = 0):
    """(doc vectors, query vectors, qrels) as documented in the module docstring."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    assign = rng.integers(0, clusters, size=n_docs)
    docs = centres[assign] + rng.normal(scale=1.0 / np.sqrt(dim), size=(n_docs, dim)).astype(np.float32)
    docs /= np.linalg.norm(docs, axis=1, keepdims=True)
    targets = rng.integers(0, n_docs, size=n_queries)
    queries = docs[targets] + rng.normal(scale=3.0 / np.sqrt(dim), size=(n_queries, dim)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    qrels: dict[str, dict[str, int]] = {}
    for i, t in enumerate(targets):
        same = np.flatnonzero(assign == assign[t])
        near = same[np.argsort(-(docs[same] @ docs[t]))]
        judged = {f"d{t}": 2, **{f"d{j}": 1 for j in near if j != t}}
        qrels[f"q{i}"] = dict(list(judged.items())[:5])
    return docs.astype(np.float32), queries.astype(np.float32), qrels


class PrecomputedQueries:
    """Query 'encoder' that returns precomputed vectors for texts 'q<i>' (documents are never re-embedded)."""

    calls = 0

    def __init__(self, queries: np.ndarray):
        self.queries = queries
        self.spec = ModelSpec(name="synthetic", model_id="synthetic", dim=queries.shape[1])

    @property
    def cache_key(self) -> str:
        return "synthetic"

    def encode_queries(self, texts, *, instruction=None):
        return self.queries[[int(t[1:]) for t in texts]]

    def encode_documents(self, texts, *, progress=None, batch_size=32):  # pragma: no cover - never called
        raise NotImplementedError


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2,000 documents x 200 queries")
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument(
        "--ef", type=int, default=None, help="HNSW beam (default: run_retrieval's max(4 * k, 400))"
    )
    args = ap.parse_args(argv)
    n_docs, n_q = (2_000, 200) if args.quick else (10_000, 1_000)
    docs, qvecs, qrels = clustered(n_docs, n_q, dim=args.dim, clusters=max(10, n_docs // 50))
    corpus = Corpus(
        chunks=tuple(Chunk(id=f"d{i}", source=f"d{i}", text="") for i in range(n_docs)),
        files=(),
        sha256="bench",
    )
    queries = {f"q{i}": f"q{i}" for i in range(n_q)}
    metrics = ["ndcg@10", "mrr@10", "recall@100"]
    print(f"{n_q} queries x {n_docs} documents, dim {args.dim}, top {args.k}")
    with tempfile.TemporaryDirectory() as tmp:
        mi = ModelIndex(
            embedder=PrecomputedQueries(qvecs),
            corpus=corpus,
            vectors=docs,
            store=EmbeddingStore(tmp),
            params=IndexParams(M=16, ef_construction=200),
        )
        _, t_build = timed(lambda: mi.index())
        rows = []
        for label, exact in (("exact", True), ("hnsw", False)):
            run, t_search = timed(
                lambda exact=exact: run_retrieval(mi, queries, k=args.k, exact=exact, ef=args.ef)
            )
            ev, t_metrics = timed(lambda run=run: evaluate(run, qrels, metrics))
            rows.append((label, run, ev, t_search, t_metrics))
    print(f"HNSW build (M=16, ef_construction=200): {t_build:.2f} s (one-off, cached on disk in the app)")
    print(
        f"{'search':<7}{'retrieve s':>11}{'metrics s':>11}{'total s':>9}{'queries/s':>11}"
        + "".join(f"{m:>12}" for m in metrics)
    )
    for label, _, ev, ts, tm in rows:
        print(
            f"{label:<7}{ts:11.2f}{tm:11.2f}{ts + tm:9.2f}{n_q / (ts + tm):11.0f}"
            + "".join(f"{ev.mean[m]:12.4f}" for m in metrics)
        )
    (_, run_e, ev_e, ts_e, tm_e), (_, run_h, ev_h, ts_h, tm_h) = rows
    overlap = np.mean([len(set(run_e[q]) & set(run_h[q])) / max(1, len(run_e[q])) for q in queries])
    print(
        f"exact / hnsw total time: {(ts_e + tm_e) / (ts_h + tm_h):.2f}x; HNSW recall of exact top-{args.k}: {overlap:.4f}; "
        f"|delta nDCG@10| = {abs(ev_e.mean['ndcg@10'] - ev_h.mean['ndcg@10']):.5f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
