"""Is the LLM judge to be trusted here? Its labels against people's on the pairs both judged.

- A *shared pair* is a (query, chunk) pair with a person's label and an LLM label (0/1/2, the store's scale). Human
  grades outside 0..2 (imported TREC grades) are clipped: below 0 counts as 0, above 2 as 2.
- ``absent_is_zero``: qrels that list only relevant documents (BEIR's convention, and the sample corpus's: grades
  1 and 2 only) make a pooled document absent from a *judged* query's qrels a human 0 (``ABSENT_IS_ZERO_NOTE``, to
  show wherever the kappa is shown). A query with no human label at all is not judged and adds no pair.
- Agreement: Cohen's kappa with linear weights over the labels 0, 1, 2 (a 0-vs-2 disagreement weighs twice a 0-vs-1
  one); equal to ``sklearn.metrics.cohen_kappa_score(human, llm, weights="linear")``; None when undefined (no shared
  pair, or every label of both raters the same).
- The rule (``TRUST_RULE``, ``llm_labels_trusted``): a verdict may rest on LLM labels alone only if the weighted
  kappa is at least ``MIN_KAPPA`` (0.4) over at least ``MIN_SHARED_PAIRS`` (30) shared pairs; otherwise the reason
  says which condition failed.
- File-level human qrels (the sample's) against the LLM's chunk grades: ``lift_to_files`` gives a file the grade
  of its best graded chunk, as core.evaluation scores a file by its best chunk.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

LABELS = (0, 1, 2)
MIN_KAPPA = 0.4
MIN_SHARED_PAIRS = 30
TRUST_RULE = (
    f"A verdict rests on LLM labels alone only if their weighted kappa against people's labels is at least "
    f"{MIN_KAPPA:.1f} over at least {MIN_SHARED_PAIRS} pairs judged by both."
)
ABSENT_IS_ZERO_NOTE = (
    "These qrels list only relevant documents (BEIR's convention): a pooled document absent from a judged query's "
    "qrels counts as a human 0."
)
LIFTED_NOTE = "The LLM's chunk grades are lifted to files (a file takes its best graded chunk's grade), as the qrels judge files."

Qrels = Mapping[str, Mapping[str, int]]


@dataclass(frozen=True)
class Disagreement:
    query_id: str
    chunk_id: str
    human: int
    llm: int


@dataclass(frozen=True)
class Calibration:
    shared_pairs: int
    kappa: float | None  # Cohen's kappa, linear weights over 0/1/2; None when undefined
    confusion: tuple[tuple[int, ...], ...]  # confusion[human][llm]: shared pairs, labels 0/1/2
    disagreements: tuple[Disagreement, ...]  # largest gap first
    absent_is_zero: bool = False
    absent_zeros: int = 0  # shared pairs whose human 0 is an absence from the qrels
    queries: int = 0  # judged queries with at least one shared pair

    @property
    def agreement(self) -> float | None:
        """Share of shared pairs with the same label (None without shared pairs)."""
        same = sum(self.confusion[i][i] for i in range(len(LABELS)))
        return same / self.shared_pairs if self.shared_pairs else None

    def sentence(self) -> str:
        """'weighted kappa 0.52 over 34 shared pairs (12 queries); rule met: ...' in one line."""
        kappa = "undefined" if self.kappa is None else f"{self.kappa:.2f}"
        _, reason = llm_labels_trusted(self)
        head = f"weighted kappa {kappa} over {self.shared_pairs} shared pairs ({self.queries} queries)"
        if self.absent_is_zero and self.absent_zeros:
            head += f", {self.absent_zeros} of them human 0s by absence"
        return f"{head}; {reason}"


def weighted_kappa(a: Sequence[int], b: Sequence[int], labels: Sequence[int] = LABELS) -> float | None:
    """Cohen's kappa of two raters with linear weights |i - j| over ``labels`` (ordered); None when undefined."""
    if len(a) != len(b):
        raise ValueError(f"Both raters need a label for every item ({len(a)} vs {len(b)} labels).")
    index = {lab: i for i, lab in enumerate(labels)}
    unknown = sorted({x for x in (*a, *b) if x not in index})
    if unknown:
        raise ValueError(f"Labels must be among {list(labels)} (got {unknown[0]!r}).")
    n = len(a)
    if n == 0:
        return None
    k = len(labels)
    table = [[0] * k for _ in range(k)]
    for x, y in zip(a, b, strict=True):
        table[index[x]][index[y]] += 1
    rows = [sum(r) for r in table]
    cols = [sum(table[i][j] for i in range(k)) for j in range(k)]
    observed = sum(abs(i - j) * table[i][j] for i in range(k) for j in range(k)) / n
    expected = sum(abs(i - j) * rows[i] * cols[j] for i in range(k) for j in range(k)) / (n * n)
    return None if expected == 0 else 1.0 - observed / expected


