"""Make sample_corpus/sample_bundle.zip: the sample corpus embedded by the bundled pair, for a quick start in seconds.

A real build (through the embedding store, so a second run reuses the vectors) of sample_corpus/docs with the
app's default chunking and the quick start's pair (ui.state.BUNDLED_PAIR), packed with core.bundle.archive together
with the sample queries and judgments. Run it again whenever sample_corpus/docs or the chunking defaults change:
tests/test_bundle.py fails until the shipped bundle matches the corpus.

    python scripts/make_sample_bundle.py [--store DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core.build import build_index, load_model, plan_build  # noqa: E402
from core.bundle import ExportModel, make_bundle, read_bundle  # noqa: E402
from core.cli import StderrProgress  # noqa: E402
from core.datasets import load_judged_folder  # noqa: E402
from core.ingest import ChunkOptions  # noqa: E402
from core.search import IndexParams  # noqa: E402
from core.store import EmbeddingStore  # noqa: E402

SAMPLE = ROOT / "sample_corpus"
OUT = SAMPLE / "sample_bundle.zip"
PAIR = ("multilingual-e5-small", "all-MiniLM-L6-v2")  # ui.state.BUNDLED_PAIR (A, B); a test keeps them equal
CORPUS_NAME = "sample corpus"  # the name ui.corpus.load_sample gives it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--store", default=None, help="embedding store (default: $RETRIEVAL_COMPARE_STORE or user cache)"
    )
    parser.add_argument("--out", default=str(OUT), help=f"bundle to write (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    judged = load_judged_folder(
        SAMPLE
    )  # docs/ with the default chunking, as the app's sample, plus the qrels
    corpus = judged.corpus
    corpus = type(corpus)(corpus.chunks, corpus.files, corpus.sha256, CORPUS_NAME)
    store = EmbeddingStore(args.store)
    params, options = IndexParams(), ChunkOptions()
    models = []
    for slot, name in zip("AB", PAIR, strict=True):
        t0 = time.perf_counter()
        plan = plan_build(corpus, name, device="cpu", params=params)
        embedder = load_model(plan)
        mi = build_index(plan, corpus, embedder, store=store, progress=StderrProgress(f"[{slot} {name}] embedding"))
        stats = mi.stats
        print(
            f"{slot} {name}: {len(corpus.chunks)} chunks, {stats.embedded if stats else '?'} embedded now, "
            f"{time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        models.append(ExportModel(slot=slot, name=name, embedder=embedder, vectors=mi.vectors))
    settings = {
        "chunking": {"unit": options.unit, "size": options.chunk_size, "overlap": options.chunk_overlap},
        "models": {"A": PAIR[0], "B": PAIR[1]},
        "max_tokens": {"A": None, "B": None},
        "index": {"M": params.M, "ef_construction": params.ef_construction, "ef_search": params.ef_search},
        "k": 10,
    }
    labels = {
        "qrels": {"queries": dict(judged.queries), "qrels": {q: dict(d) for q, d in judged.qrels.items()}}
    }
    data = make_bundle(corpus, models, settings=settings, labels=labels, origin="sample")
    read_bundle(data)  # what the app will accept
    out = Path(args.out)
    out.write_bytes(data)
    print(
        f"wrote {out} ({len(data) / 2**20:.2f} MiB): corpus {corpus.sha256[:12]}, {len(corpus.chunks)} chunks"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
