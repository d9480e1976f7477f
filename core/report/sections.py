"""The decision report as data: eight sections of plain blocks (text, tables, charts, side-by-side hits).

``build_report(ReportData)`` turns the measured figures (core.report.data) into sections; core.report.html and
core.report.markdown render the same Report. Blocks hold raw user text (file names, chunk text, queries): the
renderers escape it. A section whose data does not exist says so (``missing``) instead of vanishing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.dims import reduction_label
from core.evaluation import MAX_JUDGED_GAP, Comparison, by_group, pretty_metric
from core.evaluation import verdict as core_verdict
from core.frontier import (
    FORMULAS,
    Measurement,
    Sweep,
    binary_collapse_warning,
    cost_at_scale,
    embedding,
    equal_budget,
    pareto_mark,
    qdrant_tier,
    recall_caveat,
)
from core.ingest import language_name, language_pair_name
from core.judging import TRUST_RULE
from core.models import display_label
from core.report import charts, regions
from core.report.data import EVAL_METRICS, JUDGED_K, ReportData
from core.search import KIND_LABELS
from core.text import format_bytes, minus_signs, number


@dataclass(frozen=True)
class Text:
    text: str
    kind: Literal["p", "lead", "note", "warn", "missing", "answer", "answer_thin"] = "p"


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    numeric: tuple[int, ...] = ()  # right-aligned column positions


@dataclass(frozen=True)
class Chart:
    title: str
    spec: dict[str, Any]  # Vega-Lite JSON (altair's to_dict), rendered offline to SVG
    caption: str = ""
    table: Table | None = None  # the same figures, for Markdown and for readers without the picture


@dataclass(frozen=True)
class Facts:
    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Code:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    rank: int
    where: str  # source and location
    text: str
    label: str  # "judged 2" / "unjudged" / ""


@dataclass(frozen=True)
class SideBySide:
    query: str
    detail: str
    left_title: str
    right_title: str
    left: tuple[Hit, ...]
    right: tuple[Hit, ...]


Block = Text | Bullets | Table | Chart | Facts | Code | SideBySide


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    blocks: tuple[Block, ...] = ()


@dataclass(frozen=True)
class Answer:
    """The verdict paragraph and the numbers in it (for tests and for the page's summary)."""

    text: str
    decided: bool  # False: the evidence was too thin (or absent) to name a winner
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Report:
    title: str
    subtitle: str
    created: str
    answer: Answer
    sections: tuple[Section, ...]


# ---- formatting ---------------------------------------------------------------------------------------


def f3(x: float | None) -> str:
    return number(x, 3)


def signed(x: float) -> str:
    return number(x, 3, sign=True)


def pval(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else "< 0.001"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def ms(x: float) -> str:
    return "–" if math.isnan(x) else (f"{x:.2f}" if x < 10 else f"{x:.1f}")


# ---- 1. the answer --------------------------------------------------------------------------------------


def headline(cmp: Comparison) -> str:
    """The metric the verdict is about: nDCG@10 when computed, else the first."""
    return "ndcg@10" if "ndcg@10" in cmp.paired else next(iter(cmp.paired))


def figures_sentence(cmp: Comparison) -> tuple[str, dict[str, Any]]:
    """The two means behind the verdict's difference, and how it was tested (the difference, its CI and p are
    the verdict's own: written once); the figures as ``core.cli evaluate --json`` has them."""
    m = headline(cmp)
    p = cmp.paired[m]
    figures = {
        "metric": m, "queries": p.queries, "mean_a": p.mean_a, "mean_b": p.mean_b, "diff": p.diff,
        "ci_low": p.ci_low, "ci_high": p.ci_high, "p_value": p.p_value,
    }  # fmt: skip
    text = (
        f"Mean {pretty_metric(m)}: {cmp.name_a} {f3(p.mean_a)}, {cmp.name_b} {f3(p.mean_b)} (paired randomisation "
        "test and bootstrap 95% CI of the difference, 10,000 resamples, seed 0; every metric in section 4)."
    )
    return text, figures


def verdict(data: ReportData) -> Answer:
    """core.evaluation.decide's sentence (no winner on thin evidence, with the reasons) plus the exact figures."""
    cmp = data.comparison
    origins = data.judgment_origins
    total = sum(origins.values())
    from_store = data.query_source.startswith("the judgment store")
    v = core_verdict(
        cmp,
        metric=headline(cmp) if cmp is not None else "ndcg@10",
        source="union" if from_store else "",
        agreement=data.raters,
        votes=data.votes,
        judged_at_10=data.judged_at or None,
        unpooled_share=origins.get("thumbs", 0) / total if from_store and total else None,
        digits=3,  # as the tables of section 4
    )
    sentence = minus_signs(v.sentence)
    if cmp is None and data.single:
        return Answer(single_sentence(data), decided=False, figures={"winner": None, "single": data.single})
    if cmp is None and data.judged and "quality" in data.skipped:  # judged, but the evaluation failed
        return Answer(
            f"No verdict: the {data.skipped['quality']}. The cost, latency and agreement figures below still hold.",
            decided=False,
            figures={"winner": None},
        )
    if cmp is None:
        why = "only one model was given" if len(data.models) < 2 else "nothing was judged"
        return Answer(
            f"{sentence} This report cannot say which model retrieves better ({why}); the cost, latency and "
            "agreement figures below still hold.",
            decided=v.winner is not None,
            figures={"winner": v.winner},
        )
    text, figures = figures_sentence(cmp)
    return Answer(f"{sentence} {text}", decided=v.winner is not None, figures={**figures, "winner": v.winner})


def single_sentence(data: ReportData) -> str:
    """One model on judged queries: its own figures, and what a verdict needs."""
    name, means = next(iter(data.single.items()))
    said = ", ".join(f"{pretty_metric(m)} {f3(v)}" for m, v in means.items())
    return (
        f"{display_label(name)} on {data.single_queries} judged queries: {said} (exact search, top 100, as "
        "core.cli evaluate computes them). Only one model was given, so there is nothing to compare it with: add "
        "a second model (a second --model) for a verdict."
    )


def cost_sentence(data: ReportData) -> str:
    """What each model's default configuration costs per vector (the cheaper ones and the equal-budget readout
    are section 6's)."""
    defaults = [(s.model, d) for s in data.sweeps if (d := s.default()) is not None]
    if not defaults:
        return ""
    shapes = {(d.bytes_per_vector, d.dims) for _, d in defaults}
    if len(defaults) > 1 and len(shapes) == 1:
        size, dims = shapes.pop()
        said = f"{size:,} bytes a vector for each model ({dims} dims float32)"
    else:
        said = "; ".join(
            f"{m} {d.bytes_per_vector:,} bytes a vector ({d.dims} dims float32)" for m, d in defaults
        )
    return (
        f"Cost at the default configuration: {said}. Section 6 has the smaller configurations, what each keeps "
        f"of its quality, and the cost at {data.scale.chunks:,} chunks."
    )


def rests_on(data: ReportData) -> list[str]:
    """What the verdict rests on: judged queries, judgment origins, raters and kappa, votes."""
    out = []
    cmp = data.comparison
    if cmp is None and data.single:
        out.append(f"{data.single_queries} judged queries: {data.query_source or 'judgments given'}")
        if data.qrels_note:
            out.append(data.qrels_note)
    elif cmp is not None:
        n = cmp.paired[headline(cmp)].queries
        out.append(f"{n} judged queries: {data.query_source or 'judgments given'}")
        if data.qrels_note:
            out.append(data.qrels_note)
        ja = ", ".join(f"{name} {f3(v)}" for name, v in data.judged_at.items())
        out.append(f"judged@{JUDGED_K} (share of each model's top {JUDGED_K} with a judgment): {ja}")
    else:
        out.append("no judged queries")
    if data.judgment_origins:
        out.append("judgments by origin: " + ", ".join(f"{k} {v}" for k, v in data.judgment_origins.items()))
    r = data.raters
    if r is not None and getattr(r, "kappa", None) is not None:
        kind = "Cohen's" if r.kind == "cohen" else "Fleiss'"
        out.append(
            f"{len(r.raters)} raters, {kind} kappa {number(r.kappa, 2)} on {r.shared_pairs} shared pairs"
        )
    elif r is not None and len(getattr(r, "raters", ())) > 1:
        out.append(
            f"{len(r.raters)} raters, but no two judged the same pairs, so no agreement (kappa) to report"
        )
    else:
        out.append("one rater or none named, so no agreement between raters (kappa) to report")
    v = data.votes
    if v is not None and getattr(v, "n", False):
        out.append(vote_text(v))
    else:
        out.append("blind A/B votes: none recorded")
    return out


def vote_text(v: Any) -> str:
    """A core.judging.votes.VoteSummary in words."""
    if v.win_rate_a is None:
        return f"blind A/B votes: {v.n} votes, none decisive under the ties rule ({v.ties_note})"
    sign = "no decisive vote" if v.p_sign is None else f"sign test p = {pval(v.p_sign)}"
    return (
        f"blind A/B votes: {v.model_a or 'A'} wins {pct(v.win_rate_a)} against {v.model_b or 'B'} "
        f"(95% CI {pct(v.ci_low)}–{pct(v.ci_high)}, {v.n} votes; {v.ties_note}; {sign}); "
        f"{v.a_wins} / {v.b_wins} / {v.ties} / {v.both_bad} for A / B / tie / both bad"
    )


def section_answer(data: ReportData, answer: Answer) -> Section:
    names = " or ".join(display_label(m.name) for m in data.models) or "(no model)"
    blocks: list[Block] = [
        Text(
            f"Question: which embedding model should we ship for {data.corpus_label}: {names}, and at what cost?",
            "lead",
        ),
        Text(answer.text, "answer" if answer.decided else "answer_thin"),
    ]
    cost = cost_sentence(data)
    if cost:
        blocks.append(Text(cost))
    blocks += [Text("What it rests on:", "note"), Bullets(tuple(rests_on(data)))]
    return Section("answer", "1. The question and the answer", tuple(blocks))


# ---- 2. corpus ------------------------------------------------------------------------------------------


def section_corpus(data: ReportData) -> Section:
    c = data.corpus
    loaded = [f for f in c.files if f.status == "loaded"]
    other = [f for f in c.files if f.status != "loaded"]
    hist = c.lang_histogram()
    total = max(1, len(c.chunks))
    langs = ", ".join(f"{language_name(lang)} {pct(n / total)} ({n})" for lang, n in hist.items()) or "none"
    o = data.chunking
    blocks: list[Block] = [
        Facts(
            (
                ("corpus", data.corpus_label),
                ("files", f"{len(c.files)} ({len(loaded)} loaded, {len(other)} skipped, empty or duplicate)"),
                ("chunks", f"{len(c.chunks):,}"),
                ("languages (share of chunks)", langs),
                (
                    "chunking",
                    data.chunking_said
                    or f"{o.chunk_size} {o.unit} per chunk, {o.chunk_overlap} overlap, "
                    + (
                        "split at headings, pages and code definitions"
                        if o.structure
                        else "no structural splits"
                    ),
                ),
                ("sha256", c.sha256),
            )
        )
    ]
    if other:
        blocks.append(
            Table(
                ("file", "status", "reason"),
                tuple((f.source, f.status, f.reason) for f in other[:50]),
                caption=f"Files not embedded ({len(other)}"
                + (", first 50 shown)" if len(other) > 50 else ")"),
            )
        )
    else:
        blocks.append(Text("Every file loaded.", "note"))
    return Section("corpus", "2. Corpus", tuple(blocks))


# ---- 3. models ------------------------------------------------------------------------------------------


def section_models(data: ReportData) -> Section:
    if not data.models:
        return Section("models", "3. Models", (Text("No model was built.", "missing"),))
    rows = []
    for m in data.models:
        mrl = f"{min(m.mrl_dims)}..{max(m.mrl_dims)}" if m.mrl_dims else "not Matryoshka-trained"
        build = (
            f"{m.embedded:,} of {m.chunks:,} chunks embedded in {m.embed_seconds:.1f} s"
            if m.embedded
            else f"all {m.chunks:,} vectors from the cache"
        )
        rate = m.throughput.label() if m.throughput is not None else f"– ({m.docs_per_s_note})"
        rows.append(
            (
                ("model", display_label(m.name)),
                ("id", m.model_id),
                ("backend", m.backend),
                ("fingerprint (cache key)", m.cache_key),
                ("dimensions", f"{m.dims} ({mrl})"),
                ("query prompt", repr(m.query_prefix) if m.query_prefix else "none"),
                ("document prompt", repr(m.doc_prompt) if m.doc_prompt else "none"),
                ("max tokens", str(m.max_tokens)),
                ("build", f"{build}; index {format_bytes(m.index_bytes)} in {m.index_seconds:.2f} s"),
                ("docs/s", rate),
            )
        )
    return Section("models", "3. Models", tuple(Facts(r) for r in rows))


# ---- 4. quality -----------------------------------------------------------------------------------------


def section_quality(data: ReportData) -> Section:
    cmp = data.comparison
    title = "4. Quality"
    if cmp is None and data.single:
        name, means = next(iter(data.single.items()))
        judged = data.judged_at.get(name)
        return Section(
            "quality",
            title,
            (
                Table(
                    ("metric", display_label(name)),
                    tuple((pretty_metric(m), f3(v)) for m, v in means.items())
                    + (((f"judged@{JUDGED_K}", f3(judged)),) if judged is not None else ()),
                    caption=f"Mean over {data.single_queries} judged queries (exact search, top 100).",
                    numeric=(1,),
                ),
                Text(
                    "No paired comparison: only one model was given. Add a second model to compare.", "note"
                ),
                *vote_blocks(data),
                *leaderboard_blocks(data),
            ),
        )
    if cmp is None:
        why = "only one model" if len(data.models) < 2 else "no judged queries"
        fix = (
            "Add a second model (a second --model)"
            if data.judged
            else "Give a judged folder or BEIR set as --corpus, --qrels FILE, or --judgments STORE (the Judge page "
            "writes one)"
        )
        return Section(
            "quality",
            title,
            (
                Text(
                    f"No quality figures: {why}. {fix}, then build the report again.",
                    "missing",
                ),
                *vote_blocks(data),
                *leaderboard_blocks(data),
            ),
        )
    a, b = cmp.name_a, cmp.name_b
    rows = tuple(
        (
            pretty_metric(m),
            f3(p.mean_a),
            f3(p.mean_b),
            signed(p.diff),
            f"{signed(p.ci_low)}..{signed(p.ci_high)}",
            pval(p.p_value) + (" *" if p.significant else ""),
            f"{p.wins} / {p.ties} / {p.losses}",
        )
        for m, p in [
            *cmp.paired.items(),
            *([("ndcg_condensed@10", cmp.paired_condensed)] if cmp.paired_condensed else []),
        ]
    )
    blocks: list[Block] = [
        Text(f"A = {a}, B = {b}.", "note"),
        Table(
            ("metric", "A", "B", "A − B", "95% CI", "p", "win / tie / loss"),
            rows,
            caption="Paired randomisation test (10,000 sign flips, seed 0) and bootstrap 95% CI of the mean "
            "difference A − B over the judged queries; * p < 0.05; win/tie/loss counts queries where A scores "
            "higher / the same / lower. Condensed nDCG@10: nDCG@10 with unjudged results removed first (Sakai's "
            "condensed lists), so neither model is rewarded or punished for results nobody judged.",
            numeric=(1, 2, 3, 4, 5, 6),
        ),
    ]
    ja, jb = data.judged_at.get(a), data.judged_at.get(b)
    if ja is not None and jb is not None:
        blocks.append(
            Table(
                ("model", f"judged@{JUDGED_K}"),
                ((a, f3(ja)), (b, f3(jb))),
                caption=f"Share of each model's top {JUDGED_K} documents that carry a judgment.",
                numeric=(1,),
            )
        )
        if abs(ja - jb) > MAX_JUDGED_GAP:
            blocks.append(
                Text(
                    f"judged@{JUDGED_K} differs by {abs(ja - jb):.2f}: the model with fewer judged results may be "
                    "punished for results nobody judged. Pool both models' results and judge them (Judge page).",
                    "warn",
                )
            )
    m = headline(cmp)
    pm = pretty_metric(m)
    if data.lang_pairs:
        ga, gb = by_group(cmp.a, data.lang_pairs), by_group(cmp.b, data.lang_pairs)
        blocks.append(
            Table(
                ("query → documents", "queries", f"A {pm}", f"B {pm}", "A − B"),
                tuple(
                    (
                        language_pair_name(g),
                        str(ga[g]["queries"]),
                        f3(ga[g][m]),
                        f3(gb[g][m]),
                        signed(ga[g][m] - gb[g][m]),
                    )
                    for g in ga
                ),
                caption="By language pair: the query's language → the language of its relevant documents.",
                numeric=(1, 2, 3, 4),
            )
        )
    blocks += vote_blocks(data)
    blocks += leaderboard_blocks(data)
    per_q = cmp.per_query(m)
    chart_rows = [{"i": i + 1, "diff": r["diff"]} for i, r in enumerate(per_q)]
    wins = sum(r["diff"] > 0 for r in per_q)
    losses = sum(r["diff"] < 0 for r in per_q)
    blocks.append(
        Chart(
            f"Per-query difference, {pm}",
            charts.per_query_diff(chart_rows, metric=pm).to_dict(),
            caption=f"One bar per judged query, A − B on {pm}, sorted: {wins} queries where A is better "
            f"(blue), {losses} where B is better (amber), {len(per_q) - wins - losses} ties.",
            table=Table(
                ("query id", f"A {pm}", f"B {pm}", "A − B"),
                tuple((r["qid"], f3(r[a]), f3(r[b]), signed(r["diff"])) for r in per_q),
                numeric=(1, 2, 3),
            ),
        )
    )
    return Section("quality", title, tuple(blocks))


def leaderboard_blocks(data: ReportData) -> list[Block]:
    """Every system (models, BM25, hybrid, reranked) in one leaderboard, with its top group and what it rests on."""
    ranking = data.ranking
    if ranking is None:
        return []
    board, said = ranking.board, ranking.verdict
    m = board.metric
    rows = tuple(
        (
            r["system"],
            KIND_LABELS.get(r["kind"], r["kind"]),
            f3(r["ndcg@10"]),
            f3(r["mrr@10"]),
            f3(r["recall@100"]),
            f3(r["judged@10"]),
            signed(r[f"diff_vs_best_{m}"]),
            "–" if r["p_holm"] is None else pval(r["p_holm"]),
            "–" if r["latency_p50_ms"] is None else ms(r["latency_p50_ms"]),
            "–" if r["latency_p95_ms"] is None else ms(r["latency_p95_ms"]),
            format_bytes(r["index_bytes"] or 0),
            "yes" if r["top_group"] else "",
        )
        for r in board.table()
    )
    out: list[Block] = [
        Text(said.sentence, "note" if said.top_group else "missing"),
        Table(
            (
                "system",
                "kind",
                "nDCG@10",
                "MRR@10",
                "Recall@100",
                "judged@10",
                "vs best",
                "p (Holm)",
                "p50 ms",
                "p95 ms",
                "index",
                "top group",
            ),  # fmt: skip
            rows,
            caption=f"Every system on the same {board.queries} judged queries: {board.correction}. The top group "
            "holds the best system and every system not significantly worse than it; a lone winner is named only "
            "when the group holds one. Latency is per query, searched one at a time (encoding, search, fusion, "
            "rerank); BM25 returns only chunks sharing a word with the query, so its Recall@100 can stay below 1.",
            numeric=(2, 3, 4, 5, 6, 7, 8, 9),
        ),
    ]
    out += [Text(w[:1].upper() + w[1:], "warn") for w in said.warnings]
    return out


def vote_blocks(data: ReportData) -> list[Block]:
    v = data.votes
    if v is None or not getattr(v, "n", False):
        return [
            Text("Blind A/B votes: none recorded (Blind A/B votes page, or --judgments STORE).", "missing")
        ]
    said = vote_text(v)
    out: list[Block] = [Text(said[0].upper() + said[1:] + ".")]
    if data.vote_pairs:
        out.append(
            Table(
                ("query → documents", "votes", "A win rate", "95% CI"),
                tuple(
                    (language_pair_name(g), str(s.n), pct(s.win_rate_a), f"{pct(s.ci_low)}–{pct(s.ci_high)}")
                    for g, s in data.vote_pairs.items()
                    if s.win_rate_a is not None
                ),
                caption="Blind votes per language pair.",
                numeric=(1, 2, 3),
            )
        )
    return out


# ---- 5. where they differ -------------------------------------------------------------------------------


def section_differ(data: ReportData) -> Section:
    title = "5. Where they differ"
    if len(data.models) < 2:
        return Section(
            "differ", title, (Text("Only one model: nothing to compare side by side.", "missing"),)
        )
    if not data.disagreements:
        return Section("differ", title, (Text("No query to compare the two models on.", "missing"),))
    a, b = display_label(data.models[0].name), display_label(data.models[1].name)
    qset = data.query_source if data.queries else "chunks' opening text as pseudo-queries"
    blocks: list[Block] = [
        Text(
            f"The {len(data.disagreements)} queries whose top-10 lists agree least (rank-biased overlap, "
            f"HNSW at full dimension, as the Compare page searches), with both models' top 3; queries: {qset}.",
            "note",
        )
    ]

    def hits(views: Sequence[Any]) -> tuple[Hit, ...]:
        return tuple(
            Hit(
                h.rank,
                f"{h.source} {h.location}".strip(),
                h.text,
                "" if not data.judged else (f"judged {h.label}" if h.label is not None else "unjudged"),
            )
            for h in views
        )

    for d in data.disagreements:
        detail = f"RBO {d.rbo:.2f}, {d.shared} of top {d.k} shared"
        if d.diff is not None and data.comparison is not None:
            detail += f"; {pretty_metric(headline(data.comparison))} A − B {signed(d.diff)}"
        blocks.append(SideBySide(d.query, detail, f"A: {a}", f"B: {b}", hits(d.hits_a), hits(d.hits_b)))
    return Section("differ", title, tuple(blocks))


# ---- 6. where on the corpus (when the map was computed) ----------------------------------------------------


def section_day_one(data: ReportData) -> Section:
    """Generated queries and the LLM judge: every system ranked on each, apart from people's labels, with the
    judge's check against people and the rule that decides whether a verdict may rest on it."""
    found = data.day_one
    title = "Evidence without people's labels: generated queries and an LLM judge"
    if found is None:
        return Section("day_one", title)
    blocks: list[Block] = [
        Text(
            "Kept apart from the people's judgments above. Generated queries are written by an LLM from one chunk "
            "each and judged by that chunk alone; the LLM judge grades the pooled results of every system. "
            + TRUST_RULE,
            "lead",
        )
    ]
    for run in found.runs:
        board, said = run.board, run.verdict
        blocks.append(Text(run.title, "p"))
        blocks.append(Bullets(run.about))
        blocks.append(Text(said.sentence, "note" if said.top_group else "missing"))
        rows = tuple(
            (r.system, f3(r.means.get("ndcg@10")), f3(r.means.get("mrr@10")), f3(r.means.get("recall@100")),
             "yes" if r.system in (said.top_group or ()) else "")
            for r in board.rows
        )  # fmt: skip
        blocks.append(
            Table(
                ("system", "nDCG@10", "MRR@10", "Recall@100", "top group"),
                rows,
                caption=f"{board.queries} queries; {board.correction}.",
                numeric=(1, 2, 3),
            )
        )
        if board.groups:
            blocks.append(
                Table(
                    ("language pair", "queries", "best", "top group"),
                    tuple(
                        (language_pair_name(g.group), str(g.queries), g.best, ", ".join(g.top_group))
                        for g in board.groups
                    ),
                    caption="By language pair (query -> document): cross-lingual probes apart from same-language ones.",
                    numeric=(1,),
                )
            )
        blocks += [Text(w[:1].upper() + w[1:], "warn") for w in said.warnings]
    trusted, why = found.trust
    blocks.append(
        Text(
            f"The LLM judge checked against people ({found.llm_pairs} pairs graded): {why}",
            "note" if trusted else "warn",
        )
    )
    names = ("0", "1", "2")
    for check in found.checks:
        cal = check.calibration
        blocks.append(Text(f"Against {check.human}: {cal.sentence()}", "p"))
        if cal.shared_pairs:
            blocks.append(
                Table(
                    ("person's label", *(f"LLM {n}" for n in names)),
                    tuple(
                        (f"person {n}", *(str(x) for x in row))
                        for n, row in zip(names, cal.confusion, strict=True)
                    ),
                    caption="Pairs judged by both"
                    + (
                        "; a pooled document absent from a judged query's qrels counts as a person's 0"
                        if cal.absent_is_zero
                        else ""
                    )
                    + ("; the LLM's chunk grades lifted to files" if check.lifted else "")
                    + ".",
                    numeric=(1, 2, 3),
                )
            )
    return Section("day_one", title, tuple(blocks))


def section_map(data: ReportData) -> Section:
    """The corpus map as a static SVG (at most REPORT_POINTS chunks, said in the caption) and the region table."""
    title = "6. Where on the corpus each model wins"
    cmap = data.corpus_map
    if cmap is None:  # build_report's said() puts why first when the map failed
        missing = () if "map" in data.skipped else (Text("The corpus map was not computed.", "missing"),)
        return Section("map", title, missing)
    n = len(data.corpus.chunks)
    chunk_rows, query_rows, _ = regions.chart_rows(cmap, data.corpus, space="A", limit=regions.REPORT_POINTS)
    names = list(regions.region_names(cmap).values())
    drawn = (
        f"all {n:,} chunks"
        if len(chunk_rows) >= n
        else f"{len(chunk_rows):,} of {n:,} chunks as dots (a seeded random sample that keeps every chunk a query "
        "lands on; grey cells under them count all the chunks, darker where more lie; the table counts them all)"
    )
    rows = regions.region_rows(cmap)
    table = Table(
        regions.REGION_COLUMNS,
        tuple(tuple(str(r[c]) for c in regions.REGION_COLUMNS) for r in rows),
        caption="Per region: its chunks, largest files and languages, the queries placed in it, who served them "
        "better, and the mean nDCG@10 difference A − B over its judged queries with a bootstrap 95% CI.",
        numeric=(1, 3, 4, 5, 6, 7, 8, 9),
    )
    blocks: list[Block] = [
        Text(regions.how_made(cmap, space="A"), "note"),
        Chart(
            "The corpus in model A's space",
            charts.corpus_map(
                chunk_rows,
                query_rows,
                regions=names,
                centres=regions.centre_rows(cmap, data.corpus, space="A"),
                density=regions.density_rows(cmap, space="A") if len(chunk_rows) < n else (),
            ).to_dict(),
            caption=f"Drawn: {drawn}. Queries: {len(query_rows)}. " + regions.outcome_words(cmap),
        ),
        table,
    ]
    if cmap.moved:
        by_id = {c.id: c for c in data.corpus.chunks}
        top = cmap.moved[:10]
        blocks.append(
            Table(
                ("chunk", "file", "overlap"),
                tuple(
                    (cid, by_id[cid].source if cid in by_id else "", f"{overlap:.2f}") for cid, overlap in top
                ),
                caption=f"Moved most: the {len(top)} chunks whose nearest neighbours differ most between the two "
                "models (overlap: Jaccard of its 10 nearest chunks in A's space and in B's; 0 = none in common).",
                numeric=(2,),
            )
        )
    return Section("map", title, tuple(blocks))


def numbered(sections: Sequence[Section]) -> tuple[Section, ...]:
    """The sections numbered in order ("6. Cost" becomes "7. Cost" after the map section)."""
    return tuple(
        Section(s.key, f"{i}. {s.title.split('. ', 1)[-1]}", s.blocks)
        for i, s in enumerate(sections, start=1)
    )


# ---- 6. cost --------------------------------------------------------------------------------------------


def frontier_rows(sweeps: Sequence[Sweep], metric: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for s in sweeps:
        for r in pareto_mark(s.rows, metric=metric):
            rows.append(
                {
                    "model": s.model,
                    "configuration": r.label,
                    "reduction": s.reduction_label(r),
                    "precision": r.precision,
                    "index bytes per vector": round(r.bytes_per_element, 1),
                    "recall": r.recall,
                    "nDCG@10": r.ndcg10,
                    "p95 ms": max(r.p95_ms, 1e-4),
                    "pareto": r.pareto,
                }
            )
    return rows


def _cost_rows(data: ReportData) -> list[tuple[str, ...]]:
    """Pareto-optimal and default configurations, and Qdrant's large-corpus tier, priced at the target scale with
    each model's one throughput (core.frontier.cost, as the Frontier page)."""
    out: list[tuple[str, ...]] = []
    facts = {m.name: m for m in data.models}

    def line(model: str, label: str, quality: float, c: dict[str, float]) -> tuple[str, ...]:
        measured = c["graph_bytes_measured"]
        graph = f"{c['graph_bytes_formula']:,.0f} | {measured:,.0f}" if measured == measured else "–"
        return (
            model, label, f3(quality), f"{c['ram_gb']:,.1f}", graph, f"{c['disk_gb']:,.1f}",
            f"{c['qdrant_rule_gb']:,.1f}",
            "–" if math.isnan(c["billed_hours"]) else f"{c['billed_hours']:,.1f}",
            "–" if math.isnan(c["embed_usd"]) else f"{c['embed_usd']:,.2f}",
            f"{c['cpu_cores']:,.1f}", f"{c['monthly_usd']:,.0f}",
        )  # fmt: skip

    for s in data.sweeps:
        m = facts.get(s.model)
        if m is None or m.throughput is None:
            continue
        kw: dict[str, Any] = dict(
            throughput=m.throughput, scale=data.scale, M=m.hnsw_m, text_bytes=m.text_bytes
        )
        picks: list[Measurement] = [r for r in s.rows if r.pareto]
        default = s.default()
        if default is not None and default not in picks:
            picks.append(default)
        for r in sorted(picks, key=lambda r: r.bytes_per_element):
            c = cost_at_scale(r, full_dim=s.full_dim, **kw)
            out.append(line(s.model, r.label + (" (default)" if r is default else ""), r.recall, c))
        tier = qdrant_tier(s, **kw)
        if tier is not None:
            out.append(line(s.model, tier.label, tier.quality_row.recall, tier.cost))
    return out


def embed_sentences(data: ReportData) -> tuple[str, ...]:
    """Per model: embedding the target corpus once at its one throughput (the Frontier page's sentence)."""
    return tuple(
        embedding(m.throughput, data.scale).sentence() for m in data.models if m.throughput is not None
    )


def section_cost(data: ReportData) -> Section:
    title = "6. Cost"
    blocks: list[Block] = []
    k = data.curve_k
    if data.curves:
        trained = {m.name: bool(m.mrl_dims) for m in data.models}
        rows: list[dict[str, Any]] = [
            {"model": name, "reduction": reduction_label(rid, trained=trained.get(name, False)), "dims": d, "recall": r}
            for rid, curves in (("prefix", data.curves), ("pca", data.pca_curves))
            for name, c in curves.items()
            for d, r in c.recall.items()
        ]  # fmt: skip
        blocks.append(
            Chart(
                "Every model on the dimension axis: recall against dimensions",
                charts.mrl_curve(rows, k=k).to_dict(),
                caption=f"recall@{k} of exact search at d dims against each model's own full-dimension exact top "
                f"{k}, over {data.curve_queries}. Matryoshka-trained: the first d dimensions, renormalised; a model "
                "not trained for truncation has two curves: post-hoc truncation (the same cut) and PCA rotation "
                "(rotated onto the principal directions of this corpus's vectors, then the first d dimensions).",
                table=Table(
                    ("model", "reduction", "dims", f"recall@{k}"),
                    tuple(
                        (str(r["model"]), str(r["reduction"]), str(r["dims"]), f3(r["recall"])) for r in rows
                    ),
                    numeric=(2, 3),
                ),
            )
        )
    else:
        blocks.append(Text("No Matryoshka curve was measured.", "missing"))
    if data.sweeps:
        judged = any(r.ndcg10 is not None for s in data.sweeps for r in s.rows)
        metric = "recall"
        fr = frontier_rows(data.sweeps, metric)
        blocks.append(
            Chart(
                "Frontier: quality against bytes per vector",
                charts.frontier(fr, y="recall", y_title=f"recall@{k} vs own full-dim float32").to_dict(),
                caption="Every dimension × precision × index configuration; dashed lines join the Pareto-optimal "
                "ones (nothing smaller is at least as good). Bytes per vector include the HNSW graph's share."
                + (" The Markdown report lists nDCG@10 per configuration beside recall." if judged else ""),
                table=Table(
                    (
                        "model",
                        "configuration",
                        "reduction",
                        "bytes/vector",
                        f"recall@{k}",
                        "nDCG@10",
                        "p95 ms",
                        "Pareto",
                    ),
                    tuple(
                        (
                            str(r["model"]),
                            str(r["configuration"]),
                            str(r["reduction"]),
                            f"{r['index bytes per vector']:,.0f}",
                            f3(r["recall"]),
                            f3(r["nDCG@10"]),
                            ms(r["p95 ms"]),
                            "yes" if r["pareto"] else "",
                        )
                        for r in fr
                    ),  # fmt: skip
                    numeric=(3, 4, 5, 6),
                ),
            )
        )
        warnings = tuple(w for s in data.sweeps if (w := binary_collapse_warning(s)))
        if warnings:
            blocks += [Text("Binary quantisation collapses here:", "warn"), Bullets(warnings)]
        if len(data.sweeps) == 2:
            a, b = data.sweeps
            blocks += [
                Text("Equal budget:", "note"),
                Bullets(
                    tuple(
                        equal_budget(x, y, metric=m).sentence
                        for m in (("recall", "ndcg@10") if judged else ("recall",))
                        for x, y in ((a, b), (b, a))
                    )
                ),
            ]
        sc = data.scale
        units = sorted({m.throughput.hour_unit for m in data.models if m.throughput is not None})
        blocks += [Text("Embedding the target corpus once:", "note"), Bullets(embed_sentences(data))]
        blocks.append(
            Table(
                (
                    "model",
                    "configuration",
                    f"recall@{k}",
                    "RAM GB",
                    "graph B (formula | measured)",
                    "disk GB",
                    "Qdrant rule GB",
                    " / ".join(units) or "embed hours",
                    "embed $",
                    "CPU cores",
                    "$/month",
                ),
                tuple(_cost_rows(data)),
                caption=f"Cost at {sc.chunks:,} chunks, {sc.qps:g} queries/s, {sc.replicas} "
                f"replica{'s' if sc.replicas != 1 else ''}, "
                f"${sc.usd_per_gb_month:g}/GB-month RAM, ${sc.usd_per_disk_gb_month:g}/GB-month disk, "
                f"${sc.usd_per_gpu_hour:g}/GPU-hour, ${sc.usd_per_cpu_core_month:g}/CPU core-month; Pareto-optimal and "
                "default configurations, and Qdrant's tier for large corpora. "
                + recall_caveat(data.sweeps, sc),
                numeric=(2, 3, 5, 6, 7, 8, 9, 10),
            )
        )
        blocks += [Text("Formulas:", "note"), Bullets(FORMULAS)]
        notes = sorted({n for s in data.sweeps for n in s.notes})
        blocks.append(Bullets(tuple(notes)))
    else:
        blocks.append(Text("No frontier sweep was measured.", "missing"))
    return Section("cost", title, tuple(blocks))


# ---- 7. latency -----------------------------------------------------------------------------------------


def section_latency(data: ReportData) -> Section:
    title = "7. Latency"
    if not data.latency:
        return Section("latency", title, (Text("No latency was measured.", "missing"),))
    blocks: list[Block] = [
        Table(
            ("model", "queries", "embed p50 ms", "embed p95 ms", "search p50 ms", "search p95 ms"),
            tuple(
                (
                    display_label(x.model),
                    str(x.queries),
                    ms(x.embed_p50),
                    ms(x.embed_p95),
                    ms(x.search_p50),
                    ms(x.search_p95),
                )
                for x in data.latency
            ),
            caption="One query at a time: embedding with the model's query prompt, then HNSW search at full "
            "dimension (top 10); two warm-up queries are not timed. Measured on this machine when the report "
            "was built.",
            numeric=(1, 2, 3, 4, 5),
        )
    ]
    if data.sweeps:
        rows = frontier_rows(data.sweeps, "recall")
        blocks.append(
            Chart(
                "Recall against p95 search latency",
                charts.recall_latency(rows, k=data.curve_k).to_dict(),
                caption="Each configuration of the frontier: single-query search p95 (warm-up excluded).",
            )
        )
    return Section("latency", title, tuple(blocks))


# ---- 8. reproduce ---------------------------------------------------------------------------------------


def section_reproduce(data: ReportData) -> Section:
    blocks: list[Block] = []
    if data.commands:
        blocks += [
            Text("Commands that recompute every number in this report:", "note"),
            Code(tuple(data.commands)),
        ]
    else:
        blocks.append(Text("No command lines were recorded.", "missing"))
    facts = [("date", data.created), ("corpus sha256", data.corpus.sha256)]
    facts += [(f"cache key: {m.name}", m.cache_key) for m in data.models]
    facts.append(
        (
            "metrics",
            ", ".join(map(pretty_metric, EVAL_METRICS)) + "; exact search, top 100, 10,000 resamples, seed 0",
        )
    )
    blocks.append(Facts(tuple(facts)))
    blocks.append(
        Table(
            ("package", "version"),
            tuple((k, v) for k, v in data.versions.items()),
            caption="Package versions",
        )
    )
    if data.notes:
        blocks.append(Bullets(tuple(data.notes)))
    return Section("reproduce", "8. Reproduce", tuple(blocks))


def build_report(data: ReportData) -> Report:
    """The eight sections from the measured data (every section present; missing data said in words), nine with
    the corpus map when it was handed in."""
    answer = verdict(data)
    names = " vs ".join(display_label(m.name) for m in data.models)
    langs = list(dict.fromkeys(language_name(k) for k in data.corpus.lang_histogram() if k != "unknown"))

    def said(section: Section) -> Section:  # a section whose figures could not be measured says why first
        why = data.skipped.get(section.key)
        return (
            section
            if not why
            else Section(section.key, section.title, (Text(why, "missing"), *section.blocks))
        )

    return Report(
        title=f"Decision report: {names}",
        subtitle=f"{data.corpus_label} · {len(data.corpus.chunks):,} chunks"
        + (f" · {', '.join(langs)}" if langs else "")
        + f" · {data.created}",
        created=data.created,
        answer=answer,
        sections=numbered(
            [
                section_answer(data, answer),
                section_corpus(data),
                section_models(data),
                said(section_quality(data)),
                *([section_day_one(data)] if data.day_one is not None else []),
                said(section_differ(data)),
                *([said(section_map(data))] if data.corpus_map is not None or "map" in data.skipped else []),
                said(section_cost(data)),
                said(section_latency(data)),
                section_reproduce(data),
            ]
        ),
    )
