"""Evaluate: nDCG / MRR / Recall for both models on judged queries, with a paired significance test."""

import json
import tempfile
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.datasets import format_beir_qrels, format_trec_run, load_eval_set
from core.evaluation import Comparison, Qrels, Run, align_doc_ids, by_group, pretty_metric
from core.ingest import language_pair_name
from core.models import display_label
from core.queries import QRELS_RULE
from core.report import charts
from core.search import KIND_LABELS
from core.text import number
from core.types import Corpus
from ui import build, day_one, pair, resources, state, systems, widgets
from ui import evaluate as ev
from ui import report as report_ui
from ui.corpus import sample_judgments
from ui.state import EVAL_SOURCES, EvalSource
from ui.text import escape_md

SUBTITLE = "How much better, and is it real? Metrics on judged queries (MTEB/trec_eval conventions) with a paired test."


def beir_upload() -> None:
    """Read an uploaded BEIR zip once per file; its corpus becomes the current corpus."""
    upload = st.file_uploader(
        "BEIR zip (corpus.jsonl, queries.jsonl, qrels/test.tsv)", type=["zip"], key="_eval_beir_upload"
    )
    if upload is None or not state.changed_since("_eval_beir_loaded", upload.file_id):
        return
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "beir.zip"
            path.write_bytes(upload.getvalue())
            dataset = load_eval_set(path)
        corpus = ev.register_beir(dataset)
    except Exception as exc:
        widgets.show_error(exc)
        return
    state.set_page_value("_eval_beir_loaded", upload.file_id)
    st.success(
        f"Loaded {len(corpus.chunks):,} documents, {len(dataset.queries):,} queries. "
        "It is now the current corpus: build both indexes below (or on the Models page)."
    )
    for w in dataset.warnings:
        st.warning(escape_md(w))
    for n in dataset.notes:
        st.caption(escape_md(n))


def build_here() -> bool:
    """An uploaded BEIR set without indexes: build both here, with the Models page's progress, Cancel and report.

    True while the indexes are missing (the panel stands in for the 'build first' notice)."""
    corpus = resources.current_corpus()
    if corpus is None or state.corpus_origin() != "beir":
        return False
    report = state.page_value("_eval_build_report")
    if all(build.built_index(s) for s in build.SLOTS):
        if report and report[0] == corpus.sha256:
            build.show_build_report(report[1])
        return False
    pair.choose_default_pair(corpus)
    names = " vs ".join(f"{s} · {escape_md(display_label(state.model_name(s) or '?'))}" for s in build.SLOTS)
    st.markdown(f"**Build both indexes for this set** with {names} (change the models on the Models page).")
    if build.build_panel(
        "eval", corpus, api_keys={s: state.api_key(s) for s in build.SLOTS}, show_error=widgets.show_error
    ):
        st.rerun()  # the sidebar and this page, drawn before the build, show both indexes
    return True


def qrels_upload(corpus: Corpus) -> tuple[dict[str, str], Qrels] | None:
    """An uploaded qrels file (TREC graded or BEIR tsv) with its queries.jsonl, read once per set of files."""
    st.file_uploader(
        "Qrels file (TREC 'query-id 0 doc-id grade' or BEIR .tsv) and its queries.jsonl",
        type=["txt", "qrels", "tsv", "jsonl"],
        accept_multiple_files=True,
        key="_eval_qrels_upload",
    )
    uploads = state.page_value("_eval_qrels_upload") or []
    marker = tuple(sorted(u.file_id for u in uploads))
    if not uploads:
        return None
    if state.changed_since("_eval_qrels_marker", marker):
        try:
            found = ev.read_uploaded_qrels(corpus, [(u.name, u.getvalue()) for u in uploads])
        except Exception as exc:  # the previous upload's judgments, if any, are dropped with its files
            widgets.show_error(exc)
            return None
        state.set_page_value("_eval_qrels_marker", marker)
        state.set_page_value("_eval_qrels", found)
    queries, qrels, note = state.page_value("_eval_qrels")
    st.caption(escape_md(note) + ". Kept for this session only; import it on the Judge page to keep it.")
    return queries, qrels


