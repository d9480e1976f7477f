"""Cache: rebuilding an already-embedded corpus vs the cold build, and the model calls it makes.

Target 2: rebuild >= 50x faster than the cold build, with zero model calls. Cold: build_model_index of real
text chunks (all-MiniLM-L6-v2) into an empty store. Rebuilds: the same call again in-process, and with a new
EmbeddingStore object on the same folder (what a restarted app sees: segments and the HNSW index are
re-read and checksum-verified from disk). Run: python benchmarks/bench_cache.py [--quick]
"""

from __future__ import annotations

import tempfile
import time

from bench_engine import subset
from common import info, load_average, median, parse_args, ratio, real_corpus

from core.models import load_embedder, resolve_model
from core.search import build_model_index
from core.store import EmbeddingStore


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n = 16 if args.quick else 256
    print(f"bench_cache: {n} chunks; {load_average()}")
    corpus = subset(real_corpus(n + 400), 400, n)  # not the texts bench_engine times
    embedder = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    embedder.encode_documents([c.text for c in corpus.chunks[:4]])  # warm-up outside the timing
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cold = build_model_index(corpus, embedder, store=EmbeddingStore(tmp))
        t_cold = time.perf_counter() - t0
        warm_same, warm_new, calls = [], [], []
        store = EmbeddingStore(tmp)
        for _ in range(5):
            t0 = time.perf_counter()
            mi = build_model_index(corpus, embedder, store=store)
            warm_same.append(time.perf_counter() - t0)
            calls.append(mi.stats.model_calls)
            t0 = time.perf_counter()
            mi = build_model_index(corpus, embedder, store=EmbeddingStore(tmp))
            warm_new.append(time.perf_counter() - t0)
            calls.append(mi.stats.model_calls)
    info(
        "cold build",
        f"{t_cold:.2f} s ({cold.stats.model_calls} model calls, {cold.stats.embedded} texts embedded)",
    )
    info("rebuild, same store object", f"p50 {median(warm_same) * 1e3:.1f} ms")
    info("rebuild, new store object (restart)", f"p50 {median(warm_new) * 1e3:.1f} ms")
    ratio("cold/rebuild time (restart)", t_cold / median(warm_new), target=50.0)
    ratio("model calls during rebuilds", float(sum(calls)), target=0.0, op="<=")


if __name__ == "__main__":
    main()
