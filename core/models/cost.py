"""How long and how much memory an embedding build will take, before it starts."""

from __future__ import annotations

import functools
import importlib.util
import time
from dataclasses import dataclass

import numpy as np

from core.errors import DashboardError
from core.models.device import device_kind
from core.models.throughput import Throughput
from core.models.tokenizer import load_tokenizer
from core.text import format_bytes, format_count
from core.types import ModelSpec

# Share of the machine's matmul rate a transformer forward pass reaches when nothing was calibrated
# (attention, layer norms, tokenisation and padding eat the rest). Measured on a 2-core x86 CPU.
DEFAULT_EFFICIENCY = {"cpu": 0.5, "cuda": 0.4, "mps": 0.3}
# The wordllama static model (lookup + mean, no matmul) on the sample corpus, 2-core x86 CPU, batches of 32.
STATIC_TOKENS_PER_S = 300_000.0


@dataclass(frozen=True)
class CostEstimate:
    """Predicted cost of embedding a corpus with one model on one device."""

    seconds: float
    memory_bytes: int
    tokens: int
    tokens_per_s: float
    basis: str  # how the numbers were obtained, in words
    model: str = ""
    device: str = "cpu"
    chunks: int = 0
    params: int = 0


@dataclass(frozen=True)
class Calibration:
    """Throughput of a real model measured on a warm-up batch on this device."""

    model: str
    device: str
    tokens: int
    seconds: float
    params: int

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    @property
    def flops_per_s(self) -> float:
        return 2.0 * self.params * self.tokens_per_s


@functools.lru_cache(maxsize=4)
def machine_flops(device: str = "cpu") -> float:
    """Measured float32 (CPU) or half-precision (GPU) matmul rate of this machine in FLOP/s (cached)."""
    kind = device_kind(device)
    if kind == "endpoint" or importlib.util.find_spec("torch") is None:
        return _numpy_flops()
    import torch

    if kind == "cpu":
        n, dev, dtype, sync = 1024, torch.device("cpu"), torch.float32, lambda: None
    else:
        n, dev, dtype = 4096, torch.device(device), torch.float16
        sync = torch.cuda.synchronize if kind == "cuda" else getattr(torch.mps, "synchronize", lambda: None)
    a = torch.randn(n, n, device=dev, dtype=dtype)
    with torch.inference_mode():
        a @ a  # warm-up
        sync()
        best = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            a @ a
            sync()
            best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def _numpy_flops() -> float:
    n = 1024
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a @ a
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        a @ a
        best = min(best, time.perf_counter() - t)
    return 2.0 * n**3 / best


def _bytes_per_param(device: str) -> int:
    return 4 if device_kind(device) == "cpu" else 2


