"""Day-one verdict: test queries written from the corpus by an LLM, the LLM judge on the pooled results, its check
against people, and the verdict that says what it rests on."""

import pandas as pd
import streamlit as st

from core.evaluation import GroupVerdict, Leaderboard
from core.ingest import language_pair_name
from core.judging import MAPPING_NOTE, TRUST_RULE
from core.llm import Llm
from core.queries import BIAS_NOTE, FILTER_RULES, QRELS_RULE, QUERY_TYPES, GeneratedSet, default_languages
from core.text import count, format_duration, number
from core.types import Corpus
from ui import day_one, resources, state, widgets
from ui import evaluate as ev
from ui.text import escape_md

SUBTITLE = (
    "No labels yet? An LLM writes test queries from your own documents and grades the pooled results of every "
    "built system. Its grades are checked against people's before a verdict may rest on them, and every verdict "
    "says whose evidence it uses."
)
LABEL_NAMES = ("0 not relevant", "1 partly", "2 highly")


def llm_panel() -> Llm | None:
    """The LLM choice; returns the opened backend, or None after saying what is missing."""
    st.subheader("The LLM")
    st.radio(
        "LLM",
        list(day_one.LLM_KINDS),
        format_func=lambda k: day_one.LLM_KINDS[k],
        key="day1_llm_kind",
        horizontal=True,
        label_visibility="collapsed",
        index=None,
    )
    if state.get("day1_llm_kind") is None:
        st.info(
            "Choose the LLM that writes test queries and grades results: the bundled tiny model works offline."
        )
        return None
    if state.get("day1_llm_kind") == "server":
        c1, c2 = st.columns([2, 3])
        c1.text_input("Model", key="day1_llm_model", placeholder="e.g. qwen2.5:7b-instruct")
        c2.text_input(
            "Base URL(s)",
            key="day1_llm_urls",
            placeholder="e.g. http://localhost:11434/v1 (several: comma-separated)",
            help="Used as given, with /chat/completions appended: a vLLM, Ollama or OpenAI server is …/v1.",
        )
        st.caption(day_one.KEY_NOTE)
    else:
        st.info(day_one.BUNDLED_CAVEAT, icon=":material/science:")
    spec = day_one.llm_spec()
    if not spec:
        st.info("Type the model name and the server's base URL to use a served LLM.")
        return None
    try:
        with st.spinner(
            "Opening the LLM (the bundled model is converted once, about a minute, then loads in a second) …"
        ):
            llm = day_one.current_llm(spec)
    except Exception as exc:
        widgets.show_error(exc)
        return None
    day_one.use_judge(llm)
    st.caption(escape_md(f"Using {llm.name}."))
    warn = day_one.family_warning(llm)
    if warn:
        st.warning(escape_md(warn), icon=":material/family_restroom:")
    return llm


