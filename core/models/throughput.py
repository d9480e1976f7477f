"""One embedding throughput per model and device, said where it comes from, and what it costs at scale.

Three origins, one value (``Throughput``):

- *build*: the last real build on this machine (chunks the model embedded / seconds it took), recorded in the
  embedding store with when it ran and the machine's load, so every page, the report and the CLI read the same;
- *sample*: when no build embedded enough chunks, a timed batch of at least ``SAMPLE_CHUNKS`` chunks (warm-up
  excluded), recorded the same way;
- *declared*: a figure for target hardware, typed by the user or one of ``DECLARED`` with its source.

``embed_cost`` turns a throughput into hours and dollars: GPU-hours only for a GPU throughput, CPU-hours
(hours x cores) for a CPU one, machine-hours for an endpoint whose hardware is unknown here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.errors import DashboardError, StoreError
from core.models.device import device_kind
from core.models.tokenizer import load_tokenizer
from core.store import EmbeddingStore, atomic_write_bytes
from core.text import format_duration
from core.types import Embedder, ModelSpec

Origin = Literal["build", "sample", "declared"]
SAMPLE_CHUNKS = 32  # a timed sample embeds at least this many chunks (8 was noise on a busy CPU)
MIN_BUILD_CHUNKS = 32  # a build that embedded fewer says little: it is not recorded
TOKEN_SAMPLE = 256  # chunks whose tokens are counted to turn docs/s into tokens/s
RECORD_BLOB = "throughput/measured.json"
HOURS_PER_MONTH = 730.0
_LOCK = threading.Lock()
SEED_ARTICLE = "the article that started this project (seed/000_8835f25c76e5f70c.txt, its model table)"


@dataclass(frozen=True)
class Declared:
    """A published throughput for target hardware: which models it applies to, the figure and where it is from."""

    pattern: str  # regular expression on the model name (case-insensitive)
    docs_per_s: float
    hardware: str
    source: str


DECLARED: tuple[Declared, ...] = (
    Declared(r"qwen3-embedding-4b", 800.0, "RTX 3060 (Qwen3-Embedding-4B GGUF Q4)", SEED_ARTICLE),
    Declared(r"bge-base", 1500.0, "RTX 3060", SEED_ARTICLE),
)


@dataclass(frozen=True)
class Throughput:
    """How fast a model embeds documents on some hardware, and how that is known."""

    model: str
    docs_per_s: float
    tokens_per_s: float | None = None
    origin: Origin = "declared"
    device: str = "gpu"  # device kind: "cpu", "cuda", "mps", "endpoint"; "gpu" for declared GPU hardware
    hardware: str = ""  # "this CPU (2 cores)", "RTX 3060"
    chunks: int = 0  # chunks timed (build or sample)
    measured_at: float | None = None  # Unix seconds
    load: float | None = None  # 1-minute load average when measured
    source: str = ""  # where a declared figure comes from
    cores: int = 0  # CPU cores of a CPU measurement (CPU-hours = hours x cores)

    @property
    def gpu(self) -> bool:
        return self.device in ("cuda", "mps", "gpu")

    @property
    def hour_unit(self) -> str:
        """What an hour of this throughput is billed as."""
        if self.gpu:
            return "GPU-hours"
        return "CPU-hours" if self.device == "cpu" else "machine-hours"

    def describe(self, *, now: float | None = None) -> str:
        """Where the figure comes from: 'measured on this CPU (2 cores) while building 606 chunks, 3 min ago
        (load 1.2)' or 'declared: RTX 3060 (source)'."""
        if self.origin == "declared":
            return f"declared: {self.hardware or 'target hardware'}" + (
                f" ({self.source})" if self.source else ""
            )
        how = (
            f"while building {self.chunks:,} chunks"
            if self.origin == "build"
            else f"on a timed sample of {self.chunks:,} chunks"
        )
        when = ""
        if self.measured_at is not None:
            age = max(0.0, (time.time() if now is None else now) - self.measured_at)
            when = ", just now" if age < 60 else f", {format_duration(age)} ago"
        load = f" (load {self.load:.1f})" if self.load is not None else ""
        busy = (
            f"; the machine was busy (load {self.load:.1f} on {self.cores} cores), so a quiet machine is likely "
            "faster: build again when it is idle to re-measure"
            if self.busy
            else ""
        )
        return f"measured on {self.hardware or 'this machine'} {how}{when}{load}{busy}"

    @property
    def busy(self) -> bool:
        """Measured while other work held the CPU (1-minute load above the cores it had): a low figure."""
        return self.origin != "declared" and self.load is not None and self.cores > 0 and self.load > self.cores

    def label(self, *, now: float | None = None) -> str:
        """'145.2 docs/s (measured on ...)' : the figure and its origin, as every page prints it."""
        tokens = f", {self.tokens_per_s:,.0f} tokens/s" if self.tokens_per_s else ""
        return f"{self.docs_per_s:,.1f} docs/s{tokens} ({self.describe(now=now)})"

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EmbedCost:
    """Embedding ``chunks`` once at one throughput: wall-clock hours, billed hours and dollars."""

    chunks: int
    throughput: Throughput
    hours: float  # wall-clock hours on that hardware
    billed_hours: float  # GPU-hours (one GPU), CPU-hours (hours x cores) or machine-hours
    usd: float
    price: str  # the rate it was priced at, in words

    @property
    def unit(self) -> str:
        return self.throughput.hour_unit

    def sentence(self) -> str:
        """'embedding 10,000,000 chunks at 145.2 docs/s (measured on ...) takes 19 h = 38.3 CPU-hours = $2.10 at
        $0.04/CPU-hour (once).'"""
        tp = self.throughput
        if not tp.docs_per_s > 0:
            return f"{tp.model}: no throughput above 0 docs/s, so no embedding time ({tp.describe()})."
        on_cores = f" on {tp.cores} cores" if tp.device == "cpu" and tp.cores > 1 else ""
        return (
            f"{tp.model}: embedding {self.chunks:,} chunks at {tp.label()} takes "
            f"{format_duration(self.hours * 3600)}{on_cores} = {self.billed_hours:,.1f} {self.unit} = "
            f"${self.usd:,.2f} at {self.price} (once)."
        )


