"""Hybrid and rerank overhead per query over the dense search alone (core.search.HybridSystem, RerankSystem).

Single queries, as Compare runs them, on the sample corpus (sample_corpus/docs) and, when its MiniLM vectors are
in the bench store (benchmarks/prepare_corpus.py), on the 10k-chunk corpus. Systems: MiniLM alone (HNSW),
hybrid:MiniLM+bm25 (RRF; both sides asked for their top 100), and rerank:MiniLM+CE (the top 50 re-scored by a
cross-encoder of all-MiniLM-L6 size: 6 layers, 384 wide, the size of cross-encoder/ms-marco-MiniLM-L6-v2;
random weights, since no reranker weights ship offline: its cost is real, its scores are not).
Overhead = p50 of the system minus p50 of MiniLM alone, in ms per query. Targets: hybrid overhead <= 10 ms p50
(BM25 + fusion of two 100-deep lists); the reranker's cost is reported (it is the model's compute: on a 2-core
CPU tens to hundreds of ms per query at depth 50, far less on a GPU).
Run: python benchmarks/bench_fusion.py [--quick]
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from common import ROOT, SAMPLE_QUERIES, bench_store_root, info, load_average, parse_args, ratio

from core.ingest import load_corpus
from core.models import load_embedder, load_reranker, resolve_model
from core.search import Bm25Index, HybridSystem, RerankSystem, build_model_index
from core.store import EmbeddingStore
from core.types import SearchParams

REPEAT_QUERIES = 40
RERANK_QUERIES = 5


def build_reranker_of_minilm_size(out: Path) -> Path:
    """A BertForSequenceClassification of ms-marco-MiniLM-L6 size with the MiniLM tokenizer (random weights)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tok = AutoTokenizer.from_pretrained(resolve_model("all-MiniLM-L6-v2").model_id)
    config = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=384,
        num_hidden_layers=6,
        num_attention_heads=12,
        intermediate_size=1536,
        num_labels=1,
    )
    torch.manual_seed(0)
    BertForSequenceClassification(config).eval().save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def per_query_ms(system, queries: list[str], params: SearchParams) -> np.ndarray:
    """Wall ms of each single-query search (one warm-up query first)."""
    system.search_many(queries[:1], params)
    out = []
    for q in queries:
        t0 = time.perf_counter()
        system.search_many([q], params)
        out.append((time.perf_counter() - t0) * 1000.0)
    return np.asarray(out)


def measure(label: str, dense, reranker, queries: list[str], *, quick: bool) -> None:
    corpus = dense.corpus
    t0 = time.perf_counter()
    bm25 = Bm25Index(corpus)
    info(f"{label}: chunks", f"{len(corpus.chunks):,}; BM25 build {time.perf_counter() - t0:.2f} s")
    params = SearchParams(k=10)
    systems = {
        "dense": dense,
        "hybrid": HybridSystem(dense, bm25),
        "rerank": RerankSystem(dense, reranker, depth=50),
    }
    # a cross-encoder reads 50 (query, chunk) pairs of up to 512 tokens per query: seconds on a shared CPU,
    # so it is timed on the first RERANK_QUERIES queries only (one warm-up)
    ms = {
        name: per_query_ms(s, queries if name != "rerank" else queries[:RERANK_QUERIES], params)
        for name, s in systems.items()
    }
    for name, xs in ms.items():
        info(
            f"{label}: {systems[name].name}",
            f"p50 {np.percentile(xs, 50):.2f} ms, p95 {np.percentile(xs, 95):.2f} ms",
        )
    stages = systems["hybrid"].search_many(queries[:5], params)
    info(
        f"{label}: hybrid fusion_ms (mean of 5)", f"{np.mean([r.extra['fusion_ms'] for r in stages]):.3f} ms"
    )
    info(
        f"{label}: reranked pairs per query", "50 (chunks embedded as title + text, truncated at 512 tokens)"
    )
    base = float(np.percentile(ms["dense"], 50))
    hybrid = float(np.percentile(ms["hybrid"], 50)) - base
    rerank = float(np.percentile(ms["rerank"], 50)) - base
    ratio(f"fusion_{label}_hybrid_overhead_ms_p50", hybrid, target=10, op="<=", report=quick)
    ratio(f"fusion_{label}_rerank50_overhead_ms_p50", rerank, target=0, op="<=", report=True)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    info("load", load_average())
    embedder = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        reranker = load_reranker(
            str(build_reranker_of_minilm_size(Path(tmp) / "ce-minilm-size")), device="cpu"
        )
        corpus = load_corpus(ROOT / "sample_corpus" / "docs")
        dense = build_model_index(corpus, embedder, store=EmbeddingStore(Path(tmp) / "store"))
        n = 8 if args.quick else REPEAT_QUERIES
        pseudo = [" ".join(c.text.split()[:8]) for c in corpus.chunks[:: max(1, len(corpus.chunks) // n)]]
        measure("sample", dense, reranker, (SAMPLE_QUERIES + pseudo)[:n], quick=args.quick)
        if args.quick:
            return
        from prepare_corpus import FULL_CHUNKS, prepared

        store = bench_store_root()
        if not any(store.rglob("*")):
            info("10k corpus", "skipped: run benchmarks/prepare_corpus.py first (embeds 10k chunks once)")
            return
        _, big = prepared(FULL_CHUNKS, verbose=False)
        pseudo = [" ".join(c.text.split()[:8]) for c in big.corpus.chunks[:: len(big.corpus.chunks) // n]]
        measure("10k", big, reranker, pseudo[:n], quick=False)


if __name__ == "__main__":
    main()
