"""The headline-pair policy: Qwen3-Embedding-4B vs bge-base (en or zh by the corpus), or the bundled offline pair
and the reason, and the one action that gets the headline pair running here."""

from __future__ import annotations

from core.ingest import MIXED_SHARE, language_shares
from core.models import availability, has_gpu, hub_offline
from core.types import Corpus
from ui import resources, state
from ui.state import BUNDLED_PAIR, HEADLINE_A, HEADLINE_B
from ui.text import escape_md


def headline_pair(corpus: Corpus | None) -> tuple[str, str]:
    """Qwen3-Embedding-4B vs bge-base: the zh model when Chinese is the main language or a large share of a mixed
    corpus (bge-base-en cannot read Chinese; bge-base-zh reads English well enough), else the en model."""
    shares = dict(language_shares(corpus.lang_histogram())) if corpus else {}
    zh = sum(share for lang, share in shares.items() if lang.startswith("zh"))
    return HEADLINE_A, HEADLINE_B["zh" if zh >= MIXED_SHARE else "en"]


def headline_problem(corpus: Corpus | None) -> str:
    """Why the headline pair cannot be used on this machine right now ('' when it can)."""
    reasons = []
    for name in headline_pair(corpus):
        where = availability(resources.model_spec(name))
        if where == "needs download" and hub_offline():
            reasons.append(
                f"{name} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids downloading it"
            )
        elif where == "needs download":
            reasons.append(f"{name} is not downloaded yet (first use downloads it from the Hugging Face Hub)")
    if not has_gpu():
        reasons.append(
            f"no GPU: {HEADLINE_A} runs at roughly 14 tokens/s on a 2-core CPU, hours for a small corpus"
        )
    return "; ".join(reasons)


def headline_action(corpus: Corpus | None) -> str:
    """The one step that gets the headline pair running here (Markdown)."""
    a, _ = headline_pair(corpus)
    if not has_gpu():
        return (
            f"serve {a} on a GPU machine (vLLM, TEI or Ollama) and enter its URL as an "
            "**OpenAI-compatible endpoint** on the Models & indexes page"
        )
    return (
        f"put {a} in a local folder (or the Hugging Face cache, HF_HOME) and choose "
        "**Other: Hugging Face id or local path** on the Models & indexes page"
    )


def fallback_notice(corpus: Corpus | None, running: tuple[str, str]) -> tuple[str, str] | None:
    """Two plain lines when the headline pair is not what runs: what runs and why, then the one action.

    None when a model of the headline pair is running, or nothing stands in its way (the user chose other
    models on purpose).
    """
    headline = headline_pair(corpus)
    if any(name in headline for name in running):
        return None
    problem = headline_problem(corpus)
    if not problem:
        return None
    why = "this machine has no GPU" if not has_gpu() else "the headline models are not downloaded here"
    if not has_gpu() and any(availability(resources.model_spec(n)) == "needs download" for n in headline):
        why += " and the headline models are not downloaded"
    first = (
        f"Running {escape_md(running[0])} vs {escape_md(running[1])}, not the headline pair "
        f"{escape_md(headline[0])} vs {escape_md(headline[1])}, because {why}."
    )
    return first, f"To compare the headline pair: {headline_action(corpus)}."


def choose_default_pair(corpus: Corpus | None) -> None:
    """Fill model A/B with the headline pair, or the bundled offline pair plus the reason, once per session."""
    if state.get("models_a") and state.get("models_b"):
        return
    problem = headline_problem(corpus)
    a, b = BUNDLED_PAIR if problem else headline_pair(corpus)
    state.put("models_a", a)
    state.put("models_b", b)
    state.put("models_fallback_reason", problem)