def progress_bar(what: str):
    bar = st.progress(0.0, text=f"{what} …")

    def progress(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{what}: {done} of {total}")

    return bar, progress


def generate_panel(corpus: Corpus, llm: Llm) -> None:
    st.subheader("1 · Test queries from your corpus")
    langs = default_languages(corpus)
    c1, c2, c3, c4 = st.columns([1, 2, 3, 1])
    n = int(c1.number_input("Queries", min_value=1, max_value=500, key="day1_n"))
    chosen_langs = c2.multiselect(
        "Languages",
        langs,
        default=langs,
        format_func=widgets.lang_badge,
        key="_day1_langs",
        help="Each query is written in one of these; a language other than its chunk's makes a cross-lingual probe "
        "(an English question about a Chinese chapter).",
    )
    chosen_types = c3.multiselect(
        "Types", list(QUERY_TYPES), default=list(QUERY_TYPES), key="_day1_types",
        help="keyword: 2-6 words; question: a natural question; paraphrase: a question avoiding the chunk's words.",
    )  # fmt: skip
    seed = int(c4.number_input("Seed", min_value=0, max_value=10_000, key="day1_seed"))
    if not chosen_langs or not chosen_types:
        st.info("Choose at least one language and one type.")
        return
    try:
        seconds = day_one.generation_estimate(corpus, llm, n, chosen_langs, chosen_types, seed)
    except Exception as exc:
        widgets.show_error(exc)
        return
    st.caption(
        f"Estimate: about {format_duration(seconds)} on this machine (answers already cached cost nothing). "
        "Cancel keeps what was written: writing again starts from there. A new set replaces the saved one."
    )
    with st.container(horizontal=True, vertical_alignment="center"):
        go = st.button(
            "Write test queries", type="primary", icon=":material/edit_note:", key="_day1_generate"
        )
        cancel = st.empty()
    if go:
        cancel.button("Cancel", key="_day1_gen_cancel", icon=":material/cancel:")
        bar, progress = progress_bar("Writing test queries (prompts answered)")
        try:
            found = day_one.run_generation(corpus, llm, n, chosen_langs, chosen_types, seed, progress)
        except Exception as exc:
            widgets.show_error(exc)  # the saved set is untouched and shown below
            found = None
        finally:
            cancel.empty()
            bar.empty()
        state.set_page_value("_day1_last_set", (corpus.sha256, found) if found is not None else None)
    last = state.page_value("_day1_last_set")
    if last and last[0] == corpus.sha256:
        run_summary(last[1])
    review_panel(corpus)


def run_summary(found: GeneratedSet) -> None:
    kept, dropped = len(found.queries), len(found.dropped)
    (st.success if kept else st.warning)(
        f"{kept} of {found.asked} answers kept as queries ({found.keep_rate:.0%}), {dropped} dropped by the filters, "
        f"in {format_duration(found.seconds)}."
        + (" Cancelled: the answers so far are cached." if found.cancelled else "")
    )
    with st.expander("How the chunks were sampled and what the filters dropped"):
        st.text("\n".join(found.strata.lines()))
        counts = found.filter_counts()
        st.markdown(
            "\n".join(
                f"- **{k}** ({counts.get(k, 0)} dropped): {escape_md(rule)}"
                for k, rule in FILTER_RULES.items()
            )
        )
        if found.dropped:
            st.markdown("**Some dropped answers**")
            st.dataframe(
                pd.DataFrame([{"answer": d.text or d.raw, "filter": d.reason} for d in found.dropped[:20]]),
                hide_index=True,
                width="stretch",
            )


def review_panel(corpus: Corpus) -> None:
    saved, problem = day_one.saved_queries(corpus)
    if problem:
        st.error(escape_md(problem))
    if not saved:
        st.info("No generated queries for this corpus yet.")
        return
    mix = day_one.pair_mix(saved)
    g = saved[0].provenance
    st.markdown(
        escape_md(
            f"Review: {len(saved)} generated queries ({mix}), written by {g.generator}, prompt {g.prompt_version}."
        )
        + " Untick a bad query, then save to drop it."
    )
    frame = pd.DataFrame(
        [
            {
                "keep": True,
                "query": q.text,
                "type": q.provenance.type,
                "pair": language_pair_name(q.provenance.pair),
                "source": q.provenance.source_file,
            }
            for q in saved
        ]
    )
    edited = st.data_editor(
        frame,
        hide_index=True,
        disabled=["query", "type", "pair", "source"],
        column_config={
            "keep": st.column_config.CheckboxColumn("keep", width=60),
            "query": st.column_config.TextColumn("query", width=320),
            "type": st.column_config.TextColumn("type", width=90),
            "pair": st.column_config.TextColumn("language pair", width=130),
            "source": st.column_config.TextColumn("written from", width=210),
        },
        key=f"_day1_review_{len(saved)}",
        height=min(420, widgets.table_height(len(frame))),
    )
    keep = [q for q, k in zip(saved, edited["keep"].tolist(), strict=True) if k]
    if len(keep) < len(saved):
        if st.button(
            f"Save: keep {len(keep)}, drop {len(saved) - len(keep)}", icon=":material/save:", key="_day1_save"
        ):
            day_one.save_queries(corpus, keep)
            state.set_page_value("_day1_last_set", None)  # its counts are the run's, not the reviewed set's
            st.rerun()
    st.caption(escape_md(f"{QRELS_RULE} {BIAS_NOTE}"))


def judge_panel(corpus: Corpus, llm: Llm) -> None:
    st.subheader("2 · The LLM judge on the pooled results")
    if widgets.indexed_corpus() is None:
        st.info(
            "Build both indexes on the Models page first: the judge grades the pool of every built system."
        )
        return
    offered = ["generated"] + (["sample"] if state.corpus_origin() == "sample" else [])
    if state.get("day1_judge_set") not in offered:
        state.put("day1_judge_set", "generated")
    c1, c2 = st.columns([3, 1])
    which = c1.radio(
        "Queries to judge",
        offered,
        format_func=lambda w: day_one.JUDGE_SETS[w],
        key="day1_judge_set",
        horizontal=True,
        help="The sample queries have people's labels (the sample's qrels): judging them checks the LLM against "
        "people.",
    )
    k = int(c2.number_input("Pool depth k", min_value=1, max_value=20, key="day1_k"))
    texts = day_one.judge_texts(corpus, which)
    if not texts:
        st.info("No queries in this set yet: write test queries above.")
        return
    try:
        made = day_one.plan(corpus, llm, texts, k)
    except Exception as exc:
        widgets.show_error(exc)
        return
    st.caption(escape_md(f"{len(texts)} queries, the Judge page's pools: {made.sentence()} {MAPPING_NOTE}"))
    with st.container(horizontal=True, vertical_alignment="center"):
        go = st.button(
            "Judge the pool",
            type="primary",
            icon=":material/gavel:",
            key="_day1_judge",
            disabled=not made.todo,
        )
        cancel = st.empty()
    if go:
        cancel.button("Cancel", key="_day1_judge_cancel", icon=":material/cancel:")
        bar, progress = progress_bar("Grading pooled pairs")
        try:
            run = day_one.run_judging(corpus, llm, texts, k, made, progress)
        except Exception as exc:
            widgets.show_error(exc)
            return
        finally:
            cancel.empty()
        bar.empty()
        state.set_page_value("_day1_last_judge", ((corpus.sha256, run.rater, which, k), run.sentence()))
        st.rerun()
    last = state.page_value("_day1_last_judge")
    if last and last[0] == (corpus.sha256, made.rater, which, k):  # said only beside the run it describes
        st.success(escape_md(last[1]))


def calibration_panel(corpus: Corpus, llm: Llm) -> None:
    st.subheader("3 · Is the judge checked against people?")
    rater = day_one.use_judge(llm)
    checks = day_one.llm_checks(corpus, rater)
    if checks is None:
        st.info(escape_md(f"{rater} has graded nothing on this corpus yet."))
        return
    trusted, why = checks.trust
    (st.success if trusted else st.warning)(escape_md(why), icon=":material/balance:")
    st.caption(escape_md(f"{TRUST_RULE} {MAPPING_NOTE}"))
    for check in checks.rows:
        cal = check.calibration
        st.markdown(escape_md(f"{rater} against {check.human}: {cal.sentence()}"))
        notes = []
        if cal.absent_is_zero:
            notes.append(
                "These qrels list only relevant documents (the BEIR convention): a pooled document absent from a "
                "judged query's qrels counts as a person's 0."
            )
        if check.lifted:
            notes.append(
                "The LLM's chunk grades are lifted to files (a file takes its best chunk's grade), as these people judged files."
            )
        if notes:
            st.caption(escape_md(" ".join(notes)))
        c1, c2 = st.columns([2, 3])
        table = pd.DataFrame(
            [list(row) for row in cal.confusion],
            index=[f"person {n}" for n in range(3)],
            columns=[f"LLM {n}" for n in range(3)],
        )
        c1.dataframe(table, width="stretch")
        c1.caption("Pairs judged by both: 0 not relevant, 1 partly, 2 highly relevant.")
        if cal.disagreements:
            c2.dataframe(
                pd.DataFrame(
                    [
                        {"person": d.human, "LLM": d.llm, "query": d.query_id, "document": d.chunk_id}
                        for d in cal.disagreements[:200]
                    ]
                ),
                hide_index=True,
                width="stretch",
                height=min(300, widgets.table_height(len(cal.disagreements))),
                column_config={
                    "person": st.column_config.NumberColumn(width=60),
                    "LLM": st.column_config.NumberColumn(width=50),
                    "query": st.column_config.TextColumn(width=190),
                    "document": st.column_config.TextColumn(width=170),
                },
            )
            c2.caption(f"{len(cal.disagreements)} disagreements, largest gap first.")


def leaderboard_view(board: Leaderboard, found: GroupVerdict) -> None:
    (st.success if found.top_group else st.warning)(escape_md(found.sentence))
    for w in found.warnings:
        if w not in found.sentence:  # a reason already in the sentence is not said twice
            st.caption(escape_md("Note: " + w))
    named = set(found.top_group or ())  # no group is named on thin evidence: none is marked
    rows = [
        {
            "system": r.system,
            "nDCG@10": number(r.means.get("ndcg@10", float("nan")), 3),
            "MRR@10": number(r.means.get("mrr@10", float("nan")), 3),
            "Recall@100": number(r.means.get("recall@100", float("nan")), 3),
            "top group": "yes" if r.system in named else "",
        }
        for r in board.rows
    ]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    if board.groups:
        parts = []
        for g in board.groups:
            means = set(g.means.values())
            best = "a tie" if len(means) == 1 else f"best {g.best}"
            parts.append(f"{language_pair_name(g.group)} ({count(g.queries, 'query', 'queries')}): {best}")
        st.caption(escape_md("By language pair: " + "; ".join(parts)))


def verdict_panel(corpus: Corpus) -> None:
    st.subheader("4 · The verdict, evidence by evidence")
    if widgets.indexed_corpus() is None:
        st.info("Build both indexes on the Models page first.")
        return
    generated, _ = day_one.saved_queries(corpus)
    rater = day_one.llm_rater(corpus)
    offered = []
    if generated:
        g = generated[0].provenance
        offered.append(
            (
                "generated queries",
                f"On the {count(len(generated), 'generated query', 'generated queries')} (written by {g.generator})",
            )
        )
    if rater is not None and ev.llm_judgments(corpus, rater)[1]:
        offered.append(("LLM judgments", f"On the grades of {rater}"))
    if not offered:
        st.info("Write test queries or judge a pool above: the verdicts appear here.")
        return
    key = ("day1-verdict", corpus.sha256, tuple(q.id for q in generated), rater)
    go = st.button(
        "Score every built system on this evidence",
        icon=":material/leaderboard:",
        key="_day1_score",
        type="primary" if state.page_value("_day1_scored") != key else "secondary",
        help="Searches every query with every built system (one at a time, as Evaluate does): a minute or two for "
        "a few dozen queries on 2 CPU cores.",
    )
    if go:
        state.set_page_value("_day1_scored", key)
    if state.page_value("_day1_scored") != key:
        st.caption("Scores and verdicts are computed when you ask: new grades or queries need a new run.")
        return
    for source, title in offered:
        if source == "generated queries":
            queries, qrels = day_one.generated_judgments(corpus)
        else:
            queries, qrels, _ = ev.llm_judgments(corpus, rater)
        st.markdown(f"**{escape_md(title)}**")
        try:
            with st.spinner(f"Scoring every built system on {count(len(queries), 'query', 'queries')} …"):
                board, found = ev.leaderboard_for(corpus, queries, qrels, source, exact=True, dims=None)
        except Exception as exc:
            widgets.show_error(exc)
            continue
        leaderboard_view(board, found)
    st.caption(
        "Evaluate shows the same evidence in full (its judgments 'generated queries' or 'LLM judgments'), beside "
        "people's own; the report keeps them apart too."
    )
    st.page_link(widgets.PAGES["evaluate"], label="Go to Evaluate", icon=":material/analytics:")


def render() -> None:
    widgets.page_header("Day-one verdict", SUBTITLE)
    if not widgets.need_corpus():
        return
    corpus = resources.current_corpus()
    llm = llm_panel()
    if llm is None or corpus is None:
        return
    generate_panel(corpus, llm)
    st.divider()
    judge_panel(corpus, llm)
    st.divider()
    calibration_panel(corpus, llm)
    st.divider()
    verdict_panel(corpus)


render()
