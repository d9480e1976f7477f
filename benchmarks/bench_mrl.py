"""Matryoshka sweep: recall@10 over 10 dimensions vs one full-dimension exact batch search.

Target 5: core.search.matryoshka.truncation_curve (the one the Dimensions page calls, through ui/dims.py) for 500 queries x 50k docs x 2560 dims (Qwen3-Embedding-4B's 10 MRL
dims, 32..2560) in <= 3 x the time of one full-dim exact batch search (core.search.index.exact_search, same queries).
Clustered unit vectors (benchmarks/common.py). Run: python benchmarks/bench_mrl.py [--quick]
"""

from __future__ import annotations

from common import clustered_unit_vectors, info, load_average, parse_args, ratio, times

from core.search import exact_search, truncation_curve

DIMS = (32, 64, 128, 256, 512, 768, 1024, 1536, 2048, 2560)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n, n_q = (2_000, 50) if args.quick else (50_000, 500)
    print(f"bench_mrl: {n_q} queries x {n} docs x {DIMS[-1]} dims; {load_average()}")
    # decay: leading dims carry more variance, as in MRL-trained embeddings (recall then grows with d)
    docs = clustered_unit_vectors(n, DIMS[-1], seed=5, decay=True)
    queries = clustered_unit_vectors(n_q, DIMS[-1], seed=6, decay=True)
    curve: dict[int, float] = {}

    def sweep() -> None:
        curve.update(truncation_curve(docs, queries, dims=DIMS, k=10).recall)

    full_runs, sweep_runs = [], []
    for _ in range(3):  # interleaved, best of each: the machine is shared, its load drifts
        full_runs += times(lambda: exact_search(docs, queries, 10), repeat=1, warmup=0)
        sweep_runs += times(sweep, repeat=1, warmup=0)
    t_full, t_sweep = min(full_runs), min(sweep_runs)
    info("full-dim exact batch", f"{t_full:.2f} s")
    info("10-dim sweep", f"{t_sweep:.2f} s; recall@10 " + ", ".join(f"{d}:{r:.3f}" for d, r in curve.items()))
    ratio("mrl sweep / full exact batch (time)", t_sweep / t_full, target=3.0, op="<=")


if __name__ == "__main__":
    main()
