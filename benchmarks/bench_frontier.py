"""Frontier sweep: every Matryoshka stop x 5 precisions (flat) on 50k x 2560 vs one full-dim exact batch.

Target 9: core.frontier.sweep over Qwen3-Embedding-4B's 11 stops (32..2560) x {float32, float16, int8, binary,
binary+rescore} (55 flat configurations, recall@10 + p50/p95 of 20 single queries each) for 200 queries x 50k
docs in <= 15 x the time of one full-dimension float32 exact batch (core.index.exact_search, same queries);
and binary search's single-query p50 speed-up over float32 exact at 2560 dims (target >= 8). Clustered
Matryoshka-like unit vectors (benchmarks/common.py, decay=True); queries are held-out points of the same
clusters. Run: python benchmarks/bench_frontier.py [--quick]
"""

from __future__ import annotations

from common import clustered_unit_vectors, info, load_average, parse_args, ratio, times

from core.dims import mrl_stops
from core.frontier import sweep
from core.index import exact_search


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n, n_q, dim, lat = (2_000, 20, 256, 5) if args.quick else (50_000, 200, 2560, 20)
    dims = list(mrl_stops(dim))
    print(
        f"bench_frontier: {n_q} queries x {n} docs x {dim} dims, {len(dims)} dims x 5 precisions; {load_average()}"
    )
    both = clustered_unit_vectors(n + n_q, dim, seed=9, decay=True)
    docs, queries = both[:n], both[n:]
    result = {}

    def run() -> None:
        result["sweep"] = sweep(
            docs, queries, model="synthetic", dims=dims, k=10, hnsw=False, latency_queries=lat
        )

    full_runs, sweep_runs = [], []
    for _ in range(1 if args.quick else 2):  # interleaved, best of each: the machine is shared
        full_runs += times(lambda: exact_search(docs, queries, 10), repeat=1, warmup=0)
        sweep_runs += times(run, repeat=1, warmup=0)
    t_full, t_sweep = min(full_runs), min(sweep_runs)
    rows = {(r.dims, r.precision): r for r in result["sweep"].rows}
    info("full-dim exact batch", f"{t_full:.2f} s")
    info(f"{len(rows)}-configuration sweep", f"{t_sweep:.2f} s")
    for d in sorted({dims[0], 256 if 256 in dims else dims[len(dims) // 2], dim}):
        info(
            f"recall@10 at {d}",
            ", ".join(f"{p} {rows[d, p].recall:.3f} ({rows[d, p].p50_ms:.2f} ms)" for p in
                      ("float32", "float16", "int8", "binary", "binary+rescore")),
        )  # fmt: skip
    ratio("frontier sweep / full exact batch (time)", t_sweep / t_full, target=15.0, op="<=")
    speedup = rows[dim, "float32"].p50_ms / rows[dim, "binary"].p50_ms
    ratio(f"frontier binary / float32 exact single-query speed-up at {dim}", speedup, target=8.0)


if __name__ == "__main__":
    main()
