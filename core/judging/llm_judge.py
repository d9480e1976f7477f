"""The LLM judge: an UMBRELA-style graded prompt over the pooled union of the systems' top-k, stored as origin "llm".

- The prompt follows UMBRELA (Upadhyay et al. 2024, the open reproduction of Bing's LLM relevance assessor), cut
  down for small models: the four-grade scale and the query and passage, and a request for one digit. The scale:
  0 = the passage has nothing to do with the query; 1 = related to the query but does not answer it; 2 = has some
  answer for the query, but unclear or hidden among extraneous information; 3 = dedicated to the query and holds the
  exact answer. ``PROMPT_VERSION`` names this prompt; a change to its words is a new version (and a new cache key).
- The passage is cut to ``PASSAGE_CHARS`` characters (whitespace collapsed) and the query to ``QUERY_CHARS``: the
  bundled model reads about 150 prompt tokens a second on two cores, so a short prompt is what makes it usable.
- Grades map onto the store's 0/1/2 by the TREC RAG convention that 0 and 1 are not relevant:
  0, 1 -> 0; 2 -> 1; 3 -> 2 (``to_store_label``).
- The pool of a query is core.judging.pooling's: the union of every system's top-k (``pool_queries``), the pool the
  Judge page shows. Each pair is stored in the judgment store with origin ``"llm"`` and rater
  ``f"{llm.name} · {PROMPT_VERSION}"``, under the query id the app gives the query's text (``query_id(text)``), so
  the store's merge rule applies: a person's judgment of the same pair always wins.
- ``judge_pool`` skips pairs a person already labelled (unless ``skip_human=False``, for calibration), reuses pairs
  this rater already graded (a re-run costs nothing), and never stores a missing grade (a refusal, prose): those are
  counted, with examples. Cancel stops between batches (and inside one where the backend supports it); every batch
  finished is stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from core.judging.pooling import pool
from core.judging.store import HUMAN_ORIGINS, MAX_NAME, Judgment, JudgmentStore, query_id

PROMPT_VERSION = "umbrela-v1"
PASSAGE_CHARS = 600  # characters of a passage the judge reads (whitespace collapsed)
QUERY_CHARS = 300  # characters of a query the judge reads
GRADE_BATCH = 8  # prompts per grade() call: each finished batch is stored before the next starts
EXAMPLES = 5  # no-grade examples kept for the report
GRADE_TO_LABEL: dict[int, int] = {
    0: 0,
    1: 0,
    2: 1,
    3: 2,
}  # UMBRELA 0-3 -> the store's 0/1/2 (0-1 not relevant)
MAPPING_NOTE = (
    "The judge grades 0-3 (UMBRELA); grades 0 and 1 count as not relevant (0), 2 as partly relevant (1) and "
    "3 as highly relevant (2), the TREC RAG convention."
)

SYSTEM_PROMPT = "You are a search quality rater. You judge how well a passage answers a search query."
USER_PROMPT = """Grade the passage for the query on a scale of 0 to 3:
0 = the passage has nothing to do with the query.
1 = the passage is related to the query but does not answer it.
2 = the passage has some answer for the query, but the answer is unclear or hidden among extraneous information.
3 = the passage is dedicated to the query and contains the exact answer.

Query: {query}

Passage: {passage}

Answer with a single digit: 0, 1, 2 or 3."""

Message = dict[str, str]
Prompt = list[Message]


class _Grade(Protocol):
    @property
    def label(self) -> int | None: ...

    @property
    def raw(self) -> str: ...


class Grader(Protocol):
    """What the judge needs of a core.llm backend (``core.llm.Llm`` satisfies it)."""

    @property
    def name(self) -> str: ...

    def grade(
        self,
        prompts: Sequence[Prompt],
        *,
        progress: Callable[[int, int], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> Sequence[_Grade]: ...

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float: ...


def shorten(text: str, limit: int) -> str:
    """``text`` with whitespace collapsed, cut to ``limit`` characters (an ellipsis marks a cut)."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def judge_prompt(query: str, passage: str) -> Prompt:
    """The chat prompt that asks for one UMBRELA grade of ``passage`` for ``query`` (both shortened)."""
    user = USER_PROMPT.format(query=shorten(query, QUERY_CHARS), passage=shorten(passage, PASSAGE_CHARS))
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def to_store_label(grade: int | None) -> int | None:
    """An UMBRELA grade 0-3 as the store's label 0/1/2 (``GRADE_TO_LABEL``); None (no grade) stays None."""
    if grade is None:
        return None
    if grade not in GRADE_TO_LABEL:
        raise ValueError(f"An LLM grade must be 0, 1, 2 or 3 (got {grade!r}).")
    return GRADE_TO_LABEL[grade]


