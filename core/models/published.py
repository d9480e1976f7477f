"""Scores a model's authors published per Matryoshka dimension, with their source, to show beside our own curve."""

from __future__ import annotations

from dataclasses import dataclass

from core.models.presets import WORDLLAMA


@dataclass(frozen=True)
class PublishedFigures:
    """One published table: a score per task type (columns) at each trained dimension (rows)."""

    model: str  # preset name
    source: str  # where the numbers were published, in words a reader can follow
    benchmark: str  # what the numbers are
    tasks: tuple[str, ...]
    by_dims: tuple[tuple[int, tuple[float, ...]], ...]  # (dims, one score per task), smallest dims first

    def rows(self, dims: tuple[int, ...] | list[int] | None = None) -> list[dict[str, object]]:
        """One row per dimension ({'dims': 64, 'Clustering': 30.27, ...}); only ``dims`` when given."""
        return [
            {"dims": d, **dict(zip(self.tasks, scores, strict=True))}
            for d, scores in self.by_dims
            if dims is None or d in dims
        ]


# The l2_supercat table of the wordllama README (PyPI project description of wordllama 0.4.0, "MTEB Results";
# WL256 is the model its wheel ships). The package's RESULTS.md is for another model (l3_supercat): not used here.
_WORDLLAMA_TASKS = (
    "Clustering",
    "Reranking",
    "Classification",
    "Pair Classification",
    "STS",
    "CQA DupStack",
    "SummEval",
)
_WORDLLAMA_MTEB = PublishedFigures(
    model=WORDLLAMA,
    source="wordllama README, 'MTEB Results' (l2_supercat), github.com/dleemiller/WordLlama, wordllama 0.4.0 on PyPI",
    benchmark="MTEB (English), average score per task type; CQA DupStack is its retrieval task",
    tasks=_WORDLLAMA_TASKS,
    by_dims=(
        (64, (30.27, 50.38, 53.14, 75.80, 66.24, 18.76, 30.79)),
        (128, (32.20, 51.52, 56.25, 77.59, 67.53, 22.54, 29.99)),
        (256, (33.25, 52.03, 58.21, 78.22, 67.91, 24.12, 30.99)),
        (512, (33.40, 52.32, 59.13, 78.50, 68.22, 24.59, 29.56)),
        (1024, (33.62, 52.39, 59.50, 78.60, 68.27, 24.83, 29.39)),
    ),
)
_PUBLISHED = {f.model: f for f in (_WORDLLAMA_MTEB,)}


def published_figures(model: str) -> PublishedFigures | None:
    """The per-dimension scores published for a preset (by its name), or None when there are none."""
    return _PUBLISHED.get(model)