def judgments(source: EvalSource, corpus: Corpus) -> tuple[dict[str, str], Qrels] | None:
    """Queries and qrels from the chosen source, or None after saying what is missing."""
    if source == "sample judgments":
        if state.corpus_origin() != "sample":
            st.info(
                "Sample judgments apply to the sample corpus only. Load it on the Corpus page, or pick another "
                "source."
            )
            return None
        return sample_judgments()
    if source == "pooled judgments":
        queries, qrels = ev.store_judgments(corpus, "pooled")
        if not qrels:
            st.info("No pooled judgments for this corpus yet: judge some queries on the Judge page.")
            st.page_link(widgets.PAGES["judge"], label="Go to Judge (blind)", icon=":material/gavel:")
            return None
        return queries, qrels
    if source == "labels from the Compare page":
        queries, qrels = ev.thumbs_judgments(corpus)
        if not qrels:
            st.info("No labels yet: mark results relevant / not relevant on the Compare page.")
            st.page_link(widgets.PAGES["compare"], label="Go to Compare", icon=":material/compare_arrows:")
            return None
        return queries, qrels
    if source == "generated queries":
        queries, qrels = day_one.generated_judgments(corpus)
        if not qrels:
            st.info(
                "No generated queries for this corpus yet: an LLM writes them on the Day-one verdict page."
            )
            st.page_link(
                widgets.PAGES["dayone"], label="Go to Day-one verdict", icon=":material/wb_twilight:"
            )
            return None
        st.caption(escape_md(QRELS_RULE))  # the bias is a warning of the verdict itself
        return queries, qrels
    if source == "LLM judgments":
        queries, qrels, _ = ev.llm_judgments(corpus)
        if not qrels:
            st.info(
                "No LLM judgments for this corpus yet: the judge grades pools on the Day-one verdict page."
            )
            st.page_link(
                widgets.PAGES["dayone"], label="Go to Day-one verdict", icon=":material/wb_twilight:"
            )
            return None
        trusted, why = day_one.llm_trust(corpus)
        (st.caption if trusted else st.warning)(escape_md(f"Judge: {day_one.llm_rater(corpus)}. {why}"))
        return queries, qrels
    if source == "union":
        queries, qrels = ev.store_judgments(corpus, "union")
        if not qrels:
            st.info("No stored judgments for this corpus yet (Judge page, Compare thumbs or an import).")
            return None
        return queries, qrels
    if state.corpus_origin() == "beir":
        queries, qrels = ev.beir_judgments(corpus)
        if qrels:
            return queries, qrels
    found = qrels_upload(corpus)
    if found is None:
        st.info(
            "Upload a qrels file with its queries.jsonl above (judgments of this corpus), or a BEIR zip "
            "(its corpus becomes the current corpus)."
        )
    return found


def search_settings(queries: dict[str, str], qrels: Qrels) -> int | None:
    """Exact or HNSW search and the dimension both models are cut to (None = full)."""
    c1, c2, c3 = st.columns([2, 2, 3])
    c1.radio(
        "Search",
        ["exact", "hnsw"],
        key="eval_mode",
        horizontal=True,
        help="exact = brute-force cosine (MTEB)",
    )
    choices = ev.dims_choices()  # only the stops both built models support: no 512 for 384-dim models
    if state.page_value("_eval_dims") not in choices:
        state.set_page_value("_eval_dims", "full")  # a stop left over from another pair of models
    dims_choice = c2.selectbox(
        "Dimensions",
        choices,
        key="_eval_dims",
        help="Truncate both models to their first d dimensions (renormalised); only sizes both models "
        "support are offered.",
    )
    c3.caption(f"{len(queries)} judged queries · {sum(len(v) for v in qrels.values())} judgments · k = 100")
    return None if dims_choice == "full" else int(dims_choice)


