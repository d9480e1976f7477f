"""Report page glue: what the session has (corpus, both built models, judgments, cost inputs) -> the report files.

The measuring and the writing are core's (core.report.data.gather, core.report.sections, core.report.html/_md), the same
functions the ``report`` CLI runs; here the inputs are read from the session and the result is memoised by
content, so the Report page and the Evaluate page's download share one build.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

import streamlit as st

from core.evaluation import Qrels
from core.frontier import ScaleInputs
from core.ingest import ChunkOptions
from core.judging import MAPPING_NOTE, JudgmentStore
from core.models import Throughput
from core.queries import QRELS_RULE
from core.report import (
    DayOne,
    EvidenceRun,
    Report,
    ReportData,
    add_store_figures,
    build_report,
    gather,
    render_html,
    render_markdown,
    unique_names,
)
from core.search import ModelIndex, System
from core.store import default_root
from core.types import Corpus
from ui import build, day_one, frontier, resources, state, systems
from ui import compare as cmp
from ui import corpus_map as mp
from ui import evaluate as ev
from ui.corpus import chunk_options, sample_judgments


@dataclass(frozen=True, eq=False)
class Inputs:
    """What one report is built from (read from the session in the script thread)."""

    corpus: Corpus
    indexes: tuple[ModelIndex, ModelIndex]
    instructions: tuple[str | None, str | None]
    queries: dict[str, str]
    qrels: Qrels
    source: str
    chunking: ChunkOptions
    scale: ScaleInputs
    label: str
    store: JudgmentStore | None
    throughputs: tuple[Throughput, ...] = ()  # the Frontier page's choice per model (measured or declared)
    systems: dict[str, System] = field(default_factory=dict)  # BM25, hybrid, reranked systems beside A and B
    history: tuple[str, ...] = ()  # Compare's queries: the map places them when nothing is judged
    generated: tuple[str, ...] = ()  # the ids of the corpus's generated test queries (Day-one verdict page)

    def key(self) -> tuple[Any, ...]:
        """Content key: models' vectors, judgments, settings, and what the store's judgments and votes say (a digest
        of their content: a relabelled result or a changed vote is another report, though the counts are equal)."""
        blob = json.dumps(
            [
                self.queries,
                self.qrels,
                self.source,
                asdict(self.scale),
                [t.to_json() for t in self.throughputs],
                [] if self.qrels else list(self.history),
                list(self.generated),
            ],
            sort_keys=True,
        ).encode()
        return (
            "report",
            self.corpus.sha256,
            tuple(mi.vectors_sha for mi in self.indexes),
            tuple(mi.embedder.cache_key for mi in self.indexes),
            self.instructions,
            hashlib.sha1(blob).hexdigest(),
            store_digest(self.store),
            tuple(self.systems),
        )


def store_digest(store: JudgmentStore | None) -> str:
    """A digest of a judgment store's current judgments and its votes, every field ('' for no store)."""
    if store is None:
        return ""
    rows = [[asdict(j) for j in store.judgments()], [asdict(v) for v in store.votes()]]
    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True, eq=False)
class Built:
    data: ReportData
    report: Report
    html: str
    markdown: str


def judgment_store(corpus: Corpus) -> JudgmentStore | None:
    """The corpus's judgment store (the Judge page's), or None when it cannot be opened."""
    try:
        root = default_root()
        return resources.memo(
            ("judgments", str(root), corpus.sha256),
            lambda: JudgmentStore.for_corpus(corpus.sha256, root=root),
        )
    except Exception:  # an unreadable store must not take the report down; the section says none
        return None


def judged_set(corpus: Corpus, store: JudgmentStore | None) -> tuple[dict[str, str], Qrels, str]:
    """The judgments the report rests on: the sample's or BEIR set's own, else the judgment store, else thumbs."""
    origin = state.corpus_origin()
    if origin == "sample":
        queries, qrels = sample_judgments()
        if qrels:
            return dict(queries), dict(qrels), "the sample corpus's judgments (sample_corpus/qrels.tsv)"
    if origin == "beir":
        queries, qrels = ev.beir_judgments(corpus)
        if qrels:
            return dict(queries), dict(qrels), "the uploaded BEIR set's qrels"
    if store is not None:
        queries, qrels = store.qrels("human")  # people's labels; LLM grades are their own evidence
        qrels = {q: dict(d) for q, d in qrels.items() if d}
        if qrels:
            return (
                {q: queries[q] for q in qrels if q in queries},
                qrels,
                "the judgment store (pooled and imported over thumbs)",
            )
    queries, qrels = ev.label_judgments(corpus)
    return dict(queries), dict(qrels), "labels from the Compare page" if qrels else ""


def scale() -> ScaleInputs:
    """The Frontier page's cost-at-scale inputs."""
    return ScaleInputs(
        chunks=int(state.get("fr_chunks")),
        qps=float(state.get("fr_qps")),
        replicas=int(state.get("fr_replicas")),
        usd_per_gb_month=float(state.get("fr_ram")),
        usd_per_gpu_hour=float(state.get("fr_gpu")),
        usd_per_disk_gb_month=float(state.get("fr_disk")),
        usd_per_cpu_core_month=float(state.get("fr_cpu")),
    )


