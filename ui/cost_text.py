"""Build estimates in words for the Models page: one-line summaries and advice when a build is too slow."""

from __future__ import annotations

from core.models import CostEstimate, device_kind
from core.text import format_bytes, format_duration

# Seconds a build may take on this device before the app suggests a lighter route.
SLOW_SECONDS = 15 * 60


def _device_name(device: str) -> str:
    kind = device_kind(device)
    return {"cpu": "this CPU", "cuda": "this GPU", "mps": "this Apple GPU", "endpoint": "the endpoint"}[kind]


def describe(estimate: CostEstimate) -> str:
    """One sentence, e.g. 'Qwen3-Embedding-4B on this CPU: about 3 h for 2,000 chunks'."""
    if estimate.chunks == 0:  # every chunk is in the store already: "about 1 s for 0 chunks" said nothing
        return f"{estimate.model} on {_device_name(estimate.device)}: nothing to embed, every chunk is stored"
    took = estimate.seconds == estimate.seconds  # NaN: an endpoint's speed is known only after it ran
    text = (
        f"{estimate.model} on {_device_name(estimate.device)}: "
        + (f"about {format_duration(estimate.seconds)}" if took else "unknown time (known only once it runs)")
        + f" for {estimate.chunks:,} chunks"
    )
    if estimate.tokens_per_s == estimate.tokens_per_s:
        text += f" ({estimate.tokens:,} tokens at ~{estimate.tokens_per_s:,.0f} tokens/s"
        text += f", ~{format_bytes(estimate.memory_bytes)} memory)"
    return text


def suggest(estimate: CostEstimate, *, slow_seconds: float = SLOW_SECONDS) -> str:
    """Advice when a build is too slow on this device; empty when it is fine."""
    if estimate.seconds != estimate.seconds or estimate.seconds <= slow_seconds:
        return ""
    lines = [f"Embedding with {estimate.model} would take about {format_duration(estimate.seconds)} here."]
    big = estimate.params > 700_000_000
    if device_kind(estimate.device) == "cpu" and big:
        lines.append(
            "On a CPU, pick Qwen3-Embedding-0.6B (about 7x faster than 4B) or bge-base, "
            "embed a sample of the corpus first, or run the big model on a GPU server "
            "(vLLM, TEI, Ollama, llama.cpp) and connect it as an OpenAI-compatible endpoint."
        )
    elif device_kind(estimate.device) == "cpu":
        smaller = (
            "pick a smaller model such as the bundled all-MiniLM-L6-v2, "
            if estimate.params > 50_000_000
            else ""
        )
        lines.append(
            f"Embed a sample of the corpus first, {smaller}"
            "or serve the model on a GPU (vLLM, TEI, Ollama, llama.cpp) behind an OpenAI-compatible endpoint."
        )
    else:
        lines.append("Use a smaller preset, a subset of the corpus, or several endpoint replicas.")
    return " ".join(lines)