def rater_name(llm: Grader) -> str:
    """The rater the store records for this judge: ``f"{llm.name} · {PROMPT_VERSION}"`` (fits the store's limit)."""
    tail = f" · {PROMPT_VERSION}"
    return str(llm.name)[: MAX_NAME - len(tail)].strip() + tail


def pool_queries(
    queries: Mapping[str, str], rankings: Mapping[str, Sequence[Sequence[str]]], k: int
) -> dict[str, list[str]]:
    """{query id: pool}: per query, core.judging.pooling's union of every system's top-k (``rankings[qid]``: one
    ranked chunk-id list per system), seeded by ``query_id(text)`` as the Judge page seeds it."""
    out: dict[str, list[str]] = {}
    for qid, text in queries.items():
        lists = list(rankings.get(qid, ()))
        if not lists:
            out[qid] = []
            continue
        first, second = lists[0], lists[1] if len(lists) > 1 else ()
        out[qid] = pool(first, second, k, seed=query_id(text), more=lists[2:])
    return out


@dataclass(frozen=True)
class JudgePlan:
    """What a run will do, before it runs: pairs in the pools, those to grade now, those reused or left to people."""

    rater: str
    pairs: int  # (query, chunk) pairs in the pools
    todo: tuple[tuple[str, str], ...]  # (query id, chunk id) to grade now
    cached: dict[str, dict[str, int]]  # {query id: {chunk id: label}} this rater already graded (reused)
    human: int  # pairs a person already labelled (left to them)
    seconds: float  # estimated seconds to grade ``todo`` (the backend's own figure per prompt)

    def sentence(self) -> str:
        """The estimate in words, shown before a run."""
        reused = sum(len(d) for d in self.cached.values())
        parts = [f"{self.pairs} pooled pairs", f"{len(self.todo)} to grade"]
        if reused:
            parts.append(f"{reused} already graded by this judge (reused)")
        if self.human:
            parts.append(f"{self.human} judged by a person (left to them)")
        return ", ".join(parts) + f"; about {self.seconds:.0f} s (an estimate)."


@dataclass(frozen=True)
class JudgeRun:
    """What a run did."""

    rater: str
    judged: int  # pairs graded and stored now
    cached: int  # pairs this rater had graded before (reused, not asked again)
    skipped_human: int  # pairs a person already labelled
    no_grade: int  # pairs the LLM gave no usable grade for (counted, never stored)
    no_grade_examples: list[tuple[str, str, str]]  # (query id, chunk id, the LLM's answer)
    seconds: float
    cancelled: bool
    labels: dict[str, dict[str, int]] = field(
        default_factory=dict
    )  # {query id: {chunk id: 0/1/2}}, new + reused
    grades: dict[int, int] = field(default_factory=dict)  # UMBRELA grade -> count, of the pairs graded now

    def sentence(self) -> str:
        """The run in words."""
        out = f"{self.judged} pairs graded by {self.rater} in {self.seconds:.1f} s"
        if self.cached:
            out += f", {self.cached} reused"
        if self.skipped_human:
            out += f", {self.skipped_human} left to the person who judged them"
        if self.no_grade:
            out += f", {self.no_grade} without a usable grade (not stored)"
        return out + (" — cancelled; the pairs graded so far are kept." if self.cancelled else ".")