def verdict(
    corpus: Corpus, comparison: Comparison, source: EvalSource, qrels: Qrels, *, dims: int | None = None
) -> None:
    """Who wins on nDCG@10 and what that rests on (queries, raters and kappa, CI, p, blind votes), in words; then
    the settings check, whose warnings that could flip the decision join the "read with care" list."""
    found = ev.verdict_for(corpus, comparison, source, qrels)
    try:
        flips = widgets.check_flips(corpus, dims=dims)
    except Exception:  # the expander below shows why the check could not be made
        flips = []
    (st.success if found.winner else st.info)(escape_md(found.sentence), icon=":material/gavel:")
    said = found.sentence.lower()
    warnings = [
        w for w in found.warnings if w.lower().rstrip(".") not in said
    ] + flips  # not what the verdict just said
    if warnings:
        st.warning(
            "**Read with care:**\n" + "\n".join(f"- {escape_md(w[:1].upper() + w[1:])}" for w in warnings),
            icon=":material/warning:",
        )
    with st.expander("Settings check" + (f" · {len(flips)} could flip the decision" if flips else "")):
        try:
            widgets.settings_check_panel(corpus, dims=dims)
        except Exception as exc:  # a check that cannot be made says why; the evaluation stands
            widgets.show_error(exc)


def coverage(comparison: Comparison) -> None:
    """judged@10 per model and condensed nDCG@10 beside the standard one."""
    st.subheader("How much of each top 10 was judged")
    rows = comparison.coverage_table()
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "model": st.column_config.TextColumn("model", width="medium"),
            "judged@10": st.column_config.NumberColumn(
                "judged@10",
                format="%.2f",
                help="share of the model's top 10 that has a judgment (mean over queries)",
            ),
            "ndcg@10": st.column_config.NumberColumn(
                "nDCG@10", format="%.4f", help="unjudged results count as not relevant"
            ),
            "ndcg_condensed@10": st.column_config.NumberColumn(
                "condensed nDCG@10",
                format="%.4f",
                help="unjudged results removed before cutting at 10 (Sakai's condensed lists): no reward or "
                "penalty for results nobody judged",
            ),
        },
    )
    st.caption(
        "Standard nDCG counts a result nobody judged as not relevant, which punishes the model whose results were "
        "judged less; condensed nDCG leaves such results out. Judge the pooled results on the Judge page to close "
        "the gap."
    )


def metric_bars(comparison: Comparison) -> None:
    """Mean of every metric for both models, side by side."""
    bars = pd.DataFrame(
        [
            {"metric": metric, "model": name, "value": value}
            for metric, p in comparison.paired.items()
            for name, value in ((comparison.name_a, p.mean_a), (comparison.name_b, p.mean_b))
        ]
    )
    st.altair_chart(
        alt.Chart(bars)
        .mark_bar()
        .encode(
            x=alt.X("metric:N", title=None, axis=alt.Axis(labelAngle=0)),
            xOffset="model:N",
            y=alt.Y("value:Q", scale=alt.Scale(domain=[0, 1]), title=None),
            color=charts.model_colour(
                bars.to_dict("records"), legend=alt.Legend(orient="bottom", title=None)
            ),
            tooltip=["metric", "model", alt.Tooltip("value:Q", format=".4f")],
        ),
        width="stretch",
        height=300,  # the whole chart, legend included (width="stretch" fits it into this height)
    )


QUERY_PX = 300  # the per-query table's query column: about 45 characters at 1280 px (the rest hovers); all columns fit 820 px


def metrics_table(comparison: Comparison) -> None:
    """Metric, both means, difference, p-value and CI."""
    name_a, name_b = comparison.name_a, comparison.name_b
    st.subheader("Metrics side by side")
    num = st.column_config.NumberColumn
    text = st.column_config.TextColumn
    shown = signed_text(pd.DataFrame(comparison.table()), ("diff", "ci_low", "ci_high"), 4)
    st.dataframe(
        shown,
        hide_index=True,
        width="stretch",
        column_config={  # headed A / B (named in the help and the chart legend above): all ten columns fit 1280 px
            "metric": st.column_config.TextColumn("metric", width=104),
            name_a: num("A", format="%.4f", help=f"A · {name_a}: mean over the judged queries", width=72),
            name_b: num("B", format="%.4f", help=f"B · {name_b}: mean over the judged queries", width=72),
            "diff": text("A − B", help="mean difference A − B", width=76),
            "p_value": num("p", format="%.4f", help="paired randomisation test, two-sided", width=66),
            "ci_low": text("95% CI low", help="bootstrap 95% CI of A − B, lower bound", width=88),
            "ci_high": text("95% CI high", help="bootstrap 95% CI of A − B, upper bound", width=88),
            "wins": num("A wins", format="%d", help="queries where A scores higher", width=62),
            "ties": num("ties", format="%d", width=50),
            "losses": num("B wins", format="%d", help="queries where B scores higher", width=62),
        },
    )
    st.caption(
        "Paired randomisation test (10,000 sign flips, seeded) and bootstrap 95% CI of the mean difference A − B; "
        "wins / ties / losses count queries where A scores higher / equal / lower."
    )


