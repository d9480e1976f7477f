"""Scale: synthetic corpora of short chunks at 1k / 10k / 100k, one row per step, growth exponents between sizes.

Run: python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--quick]

The corpus: Markdown files of 100 sections each, one short chunk (100-260 chars) a section: English prose
(stopwords: the short-cut tags it), English headings-like lines without stopwords (the identifier tags them),
German and French lines, and one chunk in ten in Chinese or mixed zh/en; seeded, so every run loads the same
text. Each step is a function of the context that returns seconds; rows are appended to ``STEPS``. The growth
exponent between two sizes is log(t2/t1) / log(n2/n1): 1.0 is linear.

The build, Compare and frontier rows embed nothing: two "models" (384 dims, not trained for truncation, like
all-MiniLM-L6-v2 and multilingual-e5-small) whose document vectors are synthetic (``common.clustered_unit_vectors``,
normalised float32, a different seed each) and whose query vectors come from a hash of the query text (no model
time). Each goes through the project's own path: ``build_model_index`` (the store, then the full-dimension hnswlib
index as every build makes it), ``ModelIndex.answer`` plus ``deep_list`` for a Compare search (what
ui.compare.search_side runs, both models at once on two threads as the page does), ``sweep_index`` for the frontier
(200 pseudo-queries, k=10, HNSW included: the Frontier page's defaults).

The bundle rows: the corpus with two 384-dim "models" (``common.HashedModel``: a unit vector per text, seeded by its
hash) packed by ``core.bundle.make_bundle``, then ``read_bundle`` from its path and ``install`` into an empty store
in a fresh process, whose peak RSS (VmHWM: the Python interpreter, numpy and the imports included) is the figure,
not ``ru_maxrss``: Linux carries the parent's RSS at the fork into the child's (here the benchmark's own gigabyte).
Beside it the size of the vectors the bundle holds (both models, distinct texts). Issue 31's target: a peak at
most about twice the vectors' size.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import HashedModel, clustered_unit_vectors, load_average, ratio  # noqa: E402

from core.bundle import ExportModel, make_bundle  # noqa: E402
from core.frontier import sweep_index  # noqa: E402
from core.ingest import ChunkOptions, IngestCache, detect_language, load_files  # noqa: E402
from core.search import ModelIndex, build_model_index, chunk_rows, deep_list, pseudo_queries  # noqa: E402
from core.store import EmbeddingStore  # noqa: E402
from core.types import Corpus, ModelSpec, SearchParams  # noqa: E402

SECTIONS_PER_FILE = 100
OPTIONS = ChunkOptions(size=400, overlap=0)  # a section (heading + 100-260 chars) is one chunk
INGEST_TARGET_S = 60.0  # issue 31: ingest 100k short chunks in at most 60 s on 2 quiet cores
TARGET_SIZE = 100_000
DIM = 384
COMPARE_TARGET_MS = (
    300.0  # issue 31: Compare p50 <= 300 ms at 100k (core part; the page is a browser benchmark)
)
FRONTIER_TARGET_S = 300.0  # issue 31: the frontier at 100k in at most 5 minutes for both models
COMPARE_QUERIES = 40
FRONTIER_PSEUDO = 200
BUNDLE_PEAK_TARGET = 2.0  # issue 31: bundle import peak memory at most about twice the vectors' size
MB = 1 << 20

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


class SyntheticModel:
    """A 384-dim "model" that embeds nothing: documents get synthetic clustered unit vectors (seeded, one row per
    distinct text in corpus order), queries a unit vector from a hash of their text."""

    device = "cpu"
    max_tokens = 512
    notes: list[str] = []

    def __init__(self, name: str, texts: Sequence[str], *, seed: int) -> None:
        self.spec = ModelSpec(name=name, model_id=f"synthetic/{name}", dim=DIM)
        self.calls = 0
        self.cache_key = f"synthetic/{name}|seed{seed}|n{len(texts)}"
        rows = {t: i for i, t in enumerate(dict.fromkeys(texts))}
        self._rows, self._vectors = rows, clustered_unit_vectors(len(rows), DIM, seed=seed)

    def encode_documents(self, texts: Sequence[str], **_: object) -> np.ndarray:
        self.calls += 1
        return self._vectors[[self._rows[t] for t in texts]]

    def encode_queries(self, texts: Sequence[str], *, instruction: str | None = None) -> np.ndarray:
        out = np.empty((len(texts), DIM), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.sha256(f"{self.spec.name}:{t}".encode()).digest()[:8], "little")
            row = self._vectors[seed % len(self._vectors)]  # near a document, as a real query is
            noise = np.random.default_rng(seed).standard_normal(DIM).astype(np.float32)
            out[i] = row + 0.05 * noise
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def pool_summary(self) -> str:
        return ""

    def runtime(self) -> str:
        return "synthetic vectors (nothing embedded)"


@dataclass
class Context:
    """What the steps of one size share: the files, a cache folder, the corpus of the cold load, the built models."""

    files: list[tuple[str, bytes]]
    cache_root: Path
    corpus: Corpus | None = None
    notes: list[str] = field(default_factory=list)
    models: list[ModelIndex] = field(default_factory=list)
    compare_p95_s: float = float("nan")
    bundle_vectors_mb: float = float("nan")


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


def step_build(ctx: Context) -> float:
    """build_model_index for both models (vectors through the store, then each full-dimension hnswlib index):
    the index seconds of both (BuildStats.index_seconds: hnswlib, plus whatever else the build does after it)."""
    assert ctx.corpus is not None
    texts = [c.embed_text for c in ctx.corpus.chunks]
    store = EmbeddingStore(ctx.cache_root / "store")
    total = 0.0
    for name, seed in (("synthetic-minilm", 11), ("synthetic-e5", 12)):
        mi = build_model_index(ctx.corpus, SyntheticModel(name, texts, seed=seed), store=store)  # type: ignore[arg-type]
        assert mi.stats is not None
        total += mi.stats.index_seconds
        ctx.models.append(mi)
    return total


def _compare_once(
    pool: ThreadPoolExecutor, models: list[ModelIndex], query: str, rows: dict[str, int]
) -> None:
    def side(mi: ModelIndex) -> None:  # ui.compare.search_side's core calls
        params = SearchParams(k=10)
        answer = mi.answer(query, params)
        deep_list(mi, query, params, query_vector=answer.query_vector, rows=rows)

    for f in [pool.submit(side, mi) for mi in models]:
        f.result()


def _compare_ms(ctx: Context) -> list[float]:
    models = ctx.models
    assert models and ctx.corpus is not None
    rows = chunk_rows(ctx.corpus)  # the page keeps it per corpus (resources.memo)
    words = itertools.product(("cache", "index", "quota", "tenant", "webhook"), ("search", "billing", "backup",
                              "upload", "retention", "ranking", "replicas", "regions"))  # fmt: skip
    queries = [f"how do I configure {w} for {v}" for w, v in words][:COMPARE_QUERIES]
    ms = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for q in queries[:3]:  # warm-up: the first answers (left out, as the page's latency table does)
            _compare_once(pool, models, "warm " + q, rows)
        for q in queries:
            t0 = time.perf_counter()
            _compare_once(pool, models, q, rows)
            ms.append((time.perf_counter() - t0) * 1e3)
    return ms


def step_compare_p50(ctx: Context) -> float:
    """One Compare search, both models at once (HNSW, k=10, full dims, z-scores and deep ranks): p50."""
    ms = _compare_ms(ctx)
    ctx.compare_p95_s = float(np.percentile(ms, 95)) / 1e3
    return statistics.median(ms) / 1e3


def step_compare_p95(ctx: Context) -> float:
    """The same searches' p95 (measured in the p50 row's run)."""
    return ctx.compare_p95_s


def step_frontier(ctx: Context) -> float:
    """sweep_index for both models: 200 pseudo-queries, k=10, every dimension, precision and HNSW (page defaults).

    sentence-transformers (the binary packing's quantize_embeddings) is imported first, untimed: the app has it
    loaded already, and its import alone is a minute on a busy machine."""
    import sentence_transformers  # noqa: F401

    t0 = time.perf_counter()
    for mi in ctx.models:
        rows = pseudo_queries(len(mi.corpus.chunks), n=FRONTIER_PSEUDO)
        sweep_index(mi, mi.vectors[rows], k=10, hnsw=True, exclude=rows)
    return time.perf_counter() - t0


# A fresh process imports the bundle (read from its path, install into an empty store) and prints its peak RSS:
# only what an import needs is imported (core.bundle, core.store, the hashed models), as the CLI's import runs.
_IMPORT_CHILD = r"""
import json, os, resource, sys
sys.path[:0] = [sys.argv[3], os.path.dirname(sys.argv[3])]
from common import HashedModel
from core.bundle import install, read_bundle
from core.store import EmbeddingStore


def mb(field):  # VmRSS: resident now; VmHWM: the peak of this program (since its exec)
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith(field)) / 1024