def embed_cost(
    tp: Throughput, chunks: int, *, usd_per_gpu_hour: float, usd_per_cpu_core_month: float
) -> EmbedCost:
    """Hours and dollars to embed ``chunks`` at ``tp``: a GPU hour at ``usd_per_gpu_hour``; a CPU hour per core at
    ``usd_per_cpu_core_month`` / 730; an endpoint's machine-hour priced as a GPU hour (its hardware is unknown)."""
    hours = chunks / tp.docs_per_s / 3600 if tp.docs_per_s > 0 else float("nan")
    if tp.device == "cpu":
        cores = max(tp.cores, 1)
        per_hour = usd_per_cpu_core_month / HOURS_PER_MONTH
        billed, usd = hours * cores, hours * cores * per_hour
        price = f"${per_hour:,.3f}/CPU-hour (${usd_per_cpu_core_month:,.2f} per core-month / 730)"
    else:
        billed, usd = hours, hours * usd_per_gpu_hour
        unit = "GPU-hour" if tp.gpu else "machine-hour (priced as a GPU-hour)"
        price = f"${usd_per_gpu_hour:,.2f}/{unit}"
    return EmbedCost(chunks, tp, hours, billed, usd, price)


# ---- declared figures -------------------------------------------------------------------------------------


def declared_default(model: str) -> Declared | None:
    """The published figure that applies to this model name, if any (DECLARED)."""
    return next((d for d in DECLARED if re.search(d.pattern, model, re.IGNORECASE)), None)


def declared_throughput(
    model: str, *, docs_per_s: float | None = None, hardware: str | None = None
) -> Throughput:
    """A throughput for target hardware: the DECLARED default for this model, or the user's own figure.

    Raises:
        DashboardError: no figure is given and none is published for this model (the message says what to enter).
    """
    d = declared_default(model)
    rate = docs_per_s if docs_per_s is not None and docs_per_s > 0 else (d.docs_per_s if d else None)
    if rate is None:
        raise DashboardError(
            f"No declared throughput is known for {model}: enter the docs/s your target hardware reaches "
            "(e.g. from your embedding server's benchmark), or use the throughput measured here."
        )
    own = d is None or rate != d.docs_per_s or (hardware not in (None, "", d.hardware))
    return Throughput(
        model=model,
        docs_per_s=float(rate),
        origin="declared",
        device="gpu",
        hardware=(hardware or (d.hardware if d else "")) or "your target hardware",
        source="your figure" if own else (d.source if d else ""),
    )


# ---- measured on this machine -----------------------------------------------------------------------------


def hardware_name(device: str) -> str:
    """This machine's device in words: 'this CPU (2 cores)', 'this GPU (NVIDIA H100)', 'the endpoint'."""
    kind = device_kind(device)
    if kind == "cpu":
        return f"this CPU ({os.cpu_count() or 1} cores)"
    if kind == "endpoint":
        return "the endpoint's server"
    name = ""
    if kind == "cuda":
        try:
            import torch  # loaded already when a model runs on CUDA

            name = torch.cuda.get_device_name(0)
        except Exception:  # a name is decoration: the figure stands without it
            name = ""
    return f"this GPU ({name})" if name else "this GPU"


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):  # not on every platform
        return None


