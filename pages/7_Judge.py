"""Judge (blind): both models' top-k pooled per query and labelled 0 / 1 / 2 without knowing who found what."""

import functools

import pandas as pd
import streamlit as st

from core.judging import JudgmentStore
from core.types import Corpus
from ui import judge, state, widgets
from ui.text import escape_md, passage_md

SUBTITLE = (
    "Each query's pool is the union of every built system's top-k (both models, and any BM25, hybrid or reranked system built on the Models page), shown blind: no model names, no positions from "
    "either list, no similarity values, in a shuffled order. Judgments are kept on disk for this corpus."
)
LABEL_BUTTONS = ((0, ":material/block:"), (1, ":material/contrast:"), (2, ":material/verified:"))


def settings() -> tuple[list[str], str]:
    """Rater name, pool depth and the query set; returns (query texts, why the set is empty)."""
    r_col, k_col = st.columns([4, 1], vertical_alignment="bottom")
    judge.rater_input(r_col, what="judgment")
    k_col.number_input("Pool depth k", min_value=1, max_value=50, key="judge_k")
    return judge.query_set_controls("judge")


def _label(store: JudgmentStore, p: judge.Pool, chunk_id: str, label: int | None, k: int) -> None:
    try:
        judge.label_pair(store, p, chunk_id, label, k)
        state.set_page_value("_judge_note", "")
    except Exception as exc:  # shown in the card on the rerun this click causes
        state.set_page_value("_judge_note", f"Not saved: {exc}")


def _undo(store: JudgmentStore) -> None:
    try:
        undone = store.undo(judge.rater())
    except Exception as exc:
        state.set_page_value("_judge_note", f"Undo failed: {exc}")
        return
    state.set_page_value(
        "_judge_note",
        "Nothing to undo: you have no pooled judgment yet."
        if undone is None
        else f"Undone: your {'skip' if undone.label is None else 'label ' + str(undone.label)} "
        "of the pair shown now.",
    )


@st.fragment
def judging_card(corpus: Corpus, store: JudgmentStore, pooled: list[judge.Pool], k: int) -> None:
    """Progress, the pair to judge next and the raters so far; a label click reruns only this part of the page
    (the agreement panel is drawn here so its rater count follows every grade)."""
    card(corpus, store, pooled, k)
    st.divider()
    agreement_panel(store, corpus)


def card(corpus: Corpus, store: JudgmentStore, pooled: list[judge.Pool], k: int) -> None:
    """Progress and the pair to judge next."""
    who = judge.rater()
    prog = judge.progress(pooled, store.judgments(origin="pooled"), who, review_since=judge.review_since())
    p1, p2 = st.columns(2)
    p1.progress(
        prog.queries_done / max(1, prog.queries_total),
        text=f"Queries done: {prog.queries_done} / {prog.queries_total}",
    )
    p2.progress(
        (prog.judged + prog.skipped) / max(1, prog.total),
        text=f"Pooled chunks judged: {prog.judged} / {prog.total}"
        + (f" · {prog.skipped} skipped" if prog.skipped else ""),
    )
    note = state.page_value("_judge_note")
    if note:
        st.caption(escape_md(note))
    if prog.next_pair is None:
        st.success(
            f"Every pooled chunk of these {prog.queries_total} queries has your judgment or skip "
            f"({prog.judged} judged). Evaluate can use them now (source: pooled judgments).",
            icon=":material/task_alt:",
        )
        if prog.skipped:
            st.button(
                f"Go back over the {prog.skipped} skipped", key="_judge_review", on_click=judge.start_review
            )
        st.page_link(widgets.PAGES["evaluate"], label="Go to Evaluate", icon=":material/analytics:")
        return
    i, chunk_id = prog.next_pair
    p = pooled[i]
    chunk = judge.chunk_by_id(corpus).get(chunk_id)
    with st.container(border=True):
        st.caption(
            f"Query {i + 1} of {len(pooled)} · chunk {p.chunk_ids.index(chunk_id) + 1} of {len(p.chunk_ids)} "
            "in its pool" + (" · you skipped this one earlier" if prog.reviewing else "")
        )
        st.markdown(f"**Query:** {escape_md(p.query)}")
        if chunk is None:  # the corpus changed under a stored pool; nothing to show
            st.warning(f"Chunk {escape_md(chunk_id)} is not in this corpus any more; skip it.")
        else:
            st.markdown(
                f"**{judge.where(chunk)}** · :gray[{widgets.lang_badge(chunk.lang)}]\n\n"
                + passage_md(chunk, p.query, limit=700),
                help=judge.where_help(chunk),  # the full path on hover when it was shortened
            )
            with st.expander("Whole chunk"):
                if chunk.heading:
                    st.caption(escape_md(" › ".join(chunk.heading)))
                st.code(chunk.text, language=None, wrap_lines=True)
        cols = st.columns([3, 3, 3, 2, 2])
        mine = judge.stored_label(store.judgments(origin="pooled"), p, chunk_id, who)
        if mine is not None:
            st.caption(f"Your stored grade of this pair: {mine} · {judge.LABEL_NAMES[mine]} (marked below).")
        for col, (label, icon) in zip(cols, LABEL_BUTTONS, strict=False):
            col.button(
                f"{label} · {judge.LABEL_NAMES[label]}",
                key=f"_judge_label_{label}",
                icon=icon,
                on_click=_label,
                args=(store, p, chunk_id, label, k),
                width="stretch",
                type="primary"
                if label == mine
                else "secondary",  # grades look alike; only a stored one is marked
            )
        cols[3].button(
            "Skip", key="_judge_skip", icon=":material/skip_next:", on_click=_label,
            args=(store, p, chunk_id, None, k), width="stretch",
        )  # fmt: skip
        cols[4].button(
            "Undo", key="_judge_undo", icon=":material/undo:", on_click=_undo, args=(store,), width="stretch"
        )


