"""The corpus map (core.corpus_map): layout time at 10k and 100k chunks, regions and moved-most time.

Target 14: laying out 100k chunks (384 dims) on 2 cores takes minutes, not hours: <= 300 s; 10k chunks <= 120 s.
Regions (k-means on both models' joined vectors + c-TF-IDF labels) and moved-most (10-NN Jaccard between two
spaces) at 10k chunks are reported. Vectors are clustered synthetic unit vectors (``common.clustered_unit_vectors``,
100 topics): the layout's cost depends on n and dims, not on what the vectors mean. The first UMAP fit in a
process also compiles numba code (~15 s): a 300-chunk warm-up fit runs first and is reported apart.
Run: python benchmarks/bench_map.py [--quick] [--skip-100k]
"""

from __future__ import annotations

import argparse
import time
import warnings

from common import clustered_unit_vectors, info, load_average, ratio, real_corpus

from core.corpus_map import joint_space, layout, moved_most, regions

DIM = 384


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the script runs, not figures"
    )
    parser.add_argument("--skip-100k", action="store_true", help="leave out the 100k layout (minutes)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", module="umap")
    sizes: tuple[int, ...] = (300, 2_000) if args.quick else (10_000, 100_000)
    if args.skip_100k and not args.quick:
        sizes = sizes[:1]
    print(f"bench_map: layouts of {', '.join(f'{n:,}' for n in sizes)} x {DIM} vectors; {load_average()}")
    t0 = time.perf_counter()
    layout(clustered_unit_vectors(300, DIM, clusters=10, seed=9), seed=0)
    info("warm-up (numba compile + 300-chunk fit)", f"{time.perf_counter() - t0:.1f} s")

    for n, target in zip(sizes, (120.0, 300.0), strict=False):
        v = clustered_unit_vectors(n, DIM, clusters=100, seed=1)
        out = layout(v, seed=0)
        info(f"layout {n:,}", f"{out.seconds:.1f} s: {out.method}")
        ratio(f"map layout seconds at {n:,} x {DIM}", out.seconds, target=target, op="<=")

    n = sizes[0]
    corpus = real_corpus(n)
    m = len(corpus.chunks)
    a = clustered_unit_vectors(m, DIM, clusters=100, seed=1)
    b = clustered_unit_vectors(m, DIM, clusters=80, seed=2)
    t0 = time.perf_counter()
    regs = regions(corpus, joint_space(a, b), seed=0)
    t_regions = time.perf_counter() - t0
    info("regions", f"{t_regions:.1f} s for {m:,} chunks, {len(regs)} regions, e.g. {regs[0].label!r}")
    t0 = time.perf_counter()
    moved_most(a, b, [c.id for c in corpus.chunks])
    t_moved = time.perf_counter() - t0
    info("moved most", f"{t_moved:.1f} s for {m:,} chunks (exact 10-NN in both spaces)")
    ratio(f"map regions seconds at {m:,} chunks", t_regions, target=60.0, op="<=", report=True)
    ratio(f"map moved-most seconds at {m:,} chunks", t_moved, target=60.0, op="<=", report=True)


if __name__ == "__main__":
    main()
