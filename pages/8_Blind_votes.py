"""Blind A/B votes: one query at a time, both models' top-k side by side with names hidden; which list is better?"""

from typing import Literal

import pandas as pd
import streamlit as st

from core.datasets import format_votes_csv
from core.judging import JudgmentStore, Winner, query_id
from core.types import Corpus
from ui import judge, state, votes, widgets
from ui.state import TIES_RULES, VOTE_REVEALS
from ui.text import escape_md, passage_md

SUBTITLE = (
    "Arena mode: for each query the two models' lists are shown side by side, left and right assigned at random "
    "and names hidden. Pick the better list; votes are kept on disk with the judgments of this corpus."
)
CHOICES: tuple[tuple[Winner, str, str], ...] = (
    ("left", "Left is better", ":material/arrow_back:"),
    ("right", "Right is better", ":material/arrow_forward:"),
    ("tie", "Tie", ":material/drag_handle:"),
    ("both_bad", "Both bad", ":material/thumb_down:"),
)
SAID = {"left": "left is better", "right": "right is better", "tie": "a tie", "both_bad": "both bad"}


def settings() -> tuple[list[str], str]:
    """Rater name, k, when names are revealed and the query set; returns (query texts, why the set is empty)."""
    r_col, k_col, rev_col = st.columns([3, 1, 2], vertical_alignment="bottom")
    judge.rater_input(r_col, what="vote")
    k_col.number_input("k per list", min_value=1, max_value=20, key="votes_k")
    rev_col.radio("Reveal model names", VOTE_REVEALS, key="votes_reveal", horizontal=True)
    return judge.query_set_controls("votes")


def _vote(
    store: JudgmentStore, query: str, pair: tuple[str, str], left: Literal["A", "B"], winner: Winner, k: int
) -> None:
    try:
        store.record_vote(
            query=query, model_a=pair[0], model_b=pair[1], left=left, winner=winner, rater=judge.rater(), k=k
        )
    except Exception as exc:
        state.set_page_value("_votes_note", f"Not saved: {exc}")
        return
    state.set_page_value("_votes_note", "")
    state.set_page_value("_votes_last", {"query": query, "left": left, "winner": winner})


def _undo(store: JudgmentStore) -> None:
    try:
        undone = store.undo_vote(judge.rater())
    except Exception as exc:
        state.set_page_value("_votes_note", f"Undo failed: {exc}")
        return
    state.set_page_value("_votes_last", None)
    state.set_page_value(
        "_votes_note",
        "Nothing to undo: you have not voted yet." if undone is None else "Your last vote is undone.",
    )


def _next() -> None:
    state.set_page_value("_votes_last", None)


def side_list(corpus: Corpus, title: str, ids: tuple[str, ...], query: str) -> None:
    """One side's list: source, location and a snippet per chunk, top to bottom (no positions, no values)."""
    chunks = judge.chunk_by_id(corpus)
    st.markdown(f"#### {title}")
    if not ids:
        st.info("No results.")
    for cid in ids:
        chunk = chunks.get(cid)
        if chunk is None:
            continue
        with st.container(border=True):
            st.markdown(  # half the page wide: a shorter path, the whole of it on hover
                f"**{judge.where(chunk, limit=40)}** · :gray[{widgets.lang_badge(chunk.lang)}]\n\n"
                + passage_md(chunk, query, limit=220),
                help=judge.where_help(chunk, limit=40),
            )


def reveal(pair: tuple[str, str], last: dict) -> None:
    """Which model was on which side of the vote just cast."""
    left, right = ("A", "B") if last["left"] == "A" else ("B", "A")
    name = {"A": pair[0], "B": pair[1]}
    st.success(
        f"You voted {SAID[last['winner']]}. Left was **{left} · {escape_md(name[left])}**, right was "
        f"**{right} · {escape_md(name[right])}**.",
        icon=":material/visibility:",
    )
    st.button("Next query", key="_votes_next", type="primary", icon=":material/skip_next:", on_click=_next)


