"""Refuse a build up front when the model or the corpus cannot fit in memory, with the estimate and the fix.

A model too large for the device, or a corpus whose vectors and index would not fit in RAM, otherwise shows
up as an OOM kill of the whole server (every user's session gone). ``check_build_fits`` is cheap: it reads
the memory available now (/proc/meminfo and the cgroup limit, or the GPU's free memory) and compares it with
core.models.cost's estimate of the model (weights + one batch of activations) and of the corpus (full-dim float32
vectors, the HNSW index ~1.05x of them, one truncated copy for the Dimensions page and one gather buffer).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import DashboardError
from core.models.cost import memory_bytes
from core.models.device import resolve_device
from core.text import format_bytes, format_count
from core.types import ModelSpec

GIB = 2**30
HEADROOM = (
    0.85  # use at most this share of what is available now: the server and other sessions need the rest
)
CORPUS_COPIES = 4.05  # vectors + HNSW (~1.05x) + one truncated copy + one gather buffer while embedding
EXTERNAL_INDEX_COPIES = (
    2.0  # index in a server (Qdrant): the vectors + one gather buffer; the graph lives there
)
UNKNOWN_DIM = 1024  # assumed when a model's dimension is not known before loading it


class ResourceLimitError(DashboardError):
    """A build would not fit in memory; ``needed`` and ``available`` are bytes."""

    def __init__(self, message: str, *, needed: int, available: int) -> None:
        super().__init__(message)
        self.needed, self.available = needed, available


class ModelTooLargeError(ResourceLimitError):
    """The model's weights plus one batch of activations do not fit on the device."""


class CorpusTooLargeError(ResourceLimitError):
    """The corpus's vectors and index do not fit in RAM."""


@dataclass(frozen=True)
class FitReport:
    """What a build needs and what is available (bytes), when it fits."""

    model_bytes: int
    corpus_bytes: int
    ram_available: int
    device_available: int
    device: str


def _meminfo_available(path: Path = Path("/proc/meminfo")) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _cgroup_available(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    pairs = (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    )
    for limit_name, usage_name in pairs:
        try:
            limit = (root / limit_name).read_text().strip()
            usage = int((root / usage_name).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or int(limit) >= 1 << 60:
            return None
        return max(0, int(limit) - usage)
    return None


def available_ram() -> int:
    """Bytes of RAM this process can still use: MemAvailable, capped by a container's cgroup limit."""
    found = [v for v in (_meminfo_available(), _cgroup_available()) if v is not None]
    if found:
        return min(found)
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        return 1 << 62  # unknown platform: do not refuse on a guess


def available_device_memory(device: str) -> int:
    """Free bytes on a CUDA device; system RAM for the CPU and Apple GPUs (unified memory)."""
    if device.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(device))
        return int(free)
    return available_ram()


def check_build_fits(
    spec: ModelSpec,
    n_chunks: int,
    device: str = "cpu",
    *,
    batch_size: int = 32,
    seq_len: int = 512,
    ram: int | None = None,
    device_memory: int | None = None,
    headroom: float = HEADROOM,
    model_loaded: bool = False,
    index_in_process: bool = True,
) -> FitReport:
    """Raise ModelTooLargeError / CorpusTooLargeError (with the numbers) unless the build fits; else a FitReport.

    ``seq_len`` is the longest chunk in tokens (capped at the model's window; the default 512 matches
    core.models.cost.describe_memory). ``ram`` / ``device_memory`` override the measured availability (tests, or a
    planner for another machine). ``model_loaded=True`` when the model is already in memory: its bytes are
    then part of what is in use, so only the corpus is checked. ``index_in_process=False`` when the index lives in
    a server (Qdrant): this process then holds about 2 copies of the vectors instead of 4.
    """
    if n_chunks < 0:
        raise DashboardError(f"n_chunks must be >= 0 (the corpus's chunk count), got {n_chunks}")
    dev = resolve_device(device)
    remote = spec.backend == "endpoint"
    ram_free = available_ram() if ram is None else ram
    if remote:
        dev_free = 0
    elif dev.startswith("cuda"):
        dev_free = available_device_memory(dev) if device_memory is None else device_memory
    else:
        dev_free = ram_free if device_memory is None else device_memory
    model_need = (
        0
        if remote or model_loaded
        else memory_bytes(spec, device=dev, batch_size=batch_size, seq_len=seq_len)
    )
    dim = spec.dim or UNKNOWN_DIM
    corpus_need = int(n_chunks * dim * 4 * (CORPUS_COPIES if index_in_process else EXTERNAL_INDEX_COPIES))
    if model_need and model_need > headroom * dev_free:
        where = "this GPU" if dev.startswith("cuda") else f"this machine ({dev})"
        raise ModelTooLargeError(
            f"{spec.name} needs about {format_bytes(model_need)} on {where} ({format_count(spec.params)} parameters plus "
            f"one batch of {batch_size} activations) but only {format_bytes(dev_free)} is free (we use at most "
            f"{headroom:.0%} of it). Refused before loading so the server is not killed. Fixes: pick a smaller "
            "model (Qwen3-Embedding-0.6B, bge-base), lower the batch size or max tokens, use a GPU with more "
            "memory, or serve the model elsewhere (vLLM, TEI) and connect it as an OpenAI-compatible endpoint.",
            needed=model_need,
            available=dev_free,
        )
    on_cpu = not remote and not dev.startswith("cuda")
    total = corpus_need + (model_need if on_cpu else 0)
    if corpus_need and total > headroom * ram_free:
        raise CorpusTooLargeError(
            f"{n_chunks:,} chunks x {dim:,} dims of {spec.name} need about {format_bytes(corpus_need)} of RAM for the "
            f"vectors and index"
            + (f" on top of {format_bytes(model_need)} for the model" if on_cpu and model_need else "")
            + f", but only {format_bytes(ram_free)} is free (we use at most {headroom:.0%} of it). Refused before "
            "embedding. Fixes: load a subset of the corpus, use larger chunks (fewer of them), pick a model with "
            "fewer dimensions, or run on a machine with more memory.",
            needed=total,
            available=ram_free,
        )
    return FitReport(model_need, corpus_need, ram_free, dev_free, dev)
