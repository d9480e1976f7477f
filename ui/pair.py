"""The headline-pair policy: Qwen3-Embedding-4B vs bge-base (en or zh by the corpus), or the bundled offline pair
and the reason, and the one action that gets the headline pair running here."""

from __future__ import annotations

from core.ingest import MIXED_SHARE, language_shares
from core.models import availability, display_label, has_gpu, hub_offline
from core.types import Corpus
from ui import resources, state
from ui.state import BUNDLED_PAIR, HEADLINE_A, HEADLINE_B
from ui.text import escape_md

# The one name every page gives the headline pair's B, with or without a corpus: which of the two is built
# (headline_pair) follows the corpus language, which the name says, so the pair is not renamed once a corpus loads.
HEADLINE_B_NAME = "bge-base-en/zh-v1.5"
HEADLINE_NAME = f"{HEADLINE_A} vs {HEADLINE_B_NAME}"


def headline_names() -> tuple[str, str]:
    """The headline pair as pages name it (the same before and after a corpus is loaded)."""
    return HEADLINE_A, HEADLINE_B_NAME


def headline_pair(corpus: Corpus | None) -> tuple[str, str]:
    """Qwen3-Embedding-4B vs bge-base: the zh model when Chinese is the main language or a large share of a mixed
    corpus (bge-base-en cannot read Chinese; bge-base-zh reads English well enough), else the en model."""
    shares = dict(language_shares(corpus.lang_histogram())) if corpus else {}
    zh = sum(share for lang, share in shares.items() if lang.startswith("zh"))
    return HEADLINE_A, HEADLINE_B["zh" if zh >= MIXED_SHARE else "en"]


def headline_problem(corpus: Corpus | None) -> str:
    """Why the headline pair cannot be used on this machine right now ('' when it can)."""
    reasons = []
    a, b = headline_pair(corpus)
    # without a corpus either bge-base model may be the one built: both must be here
    candidates = {HEADLINE_A: (a,), HEADLINE_B_NAME: (b,) if corpus else tuple(HEADLINE_B.values())}
    for name, models in candidates.items():
        wheres = {availability(resources.model_spec(m)) for m in models}
        where = "needs download" if "needs download" in wheres else next(iter(wheres))
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


def headline_action(corpus: Corpus | None, *, here: bool = False) -> str:
    """The one step that gets the headline pair running here (Markdown); ``here``: said on the Models page
    itself, where the choice is the Model A selector below, not a page to go to."""
    a = HEADLINE_A
    where = "in the **Model A** selector below" if here else "on the Models & indexes page"
    if not has_gpu():
        return (
            f"serve {a} on a GPU machine (vLLM, TEI or Ollama) and choose **OpenAI-compatible endpoint** {where}, "
            "with its URL"
        )
    return (
        f"put {a} in a local folder (or the Hugging Face cache, HF_HOME) and choose "
        f"**Other: Hugging Face id or local path** {where}"
    )


def fallback_notice(
    corpus: Corpus | None, running: tuple[str, str], *, here: bool = False
) -> tuple[str, str] | None:
    """Two plain lines when the headline pair is not what runs: what runs and why, then the one action.

    None when a model of the headline pair is running, or nothing stands in its way (the user chose other
    models on purpose).
    """
    if any(name == HEADLINE_A or name in HEADLINE_B.values() for name in running):
        return None
    problem = headline_problem(corpus)
    if not problem:
        return None
    why = "this machine has no GPU" if not has_gpu() else "the headline models are not downloaded here"
    if not has_gpu() and any(
        availability(resources.model_spec(n)) == "needs download" for n in headline_pair(corpus)
    ):
        why += " and the headline models are not downloaded"
    first = (
        f"Running {escape_md(display_label(running[0]))} vs {escape_md(display_label(running[1]))}, not the "
        f"headline pair {escape_md(HEADLINE_NAME)}, because {why}."
    )
    return first, f"To compare the headline pair: {headline_action(corpus, here=here)}."


def choose_default_pair(corpus: Corpus | None) -> None:
    """Fill model A/B with the headline pair, or the bundled offline pair plus the reason, once per session."""
    if state.get("models_a") and state.get("models_b"):
        return
    problem = headline_problem(corpus)
    a, b = BUNDLED_PAIR if problem else headline_pair(corpus)
    state.put("models_a", a)
    state.put("models_b", b)
    state.put("models_fallback_reason", problem)