@st.fragment
def voting_card(
    corpus: Corpus, store: JudgmentStore, texts: list[str], pair: tuple[str, str], k: int
) -> None:
    """The query to vote on (or the reveal of the last vote), then the results; a vote reruns only this part."""
    who = judge.rater()
    mine = [v for v in votes.pair_votes(store.votes(), pair) if v.rater == who]
    voted = {v.query_id for v in mine}
    st.progress(
        len([q for q in texts if query_id(q) in voted]) / max(1, len(texts)),
        text=f"Queries voted: {sum(query_id(q) in voted for q in texts)} / {len(texts)}",
    )
    note = state.page_value("_votes_note")
    if note:
        st.caption(escape_md(note))
    at_end = state.get("votes_reveal") == "only at the end"
    last = state.page_value("_votes_last")
    nxt = votes.next_query(texts, mine, who)
    if last and not at_end:
        reveal(pair, last)
    elif nxt is None:
        st.success(f"Every query of this set has your vote ({len(texts)}).", icon=":material/task_alt:")
    else:
        query = texts[nxt]
        qid = query_id(query)
        left = votes.left_model(qid, *pair)
        ids_a, ids_b = judge.top_k(texts, k)[query]
        with st.container(border=True):
            st.caption(f"Query {nxt + 1} of {len(texts)}")
            st.markdown(f"**Query:** {escape_md(query)}")
            lcol, rcol = st.columns(2, gap="medium")
            with lcol:
                side_list(corpus, "Left", ids_a if left == "A" else ids_b, query)
            with rcol:
                side_list(corpus, "Right", ids_b if left == "A" else ids_a, query)
            cols = st.columns(5)
            for col, (winner, label, icon) in zip(cols, CHOICES, strict=False):
                col.button(
                    label, key=f"_votes_{winner}", icon=icon, on_click=_vote,
                    args=(store, query, pair, left, winner, k), width="stretch",
                )  # fmt: skip
            cols[4].button(
                "Undo last vote", key="_votes_undo", icon=":material/undo:", on_click=_undo, args=(store,),
                width="stretch",
            )  # fmt: skip
    st.divider()
    if nxt is not None and not (last and not at_end):
        st.caption(
            "Results, with the model names, show beside the reveal after each vote, or once every query of this "
            "set has your vote (setting: reveal only at the end); never next to a list you are judging."
        )
        return
    results(corpus, store, pair, texts, k)


def results(corpus: Corpus, store: JudgmentStore, pair: tuple[str, str], texts: list[str], k: int) -> None:
    """Win rate of A over B with its Wilson interval, the sign test, and the same per query language pair."""
    st.subheader("Result")
    cast = votes.pair_votes(store.votes(), pair)
    if not cast:
        st.caption("No votes on this pair of models yet.")
        return
    st.radio(
        "Ties", TIES_RULES, key="votes_ties", horizontal=True,
        help="split: a tie or 'both bad' counts half a win for each model; exclude: they are left out of the "
        "win rate. The sign test always leaves them out.",
    )  # fmt: skip
    ties = state.votes_ties()
    summary = votes.summary(cast, ties=ties, pair=pair)
    st.markdown(votes.summary_sentence(summary, pair))
    m = st.columns(4)
    rate = "n/a" if summary.win_rate_a is None else f"{summary.win_rate_a:.0%}"
    m[0].metric(f"A wins (ties {'split' if ties == 'split' else 'excluded'})", rate)
    low, high = summary.ci_low, summary.ci_high
    m[1].metric("95% Wilson interval", "n/a" if low is None or high is None else f"{low:.0%} – {high:.0%}")
    m[2].metric("Sign test p", "n/a" if summary.p_sign is None else f"{summary.p_sign:.3f}", help="two-sided")
    m[3].metric("Votes", summary.n)
    groups = votes.language_pairs(cast, judge.top_k(texts, k), judge.chunk_by_id(corpus))
    rows = votes.language_rows(cast, ties=ties, pair=pair, groups=groups)
    if rows:
        st.markdown("**Per query language pair** (query language → main language of the lists shown)")
        st.dataframe(
            pd.DataFrame(rows),
            hide_index=True,
            width="stretch",
            column_config={
                "A wins": st.column_config.NumberColumn("A wins", format="percent"),
                "95% low": st.column_config.NumberColumn("95% low", format="percent"),
                "95% high": st.column_config.NumberColumn("95% high", format="percent"),
                "sign p": st.column_config.NumberColumn("sign p", format="%.3f"),
            },
        )
    st.download_button("votes.csv", format_votes_csv(cast), file_name="votes.csv", icon=":material/download:")


def render() -> None:
    widgets.page_header("Blind A/B votes", SUBTITLE, blind=True)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    pair = votes.model_pair()
    if pair is None:
        return
    texts, why = settings()
    k = int(state.get("votes_k"))
    store = judge.judgment_store(corpus)
    if why:
        st.info(why, icon=":material/list:")
        return
    if not judge.rater():
        st.info(
            "Type your name (or initials) above before voting: each vote records its rater, and a restart "
            "resumes with the first query you have not voted on.",
            icon=":material/badge:",
        )
        return
    try:
        with st.spinner(f"Searching {len(texts)} queries with both models …"):
            texts = judge.ordered(texts, "votes", k)
            judge.top_k(texts, k)
    except Exception as exc:
        widgets.show_error(exc)
        return
    voting_card(corpus, store, texts, pair, k)


render()
