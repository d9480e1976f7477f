"""Embed the real-text benchmark corpus (stdlib source chunks) with MiniLM into the persistent bench store.

Run once (slow on a CPU: ~10k short chunks); bench_ui.py and bench_ann.py reuse the stored vectors.
Run: python benchmarks/prepare_corpus.py [--quick]
"""

from __future__ import annotations

import time

from common import bench_store_root, info, load_average, parse_args, real_corpus

FULL_CHUNKS, QUICK_CHUNKS = 10_000, 60


def prepared(n_chunks: int, *, model: str = "all-MiniLM-L6-v2", verbose: bool = True):
    """(corpus, ModelIndex) for n_chunks of real text embedded with ``model`` (store hit after the first run)."""
    from core.models import load_embedder, resolve_model
    from core.search import build_model_index
    from core.store import EmbeddingStore

    t0 = time.perf_counter()
    corpus = real_corpus(n_chunks)
    t1 = time.perf_counter()
    embedder = load_embedder(resolve_model(model), device="cpu")
    last = [0.0]

    def progress(done: int, total: int, rate: float) -> None:
        if verbose and time.perf_counter() - last[0] > 30:
            last[0] = time.perf_counter()
            print(f"  embedding {done}/{total} at {rate:.1f} docs/s", flush=True)

    mi = build_model_index(corpus, embedder, store=EmbeddingStore(bench_store_root()), progress=progress)
    if verbose:
        info("corpus", f"{len(corpus.chunks)} chunks of stdlib source, ingest {t1 - t0:.1f} s")
        info("build", f"{mi.stats}")
    return corpus, mi


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    print(load_average())
    prepared(QUICK_CHUNKS if args.quick else FULL_CHUNKS)


if __name__ == "__main__":
    main()
