"""Scale: synthetic corpora of short chunks at 1k / 10k / 100k, one row per step, growth exponents between sizes.

Run: python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--quick]

The corpus: Markdown files of 100 sections each, one short chunk (100-260 chars) a section: English prose
(stopwords: the short-cut tags it), English headings-like lines without stopwords (the identifier tags them),
German and French lines, and one chunk in ten in Chinese or mixed zh/en; seeded, so every run loads the same
text. Each step is a function of (files, expected chunks, context) that returns seconds; later work adds rows
(build, frontier, Compare query) by appending to ``STEPS``. The growth exponent between two sizes is
log(t2/t1) / log(n2/n1): 1.0 is linear.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import load_average, ratio  # noqa: E402

from core.ingest import ChunkOptions, IngestCache, detect_language, load_files  # noqa: E402
from core.types import Corpus  # noqa: E402

SECTIONS_PER_FILE = 100
OPTIONS = ChunkOptions(size=400, overlap=0)  # a section (heading + 100-260 chars) is one chunk
INGEST_TARGET_S = 60.0  # issue 31: ingest 100k short chunks in at most 60 s on 2 quiet cores
TARGET_SIZE = 100_000

_EN_WORDS = (
    "index query vector model token search ranking chunk corpus embedding latency cache shard replica "
    "cluster filter schema tenant webhook signature cursor pagination backup restore policy retention "
    "upload document metadata endpoint request response error limit quota region billing invoice"
).split()
_STOP = "the and of to is that for with are this by as it from or which not can when".split()
_DE = [
    "Der Dienst ist nach der Anmeldung nicht erreichbar",
    "Die Suche liefert keine Ergebnisse für diese Anfrage",
]
_FR = [
    "Le service ne répond plus après la connexion",
    "La recherche ne renvoie aucun résultat pour cette requête",
]
_ZH = [
    "区块链的共识机制是各个节点就账本状态达成一致的方法，工作量证明要求节点完成计算难题。",
    "调用 /auth/login 获取 access token，然后在 Authorization header 中携带 Bearer token。",
    "向量检索把文档转换为向量，再按余弦相似度返回最相近的结果，索引每天凌晨重建一次。",
]


def _section(rng: random.Random, k: int) -> str:
    kind = rng.random()
    if kind < 0.1:
        body = " ".join(rng.sample(_ZH, 2))
    elif kind < 0.15:
        body = rng.choice(_DE) + ". " + rng.choice(_FR) + "."
    elif kind < 0.45:  # heading-like, no stopwords: the identifier decides
        body = " ".join(w.capitalize() for w in rng.choices(_EN_WORDS, k=rng.randint(3, 8)))
    else:
        words = [
            rng.choice(_STOP) if rng.random() < 0.3 else rng.choice(_EN_WORDS)
            for _ in range(rng.randint(16, 40))
        ]
        body = " ".join(words).capitalize() + "."
    return f"## Section {k}\n\n{body}\n"


def synthetic_files(n_chunks: int, *, seed: int = 0) -> list[tuple[str, bytes]]:
    """About ``n_chunks`` short chunks in Markdown files of SECTIONS_PER_FILE sections (seeded)."""
    rng = random.Random(seed)
    files = []
    for f in range(max(1, math.ceil(n_chunks / SECTIONS_PER_FILE))):
        count = min(SECTIONS_PER_FILE, n_chunks - f * SECTIONS_PER_FILE) or 1
        text = "\n".join(_section(rng, k) for k in range(count))
        files.append((f"part{f // 100:03d}/file{f:05d}.md", text.encode("utf-8")))
    return files


@dataclass
class Context:
    """What the steps of one size share: the files, a cache folder, the corpus of the cold load."""

    files: list[tuple[str, bytes]]
    cache_root: Path
    corpus: Corpus | None = None
    notes: list[str] = field(default_factory=list)


def _timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def step_ingest_cold(ctx: Context) -> float:
    """load_files with an empty ingest cache: read, chunk, tag languages, write the cache."""
    secs, corpus = _timed(lambda: load_files(ctx.files, options=OPTIONS, cache=IngestCache(ctx.cache_root)))
    assert isinstance(corpus, Corpus)
    ctx.corpus = corpus
    ctx.notes.append(
        f"{len(corpus.chunks)} chunks, languages {dict(sorted(corpus.lang_histogram().items()))}"
    )
    return secs


def step_ingest_cached(ctx: Context) -> float:
    """The same files again (a second CLI command or page): every file from the cache."""
    cache = IngestCache(ctx.cache_root)
    secs, corpus = _timed(lambda: load_files(ctx.files, options=OPTIONS, cache=cache))
    assert isinstance(corpus, Corpus) and ctx.corpus is not None and corpus.sha256 == ctx.corpus.sha256
    assert cache.misses == 0, f"{cache.misses} cache misses on the second load"
    return secs


def step_language_id(ctx: Context) -> float:
    """detect_language over every chunk's text alone (the part of the cold ingest that langdetect made slow)."""
    assert ctx.corpus is not None
    texts = [c.text for c in ctx.corpus.chunks]
    secs, _ = _timed(lambda: [detect_language(t) for t in texts])
    return secs


# (row label, step): later work appends build, frontier and Compare-query rows here.
STEPS: list[tuple[str, Callable[[Context], float]]] = [
    ("ingest, cold (no cache)", step_ingest_cold),
    ("ingest, cached (second load)", step_ingest_cached),
    ("language ID, every chunk", step_language_id),
]


def _fmt(secs: float | None) -> str:
    return "-" if secs is None else (f"{secs:.2f} s" if secs < 10 else f"{secs:.1f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="corpus sizes in chunks, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (200,1000): checks the script runs")
    args = parser.parse_args(argv)
    sizes = [200, 1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"bench_scale: {load_average()}", flush=True)
    table: dict[str, dict[int, float]] = {label: {} for label, _ in STEPS}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context(files=synthetic_files(n), cache_root=Path(tmp))
            for label, step in STEPS:
                table[label][n] = step(ctx)
                print(f"  {n:>7,} {label}: {_fmt(table[label][n])}", flush=True)
            print(f"  {n:>7,}: " + "; ".join(ctx.notes), flush=True)
    head = [
        "step",
        *(f"{n:,}" for n in sizes),
        *(f"growth {a:,}->{b:,}" for a, b in itertools.pairwise(sizes)),
    ]
    print("\n| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for label, row in table.items():
        growth = [
            f"N^{math.log(row[b] / row[a]) / math.log(b / a):.2f}" if row[a] > 0 and row[b] > 0 else "-"
            for a, b in itertools.pairwise(sizes)
        ]
        print("| " + " | ".join([label, *(_fmt(row.get(n)) for n in sizes), *growth]) + " |")
    top = max(sizes)
    report = top != TARGET_SIZE
    note = f"{top:,} chunks" + ("" if not report else f"; the target is for {TARGET_SIZE:,}")
    if "ingest, cold (no cache)" in table:
        ratio(f"scale ingest {top:,} chunks cold s", table["ingest, cold (no cache)"][top], target=INGEST_TARGET_S,
              op="<=", note=note, report=report)  # fmt: skip
    if "ingest, cached (second load)" in table:
        ratio(f"scale ingest {top:,} chunks cached s", table["ingest, cached (second load)"][top],
              target=INGEST_TARGET_S / 4, op="<=", note="a second command or page on the same files", report=report)  # fmt: skip


if __name__ == "__main__":
    main()
