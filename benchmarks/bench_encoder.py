"""Encoder efficiency: all-MiniLM-L6-v2 achieved tokens/s against the FLOP ceiling, and thread settings.

Target 7 (report): tokens/s through the engine (real text chunks, batch 32) as a fraction of the ceiling
measured matmul rate / (2 x parameters per token). Also: 2 x non-embedding parameters (the matmul work that
really happens per token), one query's latency at 1 and 2 torch threads, and whether the sentence-transformers
ONNX backend can be used here. Run: python benchmarks/bench_encoder.py [--quick]
"""

from __future__ import annotations

import importlib.util
import time

from common import info, load_average, matmul_rate, median, parse_args, ratio, real_corpus, times

from core.models import load_embedder, resolve_model


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n = 16 if args.quick else 192
    print(f"bench_encoder: {n} chunks; {load_average()}")
    import torch

    embedder = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    model = embedder.model
    texts = [c.embed_text for c in real_corpus(n).chunks]
    tok = model.tokenizer(texts, truncation=True, max_length=embedder.max_tokens)
    tokens = sum(len(ids) for ids in tok["input_ids"])
    params = sum(p.numel() for p in model.parameters())
    emb_params = sum(p.numel() for name, p in model.named_parameters() if "embeddings" in name)
    embedder.encode_documents(texts[:8])
    t0 = time.perf_counter()
    embedder.encode_documents(texts)
    seconds = time.perf_counter() - t0
    rate = matmul_rate(n=512 if args.quick else 2048)
    achieved = tokens / seconds
    ceiling = rate / (2.0 * params)
    info("measured matmul", f"{rate / 1e9:.1f} GFLOP/s; torch threads {torch.get_num_threads()}")
    info(
        "MiniLM",
        f"{tokens} tokens ({tokens / n:.0f}/chunk) in {seconds:.1f} s = {achieved:.0f} tokens/s; "
        f"ceiling {ceiling:.0f} tokens/s at 2 x {params / 1e6:.1f}M params; "
        f"{achieved * 2 * (params - emb_params) / rate:.0%} of the matmul rate counting only the "
        f"{(params - emb_params) / 1e6:.1f}M non-embedding params",
    )
    ratio("minilm tokens/s / FLOP ceiling (report)", achieved / ceiling, target=0.0, report=True)
    query = ["how do I parse a date string into a datetime"]
    default_threads = torch.get_num_threads()
    for threads in (default_threads, 1):
        torch.set_num_threads(threads)
        ms = median(times(lambda: embedder.encode_queries(query), repeat=5 if args.quick else 20)) * 1e3
        info(f"one query, {threads} torch thread(s)", f"p50 {ms:.1f} ms")
    torch.set_num_threads(default_threads)
    missing = [m for m in ("onnxruntime", "optimum") if importlib.util.find_spec(m) is None]
    info(
        "ONNX backend",
        "not tried: " + ", ".join(missing) + " not installed (optimum-onnx 0.1.0 pins transformers<4.58; "
        "this environment has transformers 5.x)"
        if missing
        else "installed (try SentenceTransformer(..., backend='onnx'))",
    )


if __name__ == "__main__":
    main()
