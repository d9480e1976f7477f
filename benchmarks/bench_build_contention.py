"""Query latency while another session builds: searches of the sample corpus during a build with the same model.

Target 8 (issue 18 item 9): query p95 < 1 s on the sample corpus (all-MiniLM-L6-v2) while a build of another
corpus (real text chunks) runs in another thread with the same embedder instance, as two app sessions share
one cached model. One "session" searches the sample corpus (embed + HNSW, as the Compare page does) in a loop
while the other embeds the build; queries alone are timed first for reference.
Run: python benchmarks/bench_build_contention.py [--quick]
"""

from __future__ import annotations

import json
import tempfile
import threading
import time

import numpy as np
from common import bench_store_root, info, load_average, parse_args, ratio, real_corpus

from core.ingest import corpus_sha256, load_corpus
from core.models import load_embedder, resolve_model
from core.search import ModelIndex, build_model_index
from core.store import EmbeddingStore
from core.types import Corpus, Embedder, SearchParams
from ui.resources import SAMPLE_DIR


def sample_queries() -> list[str]:
    """The sample corpus's query texts."""
    lines = (SAMPLE_DIR / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines if line.strip()]


def percentiles(ms: list[float]) -> tuple[float, float]:
    """(p50, p95) of a list of milliseconds."""
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def searches_during(
    mi: ModelIndex, queries: list[str], busy: threading.Event, *, pause_s: float
) -> list[float]:
    """Milliseconds of each search (embed + HNSW) issued while ``busy`` is set, one after another."""
    out: list[float] = []
    i = 0
    while busy.is_set():
        t0 = time.perf_counter()
        mi.search(queries[i % len(queries)], SearchParams(k=10))
        if busy.is_set():  # a search that ends after the build did not wait behind it the whole time
            out.append((time.perf_counter() - t0) * 1e3)
        i += 1
        time.sleep(pause_s)
    return out


def build_in_thread(corpus: Corpus, embedder: Embedder, root: str, busy: threading.Event) -> dict[str, float]:
    """Start a build of ``corpus`` in a new store; ``busy`` is set from start to finish; returns its seconds."""
    timing: dict[str, float] = {}

    def run() -> None:
        t0 = time.perf_counter()
        try:
            build_model_index(corpus, embedder, store=EmbeddingStore(root))
        finally:
            timing["seconds"] = time.perf_counter() - t0
            busy.clear()

    busy.set()
    threading.Thread(target=run, name="other-session-build", daemon=True).start()
    return timing


def sample_corpus(n: int | None) -> Corpus:
    """The sample corpus, or its first n chunks (--quick)."""
    corpus = load_corpus(SAMPLE_DIR / "docs")
    if n is None:
        return corpus
    chunks = corpus.chunks[:n]
    return Corpus(chunks=chunks, files=corpus.files, sha256=corpus_sha256(chunks), name=f"sample-{n}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n_build = 64 if args.quick else 768
    print(f"bench_build_contention: sample corpus searches during a {n_build}-chunk build; {load_average()}")
    embedder = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    queries = sample_queries()
    other = real_corpus(n_build)
    sample = sample_corpus(48 if args.quick else None)
    with tempfile.TemporaryDirectory() as build_root:  # the build must really embed: a fresh store each run
        mi = build_model_index(sample, embedder, store=EmbeddingStore(bench_store_root()))
        for q in queries[:3]:
            mi.search(q, SearchParams(k=10))  # warm-up
        alone = []
        for q in queries * (1 if args.quick else 3):
            t0 = time.perf_counter()
            mi.search(q, SearchParams(k=10))
            alone.append((time.perf_counter() - t0) * 1e3)
        busy = threading.Event()
        timing = build_in_thread(other, embedder, build_root, busy)
        during = searches_during(mi, queries, busy, pause_s=0.05)
        while "seconds" not in timing:
            time.sleep(0.01)
    a50, a95 = percentiles(alone)
    info("queries alone", f"{len(alone)} searches, p50 {a50:.1f} ms, p95 {a95:.1f} ms")
    if not during:
        during = [float("nan")]
    d50, d95 = percentiles(during)
    info(
        "queries during the build",
        f"{len(during)} searches, p50 {d50:.1f} ms, p95 {d95:.1f} ms, max {max(during):.0f} ms; "
        f"build of {n_build} chunks took {timing['seconds']:.1f} s ({n_build / timing['seconds']:.0f} chunks/s)",
    )
    ratio("query p95 s during another session's build (MiniLM)", d95 / 1e3, target=1.0, op="<=")


if __name__ == "__main__":
    main()
