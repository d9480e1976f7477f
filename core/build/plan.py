"""One build use case for every caller (CLI, pages, report, scripts, benchmarks): plan, load, build.

``plan_build`` resolves the model choice once and refuses up front what would end in an out-of-memory kill;
``load_model`` loads what the plan names; ``build_index`` embeds through the store (only unseen texts reach the
model) and builds the index the plan asks for. ``build`` runs all three for a notebook or a script.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from core.models import FitReport, check_build_fits, load_embedder, record_build, resolve_model
from core.models.endpoint import DEFAULT_TIMEOUT
from core.search import IndexBackend, IndexParams, ModelIndex, build_model_index
from core.store import EmbeddingStore
from core.types import Corpus, Embedder, ModelSpec, Progress


@dataclass(frozen=True)
class BuildPlan:
    """What one model's build will be: the model, where it runs, the index, and the memory check it passed."""

    spec: ModelSpec
    chunks: int
    device: str = "auto"
    max_tokens: int | None = None
    trust_remote_code: bool = False
    params: IndexParams = IndexParams()
    backend: IndexBackend | None = field(default=None, compare=False)  # None: hnswlib in this process
    fits: FitReport | None = field(default=None, compare=False)


def plan_build(
    corpus: Corpus,
    model: str | ModelSpec,
    *,
    device: str = "auto",
    max_tokens: int | None = None,
    trust_remote_code: bool = False,
    params: IndexParams = IndexParams(),
    backend: IndexBackend | None = None,
    seq_len: int | None = None,
    model_loaded: bool = False,
) -> BuildPlan:
    """Resolve the model choice once and check the build fits in memory.

    Args:
        corpus: What will be embedded (``core.ingest.load_corpus``).
        model: A preset name, hub id, local folder, ``endpoint:MODEL@URL``, or an already resolved ModelSpec.
        device: "auto", "cpu", "cuda" or "mps" (in-process models only).
        max_tokens: Cut documents to this many tokens; None keeps the model's window.
        trust_remote_code: Let a hub model run its own code (off unless the user asked).
        params: HNSW parameters of the index.
        backend: Where the index lives: None for hnswlib in process, or a Qdrant backend.
        seq_len: The longest chunk in tokens, when known (a tighter memory estimate).
        model_loaded: The model is already in memory (its weights are not counted again).

    Returns:
        The BuildPlan: ``spec`` and everything ``load_model`` and ``build_index`` need.

    Raises:
        ModelLoadError: the name resolves to nothing. DashboardError: the build would not fit in memory
            (the message gives the estimate and the fix).
    """
    spec = resolve_model(model) if isinstance(model, str) else model
    window = max_tokens or spec.max_tokens or 512
    fits = check_build_fits(
        spec,
        len(corpus.chunks),
        device,
        seq_len=min(seq_len, window) if seq_len else window,
        model_loaded=model_loaded,
        index_in_process=backend is None,
    )
    return BuildPlan(
        spec=spec,
        chunks=len(corpus.chunks),
        device=device,
        max_tokens=max_tokens,
        trust_remote_code=trust_remote_code,
        params=params,
        backend=backend,
        fits=fits,
    )


def load_model(
    plan: BuildPlan,
    *,
    api_key: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    on_note: Callable[[str], None] | None = None,
) -> Embedder:
    """The model the plan names, loaded (``api_key``, ``timeout`` and ``on_note`` matter to endpoints only)."""
    return load_embedder(
        plan.spec,
        device=plan.device,
        max_tokens=plan.max_tokens,
        trust_remote_code=plan.trust_remote_code,
        api_key=api_key,
        timeout=timeout,
        on_note=on_note,
    )


def progress_note(embedder: Embedder) -> str:
    """What a progress line adds for a model: an endpoint's last adaptation and a pool's texts/s per server."""
    notes = embedder.notes
    return " · ".join(p for p in (notes[-1] if notes else "", embedder.pool_summary()) if p)


PRIOR_CHUNKS = 32  # the pre-build estimate weighs as much as this many measured chunks in a running ETA


def running_eta(
    *, remaining: int, measured_chunks: float, measured_rate: float, estimated_rate: float | None
) -> float:
    """Seconds left for ``remaining`` chunks, re-measured as a build runs: seconds per chunk of the pre-build
    estimate (weighted as PRIOR_CHUNKS chunks) blended with the rate measured over ``measured_chunks``, so the ETA
    starts at the estimate and converges to what the build measures. NaN when neither rate is known."""
    parts: list[tuple[float, float]] = []
    if estimated_rate is not None and estimated_rate > 0:
        parts.append((float(PRIOR_CHUNKS), 1.0 / estimated_rate))
    if measured_rate > 0 and measured_chunks > 0:
        parts.append((measured_chunks, 1.0 / measured_rate))
    if not parts:
        return float("nan")
    weight = sum(w for w, _ in parts)
    return max(remaining, 0) * sum(w * spc for w, spc in parts) / weight


def build_index(
    plan: BuildPlan,
    corpus: Corpus,
    embedder: Embedder,
    *,
    store: EmbeddingStore,
    progress: Progress | None = None,
    index_progress: Progress | None = None,
    batch_size: int = 32,
) -> ModelIndex:
    """Embed the corpus through the store and build the plan's index (see ``core.search.build_model_index``).

    A build that embedded at least ``core.models.throughput.MIN_BUILD_CHUNKS`` chunks records its throughput in the
    store (``core.models.recorded``): the Models estimate, the Frontier cost, the report and the CLI read it."""
    mi = build_model_index(
        corpus,
        embedder,
        store=store,
        params=plan.params,
        progress=progress,
        index_progress=index_progress,
        batch_size=batch_size,
        backend=plan.backend,
    )
    if mi.stats is not None:
        record_build(
            store,
            embedder,
            embedded=mi.stats.embedded,
            seconds=mi.stats.embed_seconds,
            texts=[c.embed_text for c in corpus.chunks],
        )
    return mi


def build(
    corpus: Corpus,
    model: str | ModelSpec,
    *,
    store: EmbeddingStore,
    device: str = "auto",
    params: IndexParams = IndexParams(),
    progress: Progress | None = None,
) -> ModelIndex:
    """Plan, load and build in one call: the searchable index of ``corpus`` for ``model``.

    Args:
        corpus: The loaded corpus (``core.ingest.load_corpus``).
        model: A preset name, hub id, local folder or ``endpoint:MODEL@URL`` (key from EMBEDDING_API_KEY).
        store: The embedding store; texts it already holds for this model are not embedded again.
        device: "auto", "cpu", "cuda" or "mps".
        params: HNSW parameters.
        progress: Called as ``progress(done, total, texts_per_second)`` while embedding.

    Returns:
        The ModelIndex: ``search``, ``search_many``, ``vectors_at`` and the build's ``stats``.
    """
    plan = plan_build(corpus, model, device=device, params=params)
    return build_index(plan, corpus, load_model(plan), store=store, progress=progress)