def signed_text(frame: pd.DataFrame, columns: tuple[str, ...], digits: int) -> pd.DataFrame:
    """A copy with signed differences written as every other figure is (core.text.number: "+0.012", "−0.0039",
    U+2212), not the table widget's ASCII "-0.0039"."""
    out = frame.copy()
    for c in columns:
        if c in out:
            out[c] = [number(None if pd.isna(v) else float(v), digits, sign=True) for v in out[c]]
    return out


def per_query(comparison: Comparison, queries: dict[str, str], pairs: dict[str, str]) -> pd.DataFrame:
    """The chosen metric per query (table and A − B bars); returns the table for the download."""
    st.subheader("Per query")
    st.selectbox("Metric", list(comparison.paired), key="eval_metric")
    metric = state.get("eval_metric")
    rows = comparison.per_query(metric)
    judged_a, judged_b = comparison.a.column("judged@10"), comparison.b.column("judged@10")
    for r in rows:
        r["query"] = queries.get(r["qid"], "")
        r["languages"] = language_pair_name(pairs.get(r["qid"], ""))
        r["judged A"], r["judged B"] = judged_a.get(r["qid"]), judged_b.get(r["qid"])
    columns = [
        "query",
        "qid",
        comparison.name_a,
        comparison.name_b,
        "diff",
        "judged A",
        "judged B",
        "languages",
    ]
    table = pd.DataFrame(rows)[columns]
    score = "%.3f"
    st.dataframe(
        signed_text(table, ("diff",), 3),
        hide_index=True,
        width="stretch",
        height=360,
        column_config={  # the query, the one column people read, first and wide; the figures narrow after it
            "query": st.column_config.TextColumn("query", width=QUERY_PX),
            "qid": st.column_config.TextColumn("qid", width=70),
            comparison.name_a: st.column_config.NumberColumn(
                "A", help=comparison.name_a, format=score, width=60
            ),
            comparison.name_b: st.column_config.NumberColumn(
                "B", help=comparison.name_b, format=score, width=60
            ),
            "diff": st.column_config.TextColumn("A − B", width=64),
            "judged A": st.column_config.NumberColumn(
                "judged A", help="judged@10 of A", format="%.1f", width=64
            ),
            "judged B": st.column_config.NumberColumn(
                "judged B", help="judged@10 of B", format="%.1f", width=64
            ),
            "languages": st.column_config.TextColumn(
                "languages", help="query language → language of its relevant documents", width=118
            ),
        },
    )
    ordered = table.sort_values("diff", ascending=False)
    bars = [
        {"i": i, "qid": q, "query": text[:120], "diff": d}
        for i, (q, text, d) in enumerate(zip(ordered["qid"], ordered["query"], ordered["diff"], strict=True))
    ]
    st.altair_chart(charts.per_query_diff(bars, metric=metric, width="container"), width="stretch")
    st.caption(f"One bar per query: above 0 (blue) A scores higher on {metric}, below 0 (orange) B does.")
    return table