def memory_bytes(
    spec: ModelSpec, *, device: str = "cpu", batch_size: int = 32, seq_len: int | None = None
) -> int:
    """Weights plus a rough activation peak for one batch (one layer's intermediates live at a time)."""
    seq = min(seq_len or spec.max_tokens, spec.max_tokens)
    hidden = spec.dim or 768
    if spec.backend == "wordllama":  # a static model on the CPU: float32 table + one gathered batch, twice
        return int(spec.params * 4 + 2 * batch_size * seq * hidden * 4)
    bpp = _bytes_per_param(device)
    weights = spec.params * bpp
    # hidden states + q/k/v/out + 4x MLP intermediate, plus attention scores (heads ~ hidden / 64)
    activations = batch_size * seq * hidden * bpp * 12 + batch_size * (hidden // 64) * seq * seq * bpp
    return int(weights + activations)


def describe_memory(spec: ModelSpec, *, device: str = "cpu") -> str:
    """One-line memory estimate used in out-of-memory errors."""
    need = memory_bytes(spec, device=device, seq_len=512)
    return f"about {format_bytes(need)} needed ({format_count(spec.params)} parameters at {_bytes_per_param(device)} bytes each plus activations)"


def calibrate(embedder, texts: list[str], *, device: str = "cpu") -> Calibration:
    """Time one warm batch of real texts through a loaded model on this device."""
    spec = embedder.spec
    sample = list(texts[:16]) or ["calibration text " * 20]
    embedder.encode_documents(sample[:2])  # warm-up: allocations, kernels, lazy init
    tok = load_tokenizer(spec)
    if tok is not None:
        tokens = sum(
            len(ids) for ids in tok(sample, truncation=True, max_length=spec.max_tokens)["input_ids"]
        )
    else:
        tokens = sum(max(1, len(t) // 4) for t in sample)
    t = time.perf_counter()
    embedder.encode_documents(sample, batch_size=len(sample))
    return Calibration(
        model=spec.name,
        device=device,
        tokens=tokens,
        seconds=time.perf_counter() - t,
        params=spec.params,
    )


def estimate_build(
    spec: ModelSpec,
    *,
    n_tokens: int,
    n_chunks: int,
    device: str = "cpu",
    calibration: Calibration | None = None,
    throughput: Throughput | None = None,
) -> CostEstimate:
    """Seconds and memory to embed n_tokens with this model on this device.

    The speed is ``throughput``'s (core.models.throughput: the last build or a timed sample of this model on this
    device) when it is this model's on this device kind, else 2 x params FLOPs per token at the machine's measured
    rate (with ``calibration``'s efficiency when another model was timed here)."""
    if n_tokens < 0 or n_chunks < 0:
        raise DashboardError(
            f"n_tokens and n_chunks must be >= 0 (counts of the corpus), got {n_tokens} and {n_chunks}"
        )
    kind = device_kind(device)
    mean_len = n_tokens / n_chunks if n_chunks else spec.max_tokens
    # length-sorted batches: the longest batch sets the activation peak; assume ~2x the mean chunk
    mem = memory_bytes(spec, device=device, seq_len=max(16, int(2 * mean_len)))
    if spec.backend == "endpoint" or kind == "endpoint":
        return CostEstimate(
            seconds=float("nan"),
            memory_bytes=0,
            tokens=n_tokens,
            tokens_per_s=float("nan"),
            basis="remote endpoint: time depends on the server's hardware",
            model=spec.name,
            device="endpoint",
            chunks=n_chunks,
            params=spec.params,
        )
    if spec.params <= 0:
        nan = float("nan")
        return CostEstimate(
            nan, mem, n_tokens, nan, "unknown parameter count", spec.name, device, n_chunks, 0
        )
    if (
        throughput is not None
        and throughput.model == spec.name
        and throughput.device == kind
        and throughput.origin != "declared"
        and (throughput.tokens_per_s or throughput.docs_per_s) > 0
    ):
        if throughput.tokens_per_s and n_tokens:
            seconds = n_tokens / throughput.tokens_per_s
            tps = throughput.tokens_per_s
        else:
            seconds = n_chunks / throughput.docs_per_s
            tps = n_tokens / seconds if seconds > 0 else float("nan")
        return CostEstimate(
            seconds, mem, n_tokens, tps, throughput.label(), spec.name, device, n_chunks, spec.params
        )
    if spec.backend == "wordllama" and (calibration is None or calibration.model != spec.name):
        # a table lookup and a mean per token: tokenizing sets the pace, not FLOPs (measured on a 2-core x86 CPU)
        tps = STATIC_TOKENS_PER_S
        basis = f"static model: about {tps:,.0f} tokens/s (measured on a 2-core CPU; no FLOPs to count)"
        seconds = n_tokens / tps
        return CostEstimate(seconds, mem, n_tokens, tps, basis, spec.name, "cpu", n_chunks, spec.params)
    peak = machine_flops(device if kind != "cpu" else "cpu")
    if calibration is not None and calibration.model == spec.name and device_kind(calibration.device) == kind:
        tps = calibration.tokens_per_s
        basis = f"measured {tps:,.0f} tokens/s on a warm-up batch of this model"
    elif calibration is not None and device_kind(calibration.device) == kind and calibration.params > 0:
        eff = min(1.0, calibration.flops_per_s / peak)
        tps = peak * eff / (2.0 * spec.params)
        basis = (
            f"2 x {format_count(spec.params)} FLOPs/token at {peak / 1e9:,.0f} GFLOP/s x {eff:.0%} efficiency "
            f"(calibrated on {calibration.model})"
        )
    else:
        eff = DEFAULT_EFFICIENCY.get(kind, 0.3)
        tps = peak * eff / (2.0 * spec.params)
        basis = f"2 x {format_count(spec.params)} FLOPs/token at {peak / 1e9:,.0f} GFLOP/s x {eff:.0%} assumed efficiency"
    seconds = n_tokens / tps if tps > 0 else float("inf")
    return CostEstimate(seconds, mem, n_tokens, tps, basis, spec.name, device, n_chunks, spec.params)
