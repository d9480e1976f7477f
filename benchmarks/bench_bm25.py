"""BM25 (core.search.Bm25Index, bm25s): index build time and single-query latency at 10k chunks.

Target 13: at 10k chunks of real text (stdlib source, the corpus of benchmarks/prepare_corpus.py; no model
needed), a BM25 build (tokenising every chunk + bm25s's score matrix) <= 10 s, a query (tokenise + score +
top-10) p50 <= 10 ms and p95 <= 50 ms. Queries: typed code-search queries plus pseudo-queries (the first eight
words of sampled chunks), each searched alone as Compare does. Run: python benchmarks/bench_bm25.py [--quick]
"""

from __future__ import annotations

import random
import time

import numpy as np
from common import SAMPLE_QUERIES, info, load_average, median, parse_args, ratio, real_corpus

from core.search import Bm25Index
from core.text import format_bytes
from core.types import SearchParams

FULL_CHUNKS, QUICK_CHUNKS = 10_000, 200

CODE_QUERIES = [
    "parse a url query string",
    "socket timeout",
    "json decode error",
    "os.path.join",
    "thread lock acquire release",
    "subprocess communicate",
    "datetime timezone utcoffset",
    "read_bytes",
    "ValueError invalid literal",
    "encode utf-8 surrogateescape",
    "__init__ self",
    "getLogger",
    "heapq heappush",
    "deprecated warning stacklevel",
    "csv DictReader fieldnames",
]


def queries_for(corpus, n: int, seed: int = 0) -> list[str]:
    """Typed queries (code, and the sample set's zh/en ones) plus the first 8 words of sampled chunks."""
    rng = random.Random(seed)
    picked = rng.sample(list(corpus.chunks), min(n, len(corpus.chunks)))
    pseudo = [" ".join(c.text.split()[:8]) for c in picked]
    return (CODE_QUERIES + SAMPLE_QUERIES + pseudo)[: max(n, len(CODE_QUERIES))]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n_chunks, n_queries, repeat = (QUICK_CHUNKS, 40, 1) if args.quick else (FULL_CHUNKS, 500, 3)
    print(f"bench_bm25: {n_chunks} chunks; {load_average()}")
    t0 = time.perf_counter()
    corpus = real_corpus(n_chunks)
    info("corpus", f"{len(corpus.chunks)} chunks of stdlib source, ingest {time.perf_counter() - t0:.1f} s")

    builds, index = [], None
    for _ in range(repeat):
        index = Bm25Index(corpus)
        builds.append(index)
    assert index is not None
    t_build = median([b.build_seconds for b in builds])
    t_tok = median([b.tokenize_seconds for b in builds])
    info(
        "build",
        f"median {t_build:.2f} s of {repeat} ({len(corpus.chunks) / t_build:,.0f} chunks/s; tokenising "
        f"{t_tok:.2f} s, bm25s index {t_build - t_tok:.2f} s); {index.vocab_size:,} terms, "
        f"index {format_bytes(index.index_bytes)}",
    )

    queries = queries_for(corpus, n_queries)
    index.search_many(queries[:10])  # warm-up outside the timing
    total, tokenise, score, sizes, empty = [], [], [], [], 0
    for q in queries:
        t0 = time.perf_counter()
        r = index.search(q, SearchParams(k=10))
        total.append(time.perf_counter() - t0)
        tokenise.append(r.embed_ms)
        score.append(r.search_ms)
        sizes.append(len(r.hits))
        empty += not r.hits
    p50, p95 = median(total) * 1e3, float(np.percentile(total, 95)) * 1e3
    info(
        "query (k=10, one at a time)",
        f"p50 {p50:.2f} ms, p95 {p95:.2f} ms over {len(queries)} queries; tokenise p50 "
        f"{median(tokenise):.3f} ms, score + top-k p50 {median(score):.2f} ms / p95 "
        f"{float(np.percentile(score, 95)):.2f} ms; {empty} queries without hits",
    )
    ratio("bm25 build seconds at 10k chunks", t_build, target=10.0, op="<=")
    ratio("bm25 query p50 ms", p50, target=10.0, op="<=")
    ratio("bm25 query p95 ms", p95, target=50.0, op="<=")


if __name__ == "__main__":
    main()