def by_language(comparison: Comparison, pairs: dict[str, str]) -> None:
    """The chosen metric per (query language → document language) group."""
    metric = state.get("eval_metric")
    st.subheader("By language pair")
    ga, gb = by_group(comparison.a, pairs), by_group(comparison.b, pairs)
    lang_rows = [
        {
            "query → docs": language_pair_name(g),
            "queries": ga[g]["queries"],
            f"A {metric}": ga[g].get(metric),
            f"B {metric}": gb[g].get(metric),
        }
        for g in ga
    ]
    st.dataframe(
        pd.DataFrame(lang_rows),
        hide_index=True,
        width="stretch",
        column_config={
            "query → docs": st.column_config.TextColumn(
                "query → documents",
                width="medium",
                help="query language → language of its relevant documents",
            ),
            "queries": st.column_config.NumberColumn("n", help="judged queries in the group", width="small"),
            f"A {metric}": st.column_config.NumberColumn(
                "A", help=f"A {metric}", format="%.3f", width="small"
            ),
            f"B {metric}": st.column_config.NumberColumn(
                "B", help=f"B {metric}", format="%.3f", width="small"
            ),
        },
    )
    st.caption(
        "Query language → language of its relevant documents; cross-lingual rows show who bridges languages."
    )


def downloads(comparison: Comparison, runs: tuple[Run, Run], qrels: Qrels, table: pd.DataFrame) -> None:
    """metrics.json, per_query.csv, both TREC runs and the qrels (all files built before any button)."""
    summary: dict[str, Any] = {
        "models": {
            name: {**e.mean, **e.coverage_mean, "queries": e.queries}
            for name, e in ((comparison.name_a, comparison.a), (comparison.name_b, comparison.b))
        },
        "paired": {m: p.to_dict() for m, p in comparison.paired.items()},
    }
    files = {
        "metrics.json": json.dumps(summary, indent=2, ensure_ascii=False),
        "per_query.csv": table.to_csv(index=False),
        "run_A.trec": format_trec_run(runs[0], tag="A"),
        "run_B.trec": format_trec_run(runs[1], tag="B"),
        "qrels.tsv": format_beir_qrels(qrels),
    }
    st.subheader("Downloads")
    for col, (name, data) in zip(st.columns(len(files)), files.items(), strict=True):
        col.download_button(name, data, name, width="stretch")


def results(corpus: Corpus, queries: dict[str, str], qrels: Qrels, dims: int | None) -> None:
    """Run both models on the judged queries (on a click; a finished run shows again by itself) and show it."""
    exact = state.eval_mode() == "exact"
    go = st.button("Run evaluation", type="primary", key="_eval_run", icon=":material/play_arrow:")
    found = ev.finished_run(queries, qrels, exact=exact, dims=dims)
    if found is None and not go:
        st.info(
            f"Click **Run evaluation** to search {len(queries)} judged queries with both models "
            "(seconds on the sample corpus).",
            icon=":material/play_arrow:",
        )
        return
    if found is None:
        with st.spinner(f"Searching {len(queries)} queries with both models …"):
            found = ev.run_both(corpus, queries, qrels, exact=exact, dims=dims)
    comparison, run_a, run_b, pairs = found
    if note := align_doc_ids(corpus, qrels).note:
        st.caption(escape_md(note))
    verdict(corpus, comparison, state.eval_source(), qrels, dims=dims)
    metric_bars(comparison)
    metrics_table(comparison)
    coverage(comparison)
    table = per_query(comparison, queries, pairs)  # full width: its figures and the query text all show
    left, _ = st.columns([3, 2])
    with left:
        by_language(comparison, pairs)
    downloads(comparison, (run_a, run_b), qrels, table)
    leaderboard(corpus, queries, qrels, dims)


