"""An LLM judge's labels checked against people's on one corpus: the one place that aligns the two (chunk ids or
files), lifts the LLM's chunk grades to files where people judged files, and applies core.judging's rule.

Used by ``python -m core.cli evaluate``, the Day-one and Evaluate pages and the report, so all say the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.evaluation.metrics import EvaluationError
from core.evaluation.run import align_doc_ids
from core.judging import Calibration, calibrate, lift_to_files, llm_labels_trusted
from core.types import Corpus

Labels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class LlmCheck:
    """The LLM's labels against one source of people's labels."""

    human: str  # whose labels, in words ("the sample's qrels", "people on the Judge page")
    calibration: Calibration
    lifted: bool  # the LLM's chunk grades were lifted to files, as these people judged files
    trusted: bool  # core.judging.llm_labels_trusted: may a verdict rest on the LLM's labels alone?
    reason: str


def by_text(queries: Mapping[str, str], qrels: Labels) -> dict[str, dict[str, int]]:
    """Labels keyed by query text: files, sets and the judgment store give one query different ids."""
    out: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        if qid in queries and docs:
            out.setdefault(queries[qid], {}).update(docs)
    return out


def check_llm(
    corpus: Corpus, human: Labels, llm: Labels, *, name: str, absent_is_zero: bool
) -> LlmCheck | None:
    """``llm`` ({query: {chunk id: 0/1/2}}) against ``human`` (chunk ids or file paths of ``corpus``), on the pairs
    both judged; None when ``human`` names no document of the corpus. Both keyed by the same query ids."""
    if not human or not llm:
        return None
    try:
        aligned = align_doc_ids(corpus, {q: dict(d) for q, d in human.items()})
    except EvaluationError:  # none of these judgments names a document of the corpus
        return None
    lifted = aligned.rule == "source"
    labels = lift_to_files(llm, {c.id: c.source for c in corpus.chunks}) if lifted else llm
    cal = calibrate(aligned.qrels, labels, absent_is_zero=absent_is_zero)
    trusted, reason = llm_labels_trusted(cal)
    return LlmCheck(name, cal, lifted, trusted, reason)


def deciding_check(checks: Sequence[LlmCheck]) -> LlmCheck | None:
    """The check a verdict uses: the one with the most shared pairs (the strongest evidence either way)."""
    return max(checks, key=lambda c: c.calibration.shared_pairs, default=None)