base = mb("VmRSS")
bundle = read_bundle(sys.argv[1])
done = install(bundle, {m.slot: HashedModel(m.name) for m in bundle.models}, EmbeddingStore(sys.argv[2]))
maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"peak_mb": mb("VmHWM"), "base_mb": base, "maxrss_mb": maxrss, "written": [d.written for d in done]}))
"""


def step_bundle_import_peak(ctx: Context) -> float:
    """Peak RSS (MB) of a fresh process that imports a two-model bundle of the corpus from its path (``read_bundle``
    then ``install`` into an empty store); the bundle is made here first (``make_bundle``), untimed."""
    assert ctx.corpus is not None
    texts = [c.embed_text for c in ctx.corpus.chunks]
    models = []
    for slot in ("A", "B"):
        model = HashedModel(f"hashed-{slot}", dim=DIM)
        models.append(ExportModel(slot=slot, name=model.spec.name, embedder=model, vectors=model.encode_documents(texts)))  # type: ignore[arg-type]  # fmt: skip
    data = make_bundle(ctx.corpus, models, origin="upload")
    distinct = len(dict.fromkeys(texts))
    ctx.bundle_vectors_mb = 2 * distinct * DIM * 4 / MB
    path = ctx.cache_root / "bundle.zip"
    path.write_bytes(data)
    del data, models
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    run = subprocess.run(  # noqa: S603 (our own interpreter and a fixed command)
        [sys.executable, "-c", _IMPORT_CHILD, str(path), str(ctx.cache_root / "import-store"), str(HERE)],
        capture_output=True, text=True, cwd=HERE.parent, env=env, timeout=1800,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the bundle import failed: {run.stderr[-2000:]}")
    found = json.loads(run.stdout.strip().splitlines()[-1])
    ctx.notes.append(
        f"bundle {path.stat().st_size / MB:,.0f} MB zip, {ctx.bundle_vectors_mb:,.0f} MB vectors, import peak "
        f"{found['peak_mb']:,.0f} MB RSS ({found['base_mb']:,.0f} MB after its imports)"
    )
    return float(found["peak_mb"])


def step_bundle_vectors(ctx: Context) -> float:
    """The vectors that bundle holds (both models, one row per distinct text, float32), MB: what the peak is
    measured against."""
    return ctx.bundle_vectors_mb


# (row label, step)
STEPS: list[tuple[str, Callable[[Context], float]]] = [
    ("ingest, cold (no cache)", step_ingest_cold),
    ("ingest, cached (second load)", step_ingest_cached),
    ("language ID, every chunk", step_language_id),
    ("index build, both models (hnswlib, 384-d synthetic)", step_build),
    ("Compare search p50, both models (HNSW k=10)", step_compare_p50),
    ("Compare search p95", step_compare_p95),
    ("frontier sweep, both models (HNSW incl.)", step_frontier),
    ("bundle import peak RSS (MB)", step_bundle_import_peak),
    ("bundle vectors, both models (MB)", step_bundle_vectors),
]
NEEDED = (step_ingest_cold, step_build)  # every --only run: the corpus, and the models the later rows search
MEGABYTE_ROWS = {"bundle import peak RSS (MB)", "bundle vectors, both models (MB)"}  # MB, not seconds


def _fmt(secs: float | None, label: str = "") -> str:
    if secs is None or secs != secs:
        return "-"
    if label in MEGABYTE_ROWS:
        return f"{secs:,.0f} MB"
    if secs < 1:
        return f"{secs * 1e3:.1f} ms"
    return f"{secs:.2f} s" if secs < 10 else f"{secs:.1f} s"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes", default="1000,10000,100000", help="corpus sizes in chunks, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes (200,1000): checks the script runs")
    parser.add_argument(
        "--no-frontier", action="store_true", help="leave the frontier row out (the slow one)"
    )
    parser.add_argument(
        "--only",
        default="",
        help="only the rows whose label holds this text (and the ingest and build they need)",
    )
    args = parser.parse_args(argv)
    sizes = [200, 1000] if args.quick else [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"bench_scale: {load_average()}", flush=True)
    steps = [
        (label, step)
        for label, step in STEPS
        if not (args.no_frontier and step is step_frontier)
        and (step in NEEDED or args.only.lower() in label.lower())
    ]
    table: dict[str, dict[int, float]] = {label: {} for label, _ in steps}
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            ctx = Context(files=synthetic_files(n), cache_root=Path(tmp))
            for label, step in steps:
                table[label][n] = step(ctx)
                print(f"  {n:>7,} {label}: {_fmt(table[label][n], label)}", flush=True)
            print(f"  {n:>7,}: " + "; ".join(ctx.notes) + f"; {load_average()}", flush=True)
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
        print("| " + " | ".join([label, *(_fmt(row.get(n), label) for n in sizes), *growth]) + " |")
    top = max(sizes)
    report = top != TARGET_SIZE
    note = f"{top:,} chunks" + ("" if not report else f"; the target is for {TARGET_SIZE:,}")
    if "ingest, cold (no cache)" in table:
        ratio(f"scale ingest {top:,} chunks cold s", table["ingest, cold (no cache)"][top], target=INGEST_TARGET_S,
              op="<=", note=note, report=report)  # fmt: skip
    if "ingest, cached (second load)" in table:
        ratio(f"scale ingest {top:,} chunks cached s", table["ingest, cached (second load)"][top],
              target=INGEST_TARGET_S / 4, op="<=", note="a second command or page on the same files", report=report)  # fmt: skip
    compare = "Compare search p50, both models (HNSW k=10)"
    if compare in table:
        ratio(f"scale Compare {top:,} chunks p50 ms", table[compare][top] * 1e3, target=COMPARE_TARGET_MS,
              op="<=", note=note + "; core part, no query-embedding time", report=report)  # fmt: skip
    peak = "bundle import peak RSS (MB)"
    if peak in table and table.get("bundle vectors, both models (MB)", {}).get(top):
        ratio(f"scale bundle import {top:,} chunks peak RSS / vectors", table[peak][top] / table["bundle vectors, both models (MB)"][top],
              target=BUNDLE_PEAK_TARGET, op="<=", note=note + "; read from its path, fresh process", report=report)  # fmt: skip
    frontier = "frontier sweep, both models (HNSW incl.)"
    if frontier in table:
        ratio(f"scale frontier {top:,} chunks s", table[frontier][top], target=FRONTIER_TARGET_S, op="<=",
              note=note, report=report)  # fmt: skip


if __name__ == "__main__":
    main()
