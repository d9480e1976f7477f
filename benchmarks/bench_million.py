"""A million chunks x 384 dims through the CLI: hnswlib and Qdrant (local mode), build, search p50/p95, peak RSS.

Run: python benchmarks/bench_million.py [--chunks 1000000] [--quick] [--no-qdrant] [--no-hnswlib] [--keep DIR]

The corpus is bench_scale's synthetic Markdown (one short chunk a section, English with one chunk in ten in
Chinese or mixed), written to disk and loaded as the CLI loads it (``load_any_corpus``: chunks cached by file
content under the store). Nothing is embedded: a real embedding of a million chunks is about a day on 2 cores,
so the store receives, for all-MiniLM-L6-v2's cache key, one synthetic unit vector per distinct chunk text
(``common.clustered_unit_vectors``: 100 uneven Gaussian clusters, normalised float32, as a bundle would bring
real ones). Then each backend runs in a fresh process:

- ``python -m core.cli build --corpus DIR --model all-MiniLM-L6-v2 --store S --json`` (hnswlib, M=16,
  ef_construction=200) and the same with ``--index qdrant --qdrant-path Q`` (Qdrant's local mode: the client's
  own in-process store; a Qdrant server, ``--qdrant-url``, is the documented path above a laptop), under
  ``/usr/bin/time -v``: wall time, the build's own index seconds, the process's peak RSS;
- a search process doing what ``python -m core.cli search`` does for each of 100 queries (the corpus from the
  ingest cache, the index loaded from the store or the collection, never rebuilt; the query embedded by the real
  all-MiniLM-L6-v2), timing ``ModelIndex.search``: p50/p95 of the search alone and of query + search, recall@10
  of the hnswlib index against exact search on 100 stored vectors as queries; its peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from common import clustered_unit_vectors, load_average  # noqa: E402

MODEL = "all-MiniLM-L6-v2"
SEARCH_QUERIES = 100
MB = 1 << 20

# One search process per backend: the CLI's own calls (load_any_corpus, build_one), then many searches.
_SEARCH_CHILD = r"""
import json, sys, time
import numpy as np
from core.cli.common import build_one, load_any_corpus
from core.search import exact_search
from core.store import EmbeddingStore
from core.types import SearchParams

from core.cli.main import build_parser

corpus_dir, store_dir, qdrant_path, n_queries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
where = ["--index", "qdrant", "--qdrant-path", qdrant_path] if qdrant_path else []
args = build_parser().parse_args(["search", "--corpus", corpus_dir, "--model", sys.argv[5], "--store", store_dir,
                                  "--query", "-", *where])  # the search command's own options and defaults
t0 = time.perf_counter()
corpus = load_any_corpus(corpus_dir, store=store_dir)
mi = build_one(corpus, args.model, args, EmbeddingStore(store_dir))
open_s = time.perf_counter() - t0
words = ("cache", "index", "quota", "tenant", "webhook", "billing", "backup", "upload", "retention", "ranking")
queries = [f"how do I configure {a} for {b} number {i}" for i in range(n_queries // 10 + 1) for a in words
           for b in words[:1]][:n_queries]
mi.search("warm up", SearchParams(k=10))
search_ms, total_ms = [], []
for q in queries:
    t = time.perf_counter()
    r = mi.search(q, SearchParams(k=10))
    total_ms.append((time.perf_counter() - t) * 1e3)
    search_ms.append(r.search_ms)
recall = {}
if not qdrant_path:  # the hnswlib graph against exact search: stored vectors as queries (their own row left out)
    rows = np.random.default_rng(0).choice(len(mi.vectors), size=n_queries, replace=False)
    q = np.asarray(mi.vectors[rows])
    truth = exact_search(mi.vectors, q, 10, exclude=rows)[0]
    for ef in (128, 512):  # the index's default ef_search (CLI --ef), and a wider beam
        t = time.perf_counter()
        found = mi.index().search(q, k=11, ef=ef)[0]
        ms = (time.perf_counter() - t) * 1e3 / len(q)
        got = [[c for c in row if c != own][:10] for row, own in zip(found, rows)]
        recall[ef] = (float(np.mean([len(set(g) & set(t)) / 10 for g, t in zip(got, truth)])), ms)
print(json.dumps({"open_s": open_s, "search_ms": search_ms, "total_ms": total_ms, "recall": recall,
                  "runtime": mi.stats.index_seconds if mi.stats else None}))
"""


def write_corpus(n: int, folder: Path) -> None:
    """bench_scale's synthetic files on disk (a file per 100 chunks)."""
    from bench_scale import synthetic_files

    folder.mkdir(parents=True, exist_ok=True)
    for name, data in synthetic_files(n):
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)


def fill_store(corpus_dir: Path, store_dir: Path, *, seed: int = 11) -> tuple[int, float]:
    """Load the corpus as the CLI does (filling the ingest cache) and put one synthetic vector per distinct text
    into the store under the model's cache key; returns (chunks, ingest seconds)."""
    from core.ingest import IngestCache, load_corpus
    from core.models import load_embedder, resolve_model
    from core.store import EmbeddingStore, text_hash

    t0 = time.perf_counter()
    corpus = load_corpus(corpus_dir, cache=IngestCache(store_dir))  # what the CLI's load_any_corpus does
    ingest_s = time.perf_counter() - t0
    embedder = load_embedder(resolve_model(MODEL))
    texts = list(
        dict.fromkeys(c.embed_text for c in corpus.chunks)
    )  # what the build embeds (EmbeddingStore.embed)
    hashes = [text_hash(t) for t in texts]
    vectors = clustered_unit_vectors(len(hashes), embedder.spec.dim, seed=seed)
    EmbeddingStore(store_dir).put(embedder.cache_key, hashes, vectors)
    return len(corpus.chunks), ingest_s


