"""Frontier sweep: every Matryoshka stop x 5 precisions (flat) on 50k x 2560 vs one full-dim exact batch.

Target 9: core.frontier.measure.sweep over Qwen3-Embedding-4B's 11 stops (32..2560) x {float32, float16, int8, binary,
binary+rescore} (55 flat configurations: recall@10 of 200 queries, p50/p95 of up to 20 single queries each, see
core.frontier.measure.latency_note) on 50k docs in <= 15 x the time of one full-dimension float32 exact batch of the
same 200 queries (core.search.index.exact_search); and binary search's single-query speed-up over float32 exact at
2560 dims (target >= 8), measured interleaved because the machine is shared (blocks of 5 float32 queries and 5
binary ones, alternately, 40 of each, each block after a pause and an untimed query; ratio of the medians); the
sweep's own p50 ratio is printed too. Clustered Matryoshka-like unit vectors (benchmarks/common.py,
decay=True); queries are held-out points of the same clusters.
Run: python benchmarks/bench_frontier.py [--quick] [--n N]
"""

from __future__ import annotations

import statistics
import time

from common import clustered_unit_vectors, info, load_average, parse_args, ratio, times

from core.dims import mrl_stops
from core.frontier import build_flat, sweep
from core.search import exact_search


def interleaved_speedup(docs, queries, rounds: int, *, block: int = 5) -> tuple[float, float, float]:
    """(float32 p50 ms, binary p50 ms, ratio) of single exact queries at full dimension.

    Alternated in blocks because the machine is shared: ``block`` float32 queries, then ``block`` binary ones, and
    so on, ``rounds`` of each. Each block starts after a 0.2 s pause and one untimed query, for both alike, so
    that neither is timed while the other's threads still run (OpenBLAS's workers spin a while after a float32
    search returns, and would take a core from the binary scan that follows).
    """
    f32, bits = build_flat(docs, "float32"), build_flat(docs, "binary")
    t32: list[float] = []
    tb: list[float] = []
    i = 0
    while len(tb) < rounds:
        for flat, out in ((f32, t32), (bits, tb)):
            time.sleep(0.2)
            flat.search(queries[i % len(queries) : i % len(queries) + 1], 10)  # untimed
            for j in range(i + 1, i + 1 + block):
                q = queries[j % len(queries) : j % len(queries) + 1]
                t0 = time.perf_counter()
                flat.search(q, 10)
                out.append((time.perf_counter() - t0) * 1e3)
        i += block + 1
    a, b = statistics.median(t32), statistics.median(tb)
    return a, b, a / b


def main(argv: list[str] | None = None) -> None:
    import sys

    n_arg = None
    if argv is None and "--n" in sys.argv:
        i = sys.argv.index("--n")
        n_arg = int(sys.argv[i + 1])
        argv = sys.argv[1:i] + sys.argv[i + 2 :]
    args = parse_args(__doc__, argv=argv)
    n, n_q, dim, lat = (2_000, 20, 256, 5) if args.quick else (50_000, 200, 2560, 20)
    if n_arg:
        n = n_arg
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
    info("full-dim exact batch", f"{t_full:.2f} s (runs: {', '.join(f'{t:.2f}' for t in full_runs)})")
    info(
        f"{len(rows)}-configuration sweep",
        f"{t_sweep:.2f} s (runs: {', '.join(f'{t:.2f}' for t in sweep_runs)})",
    )
    for d in sorted({dims[0], 256 if 256 in dims else dims[len(dims) // 2], dim}):
        info(
            f"recall@10 at {d}",
            ", ".join(f"{p} {rows[d, p].recall:.3f} ({rows[d, p].p50_ms:.2f} ms)" for p in
                      ("float32", "float16", "int8", "binary", "binary+rescore")),
        )  # fmt: skip
    ratio("frontier sweep / full exact batch (time)", t_sweep / t_full, target=15.0, op="<=")
    in_sweep = rows[dim, "float32"].p50_ms / rows[dim, "binary"].p50_ms
    info(f"binary vs float32 p50 inside the sweep at {dim}", f"{in_sweep:.1f} x")
    a, b, r = interleaved_speedup(docs, queries, 10 if args.quick else 40)
    info("interleaved single queries", f"float32 {a:.2f} ms, binary {b:.2f} ms (medians)")
    ratio(f"frontier binary / float32 exact single-query speed-up at {dim}", r, target=8.0)


if __name__ == "__main__":
    main()
