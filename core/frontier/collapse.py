"""The binary-collapse rule: where binary (+ rescore) keeps less than 80% of float32's recall, say so in words.

Binary quantisation works well for some models and collapses for others: in Hugging Face's "Embedding
Quantization" measurements (MTEB retrieval) binary embeddings kept 96% of mxbai-embed-large's float32 score and
74.8% of e5-base-v2's. So the frontier compares, for one model on this corpus, binary + rescore (binary when
rescoring was not measured) with float32 at the same dims and reduction, exact search both, and warns where it
keeps less than ``BINARY_KEEP_MIN`` of float32's recall. The Frontier page, the CLI and the report print the same
warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.frontier.measure import Sweep

BINARY_KEEP_MIN = 0.80
EVIDENCE = (
    'quantisation does not work for every model: in Hugging Face\'s "Embedding Quantization" measurements binary '
    "embeddings kept 96% of mxbai-embed-large's retrieval score but only 74.8% of e5-base-v2's"
)


@dataclass(frozen=True)
class BinaryKeep:
    """At one (dims, reduction): binary (+ rescore) recall as a share of float32 recall, exact search both."""

    dims: int
    reduction: str  # the row's reduction in words (Sweep.reduction_label)
    precision: str  # "binary+rescore", or "binary" when rescoring was not measured
    binary: float
    float32: float

    @property
    def kept(self) -> float:
        """binary recall / float32 recall (1.0 when float32 found nothing either)."""
        return self.binary / self.float32 if self.float32 > 0 else 1.0


def binary_keeps(sweep: Sweep) -> list[BinaryKeep]:
    """Per (dims, reduction) with both measured, exact search: binary (+ rescore) recall against float32 recall."""
    exact = {(r.dims, r.reduction, r.precision): r for r in sweep.rows if r.index == "exact"}
    out = []
    for (d, red, prec), f32 in exact.items():
        if prec != "float32":
            continue
        binary = exact.get((d, red, "binary+rescore")) or exact.get((d, red, "binary"))
        if binary is None:
            continue
        out.append(BinaryKeep(d, sweep.reduction_label(f32), binary.precision, binary.recall, f32.recall))
    return sorted(out, key=lambda b: (b.dims, b.reduction))


def binary_collapse(sweep: Sweep, *, keep_min: float = BINARY_KEEP_MIN) -> list[BinaryKeep]:
    """The (dims, reduction) points where binary (+ rescore) keeps less than ``keep_min`` of float32's recall."""
    return [b for b in binary_keeps(sweep) if b.kept < keep_min]


def binary_collapse_warning(sweep: Sweep, *, keep_min: float = BINARY_KEEP_MIN) -> str | None:
    """The warning in words (None when binary holds up everywhere it was measured)."""
    low = binary_collapse(sweep, keep_min=keep_min)
    if not low:
        return None
    what = "binary + rescore" if any(b.precision == "binary+rescore" for b in low) else "binary"
    points = ", ".join(f"{b.dims} dims ({b.reduction}: {b.kept:.0%})" for b in low)
    return (
        f"{what} keeps less than {keep_min:.0%} of float32's recall@{sweep.k} for {sweep.model} on this corpus at "
        f"{points}; {EVIDENCE}. Check binary on your own data before you rely on it."
    )