def leaderboard(corpus: Corpus, queries: dict[str, str], qrels: Qrels, dims: int | None) -> None:
    """Every built system (A, B and the baselines built on the Models page) in one leaderboard with its top group."""
    st.subheader("Every system: leaderboard")
    every = systems.every(corpus)
    if len(every) <= 2:
        st.caption(
            "Only the two models are built. Add BM25, a hybrid (model + BM25) or a reranked system on the Models "
            "page to rank them here beside A and B, with a test that survives many comparisons."
        )
        st.page_link(widgets.PAGES["models"], label="Add baselines on the Models page", icon=":material/add:")
        return
    with st.spinner(
        f"Ranking {len(every)} systems on {len(queries)} queries (one query at a time, for latency) …"
    ):
        board, found = ev.leaderboard_for(
            corpus, queries, qrels, state.eval_source(), exact=state.eval_mode() == "exact", dims=dims
        )
    (st.success if found.top_group else st.info)(escape_md(found.sentence), icon=":material/leaderboard:")
    said = found.sentence.lower()
    if warnings := [w for w in found.warnings if w.lower().rstrip(".") not in said]:
        st.warning(
            "**Read with care:**\n" + "\n".join(f"- {escape_md(w[:1].upper() + w[1:])}" for w in warnings),
            icon=":material/warning:",
        )
    metric = board.metric
    rows = [
        {
            "system": r["system"],
            "kind": KIND_LABELS.get(r["kind"], r["kind"]),
            "nDCG@10": r["ndcg@10"],
            "MRR@10": r["mrr@10"],
            "Recall@100": r["recall@100"],
            "judged@10": r["judged@10"],
            "vs best": r[f"diff_vs_best_{metric}"],
            "p (Holm)": "best" if r["p_holm"] is None else f"{r['p_holm']:.3f}",
            "p50 ms": r["latency_p50_ms"],
            "p95 ms": r["latency_p95_ms"],
            "top group": bool(r["top_group"]),
        }
        for r in board.table()
    ]
    num, text = st.column_config.NumberColumn, st.column_config.TextColumn
    st.dataframe(  # pixel widths that fit the ~820 px main column at 1280 px (index sizes: Models page, report)
        signed_text(pd.DataFrame(rows), ("vs best",), 3),
        hide_index=True,
        width="stretch",
        column_config={
            "system": text("system", width=190, pinned=True),
            "kind": text("kind", width=88),
            **{c: num(c, width=70, format="%.3f") for c in ("nDCG@10", "MRR@10", "Recall@100", "judged@10")},
            "vs best": text("vs best", width=56, help=f"{metric} minus the best system's"),
            "p (Holm)": text(
                "p (Holm)", width=54, help="paired randomisation test against the best, Holm-corrected"
            ),
            "p50 ms": num(
                "p50 ms",
                width=52,
                format="%.1f",
                help="per-query search time: query encoding, search, fusion, rerank",
            ),
            "p95 ms": num("p95 ms", width=56, format="%.1f"),
            "top group": st.column_config.CheckboxColumn(
                "top", width=40, help="in the top group: not significantly worse than the best"
            ),
        },
    )
    st.caption(
        "The top group holds the best system and every system not significantly worse than it; a lone winner is "
        "named only when the group holds one system. Recall@100 of BM25 can stay below 1 where a dense model's is "
        "1: BM25 returns only chunks that share a word with the query. A hybrid weight tuned on these same queries "
        "would be overfitted to them: tune it on other judged queries (cross-validated)."
    )
    if groups := board.group_table():
        with st.expander(f"{pretty_metric(metric)} by language pair"):
            names = list(board.systems)
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            "query → documents": language_pair_name(g["group"]),
                            "queries": g["queries"],
                            **{n: g.get(n) for n in names},
                            "top group": g["top_group"],
                        }
                        for g in groups
                    ]
                ),
                hide_index=True,
                width="stretch",
                column_config={
                    "query → documents": text("query → documents", width=160),
                    "queries": num("queries", width=60),
                    **{n: num(n, format="%.3f") for n in names},
                },
            )


def evaluation() -> None:
    """Judgment source, search settings and the results of both models."""
    widgets.page_header("Evaluate", SUBTITLE)
    st.radio("Judgments", EVAL_SOURCES, key="eval_source", horizontal=True)
    source = state.eval_source()
    if source == "upload qrels or a BEIR zip":
        beir_upload()
        if build_here():
            return
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    found = judgments(source, corpus)
    if found is None:
        return
    queries, qrels = found
    dims = search_settings(queries, qrels)
    try:
        results(corpus, queries, qrels, dims)
    except Exception as exc:  # every call the page makes: project errors name the input and the fix
        widgets.show_error(exc)


def render() -> None:
    """The evaluation, then the decision report's download (offered whatever the evaluation showed)."""
    evaluation()
    report_ui.download_button("_eval_report_download")


render()
