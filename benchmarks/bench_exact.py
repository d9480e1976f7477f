"""Exact search against the hardware: single query vs the memory-bandwidth bound, batched vs the matmul bound.

Target 4: single query >= 50% of (vector bytes / measured bandwidth); batched >= 50% of (2 n q d / measured
matmul rate). Both through core.search.index.exact_search (the engine's exact path), 50k x 768 clustered unit vectors.
Run: python benchmarks/bench_exact.py [--quick]
"""

from __future__ import annotations

import numpy as np
from common import (
    clustered_unit_vectors,
    info,
    load_average,
    matmul_rate,
    median,
    memory_bandwidth,
    parse_args,
    ratio,
    times,
)

from core.search import exact_search


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n, dim, n_single, n_batch = (2_000, 768, 10, 20) if args.quick else (50_000, 768, 60, 500)
    print(f"bench_exact: {n} x {dim}; {load_average()}")
    docs = clustered_unit_vectors(n, dim, seed=1)
    queries = clustered_unit_vectors(n_batch, dim, seed=2)
    bw = memory_bandwidth(mbytes=64 if args.quick else 512)
    flops = matmul_rate(n=512 if args.quick else 2048)
    info("measured bandwidth", f"{bw / 1e9:.1f} GB/s (streaming read, best of 3 readers)")
    info("measured matmul", f"{flops / 1e9:.1f} GFLOP/s (float32 sgemm)")

    it = iter(range(10**9))
    single = times(lambda: exact_search(docs, queries[next(it) % n_batch], 10), repeat=n_single, warmup=3)
    bound_single = docs.nbytes / bw
    t_single = median(single)
    info(
        "single query",
        f"p50 {t_single * 1e3:.2f} ms ({1 / t_single:.0f} q/s); bound {bound_single * 1e3:.2f} ms",
    )
    ratio("exact single / bandwidth bound", bound_single / t_single, target=0.5)

    batch = times(lambda: exact_search(docs, queries, 10), repeat=3 if args.quick else 5)
    t_batch = min(batch)
    bound_batch = 2.0 * n * dim * n_batch / flops
    matmul_only = min(times(lambda: queries @ docs.T, repeat=3))
    info(
        "batched",
        f"{n_batch} queries in {t_batch * 1e3:.0f} ms ({n_batch / t_batch:.0f} q/s); bound "
        f"{bound_batch * 1e3:.0f} ms; the bare matmul takes {matmul_only * 1e3:.0f} ms, the top-k the rest",
    )
    ratio("exact batched / matmul bound", bound_batch / t_batch, target=0.5)
    np.testing.assert_equal(exact_search(docs, queries[:3], 10)[0].shape, (3, 10))


if __name__ == "__main__":
    main()