def _time_v(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run under /usr/bin/time -v: (wall seconds, peak RSS MB, stdout); raises with stderr's tail on failure."""
    t0 = time.perf_counter()
    proc = subprocess.run(  # noqa: S603 (our own interpreter and a fixed command)
        ["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, env=env, cwd=ROOT
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} ... failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return wall, (int(peak.group(1)) / 1024 if peak else float("nan")), proc.stdout


def pct(xs: list[float], q: float) -> float:
    return float(sorted(xs)[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--chunks", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="2,000 chunks: checks the script runs")
    parser.add_argument("--no-qdrant", action="store_true")
    parser.add_argument("--no-hnswlib", action="store_true")
    parser.add_argument(
        "--keep", default="", help="work in this folder and keep it (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    n = 2000 if args.quick else args.chunks
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_million_"))
    corpus_dir, store_dir = work / "corpus", work / "store"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    print(f"bench_million: {n:,} chunks x 384 dims asked, in {work}; {load_average()}", flush=True)
    rows: list[tuple[str, str]] = []
    try:
        if not corpus_dir.exists():
            t0 = time.perf_counter()
            write_corpus(n, corpus_dir)
            print(f"  corpus written: {time.perf_counter() - t0:.1f} s", flush=True)
        else:  # --keep: the folder's corpus is used as it is (the table's first row says how many chunks it has)
            print(f"  reusing the corpus in {corpus_dir}", flush=True)
        chunks, ingest_s = fill_store(corpus_dir, store_dir)
        rows.append(("chunks", f"{chunks:,}"))
        rows.append(("ingest (cold, the CLI's loader)", f"{ingest_s:.1f} s"))
        print(
            f"  {chunks:,} chunks ingested in {ingest_s:.1f} s, vectors in the store; {load_average()}",
            flush=True,
        )
        backends = [b for b, off in (("hnswlib", args.no_hnswlib), ("qdrant", args.no_qdrant)) if not off]
        for backend in backends:
            qpath = str(work / "qdrant") if backend == "qdrant" else ""
            extra = ["--index", "qdrant", "--qdrant-path", qpath] if qpath else []
            cmd = [sys.executable, "-m", "core.cli", "build", "--corpus", str(corpus_dir), "--model", MODEL,
                   "--store", str(store_dir), "--json", *extra]  # fmt: skip
            wall, peak, out = _time_v(cmd, env)
            report = json.loads(out)
            stats = (
                next(iter(report["models"].values())) if isinstance(report.get("models"), dict) else report
            )
            index_s = _find(stats, "index_seconds")
            rows.append((f"{backend}: CLI build, wall (ingest cached, nothing embedded)", f"{wall:.1f} s"))
            rows.append(
                (f"{backend}: index seconds (the build's own figure)", f"{index_s:.1f} s" if index_s else "-")
            )
            rows.append((f"{backend}: CLI build peak RSS", f"{peak:,.0f} MB"))
            print(f"  {backend} build: {wall:.1f} s wall, index {index_s} s, peak {peak:,.0f} MB; {load_average()}",
                  flush=True)  # fmt: skip
            cmd = [sys.executable, "-c", _SEARCH_CHILD, str(corpus_dir), str(store_dir), qpath,
                   str(SEARCH_QUERIES), MODEL]  # fmt: skip
            _wall, peak, out = _time_v(cmd, env)
            res = json.loads(out.strip().splitlines()[-1])
            s, t = res["search_ms"], res["total_ms"]
            rows.append((f"{backend}: open (corpus from cache + index loaded)", f"{res['open_s']:.1f} s"))
            rows.append(
                (f"{backend}: search p50 / p95 (k=10)", f"{statistics.median(s):.2f} / {pct(s, 95):.2f} ms")
            )
            rows.append((f"{backend}: query embedded + search p50 / p95", f"{statistics.median(t):.1f} / {pct(t, 95):.1f} ms"))  # fmt: skip
            for ef, (rec, ms) in res["recall"].items():
                rows.append((f"{backend}: recall@10 vs exact at ef={ef} (100 stored vectors as queries; ms a query)",
                             f"{rec:.3f} ({ms:.2f} ms)"))  # fmt: skip
            rows.append((f"{backend}: search process peak RSS", f"{peak:,.0f} MB"))
            print(f"  {backend} search: p50 {statistics.median(s):.2f} ms, p95 {pct(s, 95):.2f} ms; {load_average()}",
                  flush=True)  # fmt: skip
        vec_mb = chunks * 384 * 4 / MB
        rows.append(("the vectors alone (float32)", f"{vec_mb:,.0f} MB"))
        du = sum(p.stat().st_size for p in work.rglob("*") if p.is_file()) / MB
        rows.append(("disk used (corpus, store, indexes)", f"{du:,.0f} MB"))
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n| step | {n:,} chunks |\n|---|---|")
    for label, value in rows:
        print(f"| {label} | {value} |")
    print(f"\n{load_average()}")


def _find(obj: object, key: str) -> float | None:
    """The first value of ``key`` anywhere in a JSON tree (the build report's layout may nest it)."""
    if isinstance(obj, dict):
        if key in obj and isinstance(obj[key], int | float):
            return float(obj[key])
        for v in obj.values():
            if (found := _find(v, key)) is not None:
                return found
    if isinstance(obj, list):
        for v in obj:
            if (found := _find(v, key)) is not None:
                return found
    return None


if __name__ == "__main__":
    main()