def plan_judging(
    llm: Grader,
    store: JudgmentStore,
    queries: Mapping[str, str],
    pools: Mapping[str, Sequence[str]],
    chunk_texts: Mapping[str, str],
    *,
    skip_human: bool = True,
) -> JudgePlan:
    """The pairs of ``pools`` to grade now and the time estimate: pairs minus those this rater graded before
    (and those a person labelled, with ``skip_human``), times the backend's seconds per prompt."""
    rater = rater_name(llm)
    current = store.judgments()
    mine: dict[tuple[str, str], int] = {}
    people: set[tuple[str, str]] = set()
    for j in current:
        if j.label is None:
            continue
        if j.origin == "llm" and j.rater == rater:
            mine[(j.query_id, j.chunk_id)] = j.label
        elif j.origin in HUMAN_ORIGINS:
            people.add((j.query_id, j.chunk_id))
    todo: list[tuple[str, str]] = []
    cached: dict[str, dict[str, int]] = {}
    pairs = human = 0
    seconds = 0.0
    for qid, chunk_ids in pools.items():
        if qid not in queries:
            raise ValueError(f"Pool of query {qid!r} has no query text; give its text in queries.")
        sid = query_id(queries[qid])
        for cid in dict.fromkeys(chunk_ids):
            if cid not in chunk_texts:
                raise ValueError(
                    f"Chunk {cid!r} of the pool of query {qid!r} has no text; give it in chunk_texts."
                )
            pairs += 1
            if skip_human and ((sid, cid) in people or (qid, cid) in people):
                human += 1
            elif (sid, cid) in mine:
                cached.setdefault(qid, {})[cid] = mine[(sid, cid)]
            else:
                todo.append((qid, cid))
                chars = sum(len(m["content"]) for m in judge_prompt(queries[qid], chunk_texts[cid]))
                seconds += float(llm.seconds_estimate(chars, 1))
    return JudgePlan(rater, pairs, tuple(todo), cached, human, seconds)


def _offset(
    progress: Callable[[int, int], None] | None, start: int, total: int
) -> Callable[[int, int], None] | None:
    """A batch's progress callback reporting the run's progress (pairs done before the batch added)."""
    if progress is None:
        return None
    return lambda done, _batch_total: progress(min(total, start + done), total)


def judge_pool(
    llm: Grader,
    store: JudgmentStore,
    queries: Mapping[str, str],
    pools: Mapping[str, Sequence[str]],
    chunk_texts: Mapping[str, str],
    *,
    depth: int,
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    skip_human: bool = True,
    plan: JudgePlan | None = None,
) -> JudgeRun:
    """Grade every pooled pair with ``llm`` and store the grades (origin "llm"); see the module docstring.

    ``queries``: {query id: text}; ``pools``: {query id: [chunk id, ...]} (``pool_queries``); ``chunk_texts``:
    {chunk id: text}; ``depth``: the pool's k, recorded with each judgment. ``progress(done, total)`` counts the
    pairs to grade; ``cancel()`` true stops the run, keeping what was stored. ``plan``: a ``plan_judging`` result
    made just before (saves reading the store twice)."""
    t0 = time.perf_counter()
    plan = plan or plan_judging(llm, store, queries, pools, chunk_texts, skip_human=skip_human)
    labels = {qid: dict(docs) for qid, docs in plan.cached.items()}
    judged = no_grade = 0
    examples: list[tuple[str, str, str]] = []
    grades: dict[int, int] = {}
    cancelled = False
    total = len(plan.todo)
    if progress is not None:
        progress(0, total)
    for start in range(0, total, GRADE_BATCH):
        if cancel is not None and cancel():
            cancelled = True
            break
        batch = plan.todo[start : start + GRADE_BATCH]
        inner = _offset(progress, start, total)
        try:
            answers = list(
                llm.grade(
                    [judge_prompt(queries[q], chunk_texts[c]) for q, c in batch],
                    progress=inner,
                    cancel=cancel,
                )
            )
        except Exception:
            if cancel is not None and cancel():  # the backend stopped because the user cancelled
                cancelled = True
                break
            raise
        if len(answers) != len(batch):
            raise RuntimeError(f"{llm.name} returned {len(answers)} grades for {len(batch)} prompts.")
        now = time.time()
        rows = []
        for (qid, cid), g in zip(batch, answers, strict=True):
            if g.label is None:
                no_grade += 1
                if len(examples) < EXAMPLES:
                    examples.append((qid, cid, shorten(g.raw, 120)))
                continue
            label = to_store_label(g.label)
            assert label is not None
            grades[g.label] = grades.get(g.label, 0) + 1
            labels.setdefault(qid, {})[cid] = label
            text = queries[qid]
            rows.append(Judgment(query_id(text), text, cid, label, plan.rater, now, depth, "llm"))
        store.add_judgments(rows)
        judged += len(rows)
        if progress is not None:
            progress(min(total, start + len(batch)), total)
    return JudgeRun(
        rater=plan.rater,
        judged=judged,
        cached=sum(len(d) for d in plan.cached.values()),
        skipped_human=plan.human,
        no_grade=no_grade,
        no_grade_examples=examples,
        seconds=time.perf_counter() - t0,
        cancelled=cancelled,
        labels={q: labels[q] for q in sorted(labels)},
        grades=dict(sorted(grades.items())),
    )