def tokens_per_chunk(spec: ModelSpec, texts: Sequence[str]) -> float:
    """Mean tokens per chunk over up to TOKEN_SAMPLE texts (the model's tokenizer, else 4 characters a token)."""
    sample = [t for t in texts[:TOKEN_SAMPLE]]
    if not sample:
        return 0.0
    tok = load_tokenizer(spec)
    if tok is not None:
        ids = tok(sample, truncation=True, max_length=spec.max_tokens or 512)["input_ids"]
        return sum(len(i) for i in ids) / len(sample)
    return sum(max(1, len(t) // 4) for t in sample) / len(sample)


def measured(
    embedder: Embedder, *, chunks: int, seconds: float, texts: Sequence[str], origin: Origin
) -> Throughput:
    """A throughput from chunks embedded in ``seconds`` on this machine now (tokens/s from ``texts``' lengths)."""
    kind = device_kind(embedder.device)
    docs = chunks / seconds if seconds > 0 else 0.0
    per_chunk = tokens_per_chunk(embedder.spec, texts)
    return Throughput(
        model=embedder.spec.name,
        docs_per_s=docs,
        tokens_per_s=docs * per_chunk if per_chunk else None,
        origin=origin,
        device=kind,
        hardware=hardware_name(embedder.device),
        chunks=chunks,
        measured_at=time.time(),
        load=_load(),
        cores=(os.cpu_count() or 1) if kind == "cpu" else 0,
    )


def sample_throughput(embedder: Embedder, texts: Sequence[str], *, n: int = SAMPLE_CHUNKS) -> Throughput:
    """Time ``n`` chunks (at least SAMPLE_CHUNKS; the texts repeat when there are fewer) after an untimed warm-up."""
    pool = [t for t in texts if t.strip()] or ["calibration text " * 20]
    n = max(n, SAMPLE_CHUNKS)
    batch = [pool[i % len(pool)] for i in range(n)]
    embedder.encode_documents(batch[:2], batch_size=2)  # warm-up: allocations, kernels, lazy init
    t0 = time.perf_counter()
    embedder.encode_documents(batch, batch_size=32)
    return measured(embedder, chunks=n, seconds=time.perf_counter() - t0, texts=batch, origin="sample")


def _key(model: str, device: str) -> str:
    return f"{model}|{device_kind(device)}|{platform.node()}"


def _read(store: EmbeddingStore) -> dict[str, dict]:
    path = store.blob_path(RECORD_BLOB)
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: measured again
        return {}
    return found if isinstance(found, dict) else {}


def _from_json(d: dict) -> Throughput | None:
    names = {f.name for f in dataclasses.fields(Throughput)}
    try:
        tp = Throughput(**{k: v for k, v in d.items() if k in names})
        return tp if tp.docs_per_s > 0 else None
    except TypeError:
        return None


def record(store: EmbeddingStore, tp: Throughput) -> None:
    """Keep a measured throughput in the store (one per model, device and machine); a build's replaces a sample's,
    a sample never replaces a build's."""
    if tp.origin == "declared" or not tp.docs_per_s > 0:
        return
    with _LOCK:
        every = _read(store)
        key = _key(tp.model, tp.device)
        old = every.get(key, {}).get("origin")
        if tp.origin == "sample" and old == "build":
            return
        every[key] = tp.to_json()
        atomic_write_bytes(store.blob_path(RECORD_BLOB), json.dumps(every, indent=1).encode("utf-8"))


def recorded(store: EmbeddingStore, model: str, device: str) -> Throughput | None:
    """The throughput last measured for this model on this device kind of this machine, if any."""
    with _LOCK:
        found = _read(store).get(_key(model, device))
    return _from_json(found) if isinstance(found, dict) else None


def record_build(
    store: EmbeddingStore, embedder: Embedder, *, embedded: int, seconds: float, texts: Sequence[str]
) -> Throughput | None:
    """Record what a build measured (when it embedded at least MIN_BUILD_CHUNKS chunks); the throughput or None."""
    if embedded < MIN_BUILD_CHUNKS or seconds <= 0:
        return None
    tp = measured(embedder, chunks=embedded, seconds=seconds, texts=texts, origin="build")
    try:
        record(store, tp)
    except StoreError:  # the build itself succeeded; a store that cannot take the record measures again later
        return tp
    return tp


def current_throughput(embedder: Embedder, store: EmbeddingStore, texts: Sequence[str]) -> Throughput:
    """The one measured throughput of this model here: the last build's (or sample's) record, else a timed
    sample of SAMPLE_CHUNKS chunks of ``texts``, recorded so that every reader gets the same figure."""
    found = recorded(store, embedder.spec.name, embedder.device)
    if found is not None:
        return found
    tp = sample_throughput(embedder, texts)
    record(store, tp)
    return tp