def agreement_panel(store: JudgmentStore, corpus: Corpus) -> None:
    """Cohen's (2 raters) or Fleiss' (3+) kappa on the shared pooled pairs, and the pairs raters disagree on."""
    st.subheader("Agreement between raters")
    found = judge.agreement(store)
    if found.kind is None:
        st.caption(judge.raters_sentence(found, judge.rater()))
        return
    name = "Cohen's kappa" if found.kind == "cohen" else "Fleiss' kappa"
    m = st.columns(3)
    m[0].metric(name, "n/a" if found.kappa is None else f"{found.kappa:.2f}", help=judge.KAPPA_HELP)
    m[1].metric("Raters", len(found.raters))
    m[2].metric(
        "Shared pairs", found.shared_pairs, help="(query, chunk) pairs labelled by two or more raters"
    )
    rows = judge.disagreement_rows(found, store, corpus)
    if not rows:
        st.caption("The raters agree on every shared pair.")
        return
    st.markdown(f"**{len(rows)} pair(s) to adjudicate** (labels differ):")
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        height=min(400, 38 + 35 * len(rows)),
        column_config={
            "query": st.column_config.TextColumn("query", width="medium"),
            "chunk": st.column_config.TextColumn("chunk", width="medium"),
            **{r: st.column_config.NumberColumn(r, width="small") for r in found.raters},
        },
    )


def import_export(store: JudgmentStore, corpus: Corpus) -> None:
    """TREC qrels (graded) and the judgments CSV, out and in."""
    st.subheader("Import and export")
    out_col, in_col = st.columns([3, 2], gap="large")
    with out_col:
        st.caption(
            "qrels.txt: TREC graded qrels (query id, 0, chunk id, label) of every stored judgment, raters merged "
            "by the median; queries.jsonl: their texts; judgments.csv: each judgment with rater, time and origin. "
            "Each file is made from the store when you click it."
        )
        for col, file_name in zip(st.columns(len(judge.EXPORTS)), judge.EXPORTS, strict=True):
            col.download_button(
                file_name,
                functools.partial(judge.export_file, store, file_name),  # made on the click: never stale
                file_name=file_name,
                on_click="ignore",
                icon=":material/download:",
                width="stretch",
            )
    with in_col:
        st.file_uploader(
            "Import TREC qrels (with its queries.jsonl) or a judgments CSV",
            type=["txt", "qrels", "tsv", "csv", "jsonl"],
            accept_multiple_files=True,
            key="_judge_import",
        )
        uploads = state.page_value("_judge_import") or []
        marker = tuple(sorted(u.file_id for u in uploads))
        if uploads and state.changed_since("_judge_imported", marker):
            state.set_page_value("_judge_imported", marker)
            try:
                message = judge.import_files(store, corpus, [(u.name, u.getvalue()) for u in uploads])
            except Exception as exc:
                message = ""
                widgets.show_error(exc)
            state.set_page_value("_judge_import_note", message)
        if uploads and state.page_value("_judge_import_note"):
            st.success(escape_md(state.page_value("_judge_import_note")), icon=":material/upload:")


def render() -> None:
    widgets.page_header("Judge (blind)", SUBTITLE, blind=True)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    texts, why = settings()
    k = int(state.get("judge_k"))
    store = judge.judgment_store(corpus)
    if why:
        st.info(why, icon=":material/list:")
    elif not judge.rater():
        st.info(
            "Type your name (or initials) above before judging: each judgment records its rater, so labels "
            "of two raters can be compared and a restart resumes where you stopped.",
            icon=":material/badge:",
        )
    else:
        try:
            with st.spinner(f"Pooling every system's top-{k} for {len(texts)} queries …"):
                pooled = judge.pools(judge.ordered(texts, "judge", k), k)
        except Exception as exc:
            widgets.show_error(exc)
            return
        judging_card(corpus, store, pooled, k)
        import_export(store, corpus)
        return
    st.divider()
    agreement_panel(store, corpus)
    import_export(store, corpus)


render()