def inputs() -> Inputs | None:
    """The session's inputs, or None when the corpus or either index is missing."""
    corpus = resources.current_corpus()
    a, b = build.built_index("A"), build.built_index("B")
    if corpus is None or a is None or b is None:
        return None
    store = judgment_store(corpus)
    queries, qrels, source = judged_set(corpus, store)
    label = "sample_corpus" if state.corpus_origin() == "sample" else (corpus.name or "the uploaded corpus")
    return Inputs(
        corpus=corpus,
        indexes=(a, b),
        instructions=(cmp.instruction("A"), cmp.instruction("B")),
        queries=queries,
        qrels=qrels,
        source=source,
        chunking=chunk_options(),
        scale=scale(),
        label=label,
        store=store,
        throughputs=(
            frontier.throughput_or_measured("A", a)[0],
            frontier.throughput_or_measured("B", b)[0],
        ),
        systems=systems.extras(corpus),
        history=tuple(state.history()),
        generated=tuple(q.id for q in day_one.saved_queries(corpus)[0]),
    )


def commands(inp: Inputs) -> list[str]:
    """CLI lines that recompute the report's numbers (the corpus path is the user's own folder when uploaded)."""
    models = " ".join(
        [
            *(f"--model {shlex.quote(mi.spec.name)}" for mi in inp.indexes),
            *(f"--system {shlex.quote(name)}" for name in inp.systems),
        ]
    )
    corpus = "sample_corpus" if inp.label == "sample_corpus" else "YOUR_CORPUS_FOLDER"
    lines = []
    if inp.label == "sample_corpus":
        lines.append(
            f"python -m core.cli evaluate --beir sample_corpus {models} --exact --json evaluate.json"
        )
    judged = " --judgments JUDGMENTS.sqlite" if inp.store is not None and "store" in inp.source else ""
    lines.append(
        f"python -m core.cli report --corpus {corpus} {models}{judged} --out report.html --markdown report.md"
    )
    return lines


def built(inp: Inputs) -> Built | None:
    """The report for these inputs if it was already built in this process (computes nothing)."""
    found: Built | None = resources.memo_get(inp.key())
    return found


def build_files(inp: Inputs) -> Built:
    """Measure, build and render the report once per content key (the CLI's functions)."""

    def make() -> Built:
        cmap, why = corpus_map(inp)
        data = gather(
            inp.corpus,
            inp.indexes,
            corpus_label=inp.label,
            queries=inp.queries,
            qrels=inp.qrels or None,
            query_source=inp.source,
            chunking=inp.chunking,
            names=unique_names(inp.indexes),
            instructions=inp.instructions,
            scale=inp.scale,
            throughputs=inp.throughputs,
            commands=commands(inp),
            systems=inp.systems,
            corpus_map=cmap,
        )
        if why:
            data.skipped["map"] = why
            data.notes.append(why)
        add_store_figures(data, inp.store)
        data.day_one = day_one_evidence(inp.corpus)
        report = build_report(data)
        return Built(data, report, render_html(report), render_markdown(report))

    found: Built = resources.memo(inp.key(), make)
    return found


def day_one_evidence(corpus: Corpus) -> DayOne | None:
    """The Day-one verdict page's evidence (generated queries, LLM grades) ranked as Evaluate ranks it, with the
    LLM's check against people; None when there is neither."""
    runs: list[EvidenceRun] = []
    generated, _ = day_one.saved_queries(corpus)
    if generated:
        queries, qrels = day_one.generated_judgments(corpus)
        board, said = ev.leaderboard_for(corpus, queries, qrels, "generated queries", exact=True, dims=None)
        g = generated[0].provenance
        about: tuple[str, ...] = (
            f"{len(generated)} queries written by {g.generator} ({g.host}), prompt {g.prompt_version}, seed {g.seed}",
            "language pairs: " + day_one.pair_mix(generated),
            QRELS_RULE,
        )
        runs.append(EvidenceRun("Generated queries", about, board, said))
    queries, qrels, evidence = ev.llm_judgments(corpus)
    checks = day_one.llm_checks(corpus)
    if qrels and checks is not None:
        board, said = ev.leaderboard_for(corpus, queries, qrels, "LLM judgments", exact=True, dims=None)
        about = (
            f"{len(queries)} queries whose pools an LLM graded ({checks.llm_pairs} pairs); "
            + (
                "people's labels win wherever both exist"
                if evidence == "mixed"
                else "no person judged these pools"
            ),
            MAPPING_NOTE,
        )
        runs.append(EvidenceRun("LLM judgments", about, board, said))
    if not runs:
        return None
    trust = checks.trust if checks is not None else (False, "no LLM grades for this corpus")
    return DayOne(
        tuple(runs), checks.rows if checks is not None else (), trust, checks.llm_pairs if checks else 0
    )


def corpus_map(inp: Inputs) -> tuple[Any, str]:
    """The Map page's map of these inputs (the same memo) and '', or None and why it could not be computed."""
    try:
        found = mp.map_queries(inp.corpus, inp.queries, inp.qrels, inp.source)
        return mp.corpus_map(inp.corpus, inp.indexes, found), ""
    except Exception as exc:  # the map is one section: the rest of the report is still measured
        return None, f"The corpus map could not be computed: {exc}"


def file_name(inp: Inputs, ext: str) -> str:
    """report-<model-a>-vs-<model-b>.<ext> with only safe characters."""
    names = "-vs-".join(mi.spec.name for mi in inp.indexes)
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in names)
    return f"report-{safe[:80]}.{ext}"


def download_button(key: str) -> None:
    """A download button for the report (built on click when it has not been built yet); nothing without indexes."""
    inp = inputs()
    if inp is None:
        return
    found = built(inp)
    st.download_button(
        "Download the decision report (HTML)",
        found.html if found is not None else (lambda: build_files(inp).html),
        file_name(inp, "html"),
        mime="text/html",
        icon=":material/summarize:",
        key=key,
        on_click="ignore",
        help="One self-contained file for stakeholders (the Report page previews it); built on the first click.",
    )