def _clip(grade: int) -> int:
    return min(max(int(grade), LABELS[0]), LABELS[-1])


def calibrate(
    human: Qrels,
    llm: Qrels,
    *,
    absent_is_zero: bool = False,
    pools: Mapping[str, Sequence[str]] | None = None,
) -> Calibration:
    """The LLM's labels (``llm``: {query: {chunk: 0/1/2}}) against people's (``human``) on the pairs both judged.

    ``pools``: where given, only pooled pairs count. ``absent_is_zero``: a pair the LLM graded whose document is
    absent from a judged query's human qrels is a human 0 (see ``ABSENT_IS_ZERO_NOTE``)."""
    confusion = [[0] * len(LABELS) for _ in LABELS]
    hs: list[int] = []
    ls: list[int] = []
    disagreements: list[Disagreement] = []
    zeros = 0
    queries: set[str] = set()
    for qid in sorted(llm):
        judged = human.get(qid)
        if not judged:
            continue
        pooled = set(pools.get(qid, ())) if pools is not None else None
        for cid in sorted(llm[qid]):
            if pooled is not None and cid not in pooled:
                continue
            got = llm[qid][cid]
            if got not in LABELS:
                raise ValueError(f"LLM label of ({qid!r}, {cid!r}) must be 0, 1 or 2 (got {got!r}).")
            if cid in judged:
                h = _clip(judged[cid])
            elif absent_is_zero:
                h, zeros = 0, zeros + 1
            else:
                continue
            hs.append(h)
            ls.append(got)
            queries.add(qid)
            confusion[h][got] += 1
            if h != got:
                disagreements.append(Disagreement(qid, cid, h, got))
    disagreements.sort(key=lambda d: (-abs(d.human - d.llm), d.query_id, d.chunk_id))
    return Calibration(
        shared_pairs=len(hs),
        kappa=weighted_kappa(hs, ls),
        confusion=tuple(tuple(r) for r in confusion),
        disagreements=tuple(disagreements),
        absent_is_zero=absent_is_zero,
        absent_zeros=zeros,
        queries=len(queries),
    )


def llm_labels_trusted(cal: Calibration) -> tuple[bool, str]:
    """(may a verdict rest on LLM labels alone?, why, in words): kappa >= MIN_KAPPA over >= MIN_SHARED_PAIRS."""
    rule = f"the rule needs a weighted kappa of at least {MIN_KAPPA:.2f} over at least {MIN_SHARED_PAIRS} shared pairs"
    failed = []
    if cal.shared_pairs < MIN_SHARED_PAIRS:
        failed.append(
            f"only {cal.shared_pairs} pair{'s' if cal.shared_pairs != 1 else ''} judged by both a person and the LLM"
        )
    if cal.kappa is None:
        failed.append("the kappa is undefined (no shared pair, or every label the same)")
    elif cal.kappa < MIN_KAPPA:
        failed.append(f"the weighted kappa is {cal.kappa:.2f}, below {MIN_KAPPA:.2f}")
    if failed:
        return False, "LLM labels not trusted alone: " + " and ".join(failed) + f"; {rule}."
    return True, (
        f"LLM labels may stand alone: a weighted kappa of {cal.kappa:.2f} over {cal.shared_pairs} shared pairs meets "
        f"the rule (at least {MIN_KAPPA:.2f} over at least {MIN_SHARED_PAIRS})."
    )


def lift_to_files(qrels: Qrels, file_of: Mapping[str, str]) -> dict[str, dict[str, int]]:
    """Chunk-level labels as file-level ones: a file takes the highest label of its graded chunks (ids that name
    no chunk of ``file_of`` are kept as they are)."""
    out: dict[str, dict[str, int]] = {}
    for qid, docs in qrels.items():
        files: dict[str, int] = {}
        for cid, label in docs.items():
            f = file_of.get(cid, cid)
            files[f] = max(label, files.get(f, label))
        out[qid] = files
    return out
