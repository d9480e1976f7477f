"""Compare: one query, two ranked lists side by side, with what differs and how fast each model was."""

import pandas as pd
import streamlit as st

from core.ingest import language_name
from core.judging import query_id
from core.models import display_label
from core.search import MAJOR_SHARE, Z_EXACT_MAX_CHUNKS
from core.text import plural
from core.types import Corpus
from ui import build, compare, resources, state, systems, widgets
from ui.corpus import sample_judgments, sample_queries
from ui.text import card_snippet, chunk_place, display_name, escape_md, page_parts, path_md, short_path

SUBTITLE = (
    "The same query against both models: ranks, scores, agreement and latency. Raw cosine scores of different "
    "models are not comparable; z = how many standard deviations a score sits above this query's mean over all chunks "
    f"(above {Z_EXACT_MAX_CHUNKS:,} chunks that mean and spread come from the corpus vectors' mean and covariance, "
    "computed once: the same figures without scoring every chunk per query)."
)


def _use_example() -> None:
    picked = state.page_value("_cmp_example")
    if picked:
        state.set_cmp_query(picked)


def column_pickers(corpus: Corpus) -> None:
    """When systems beyond A and B are built (Models page), each column picks any of them."""
    every = systems.every(corpus)
    if len(every) <= 2:
        return
    names = list(every)
    cols = st.columns(2, gap="medium")
    for col, slot in zip(cols, ("A", "B"), strict=True):
        key = f"cmp_system_{slot.lower()}"
        if state.get(key) not in names:
            mi = build.built_index(slot)
            state.put(key, mi.name if mi is not None and mi.name in names else names[0 if slot == "A" else 1])
        col.selectbox(
            f"Column {slot}",
            names,
            key=key,
            help="Any built system: a model, BM25, a hybrid or a reranked system.",
        )


def query_bar(samples: list[dict[str, str]]) -> None:
    """The query box, examples and history, and k."""
    q_col, ex_col, k_col, go_col = st.columns([5, 3, 1, 1], vertical_alignment="bottom")
    with q_col:
        st.text_input(
            "Query",
            key="cmp_query",
            placeholder="Type a question and press Enter",
        )
    with ex_col:
        examples = list(dict.fromkeys([*state.history(), *(q["text"] for q in samples)]))
        st.selectbox(
            "Examples and history",
            examples,
            index=None,
            key="_cmp_example",
            on_change=_use_example,
            placeholder="Pick an example",
        )
    with k_col:
        st.number_input("k", min_value=1, max_value=100, key="cmp_k")
    with go_col:  # Enter in the query box searches too; the button is there for those who look for one
        st.button("Search", type="primary", key="_cmp_search", width="stretch")


def search(query: str, k: int) -> compare.PairResult | None:
    """Both models' answers, searched once per (indexes, query, k, instructions); None after an error."""
    # Reruns caused by labelling or expanding a chunk reuse the answer.
    signature = (
        state.get("built_a"),
        state.get("built_b"),
        state.get("cmp_system_a"),
        state.get("cmp_system_b"),
        tuple(state.get("systems_chosen")),
        query,
        k,
        compare.instruction("A"),
        compare.instruction("B"),
    )
    cached = state.page_value("_cmp_last")
    if cached and cached[0] == signature:
        found: compare.PairResult = cached[1]
        return found
    try:
        pair = compare.search_pair(query, k)
    except Exception as exc:
        widgets.show_error(exc)
        return None
    state.set_page_value("_cmp_last", (signature, pair))
    resources.memo(("settle_heap", *signature[:2]), compare.settle_heap)  # once per loaded pair of indexes
    state.remember_query(query)
    for side in (pair.a, pair.b):
        state.record_latency(side.slot, side.model, side.result.embed_ms, side.result.search_ms)
    return pair


def agreement_metrics(pair: compare.PairResult, k: int) -> None:
    """Overlap, RBO, shared results and the query's language."""
    ag = pair.agreement
    m = st.columns(4)
    m[0].metric(
        f"Overlap@{k}",
        f"{ag.jaccard:.2f}",
        help=f"Jaccard overlap of the two top-{k} sets: results found by both / results found by either. "
        "'Found by both' counts the shared results instead.",
    )
    m[1].metric(
        "RBO", f"{ag.rbo:.2f}", help="Rank-biased overlap: 1 = same order, 0 = disjoint; weighted to the top"
    )
    m[2].metric(
        "Found by both",
        f"{ag.shared} / {k}",
        help="How many of each model's top-k the other model also returned (order ignored). On a card, "
        "'B: #3 (▼2)' means the other model ranks that chunk 3rd, two places lower.",
    )
    m[3].metric("Query language", widgets.lang_badge(pair.query_lang))


def misses(pair: compare.PairResult, corpus: Corpus) -> None:
    """Per column: the languages of its top k against the corpus's shares; a warning when it misses a language
    that holds a real share of the corpus (rule: core.search.misses)."""
    sides = compare.languages(pair, corpus)
    cols = st.columns(2, gap="medium")
    for col, langs in zip(cols, sides, strict=True):
        with col:
            said = langs.sentences()
            if said:
                st.warning(
                    "**Misses** · " + " ".join(said) + f"  \n{langs.summary()}.",
                    icon=":material/translate:",
                )
            else:
                st.caption(f"Misses · none by language. {langs.summary()}.")
    corpus_shares = ", ".join(
        f"{share * 100:.0f}% {language_name(code)}" for code, share in sides[0].shares if share >= 0.01
    )
    st.caption(
        f"Corpus: {corpus_shares}. A column misses a language when none of its top {pair.k} is in it although "
        f"that language holds at least {MAJOR_SHARE:.0%} of the chunks and share × k ≥ 1. "
        + compare.deep_note(pair)
    )


def pin_picker(corpus: Corpus) -> None:
    """'Pin a file': its best rank in both columns follows every query."""
    labels = compare.file_labels(corpus)
    if state.get("cmp_pinned") not in labels:
        state.put("cmp_pinned", None)
    pin_col, _ = st.columns([1, 1])
    pin_col.selectbox(
        "Pin a file",
        list(labels),
        index=None,
        key="cmp_pinned",
        format_func=labels.__getitem__,
        placeholder="Type to find a file whose rank should follow every query",
        help="The pinned file's best chunk: its rank in both columns' full rankings, shown for every query.",
    )


def pinned_line(pair: compare.PairResult, corpus: Corpus) -> None:
    source = state.get("cmp_pinned")
    if not source:
        return
    ranks = compare.pinned_ranks(pair, corpus, source)
    st.info(
        f"**{escape_md(display_name(source))}**: " + ", ".join(f"{slot} {r}" for slot, r in ranks.items()),
        icon=":material/push_pin:",
    )


def _label_changed(widget_key: str, corpus_key: str, query: str, chunk_id: str) -> None:
    # thumbs: 1 = up = relevant (label 1), 0 = down = not relevant (label 0), None = cleared
    choice = state.page_value(widget_key)
    try:
        compare.record_thumb(corpus_key, query, chunk_id, None if choice is None else int(choice))
    except Exception as exc:
        widgets.show_error(exc)


def _toggle_chunk(key: str) -> None:
    opened: set[str] = state.page_value("_cmp_opened") or set()
    state.set_page_value("_cmp_opened", opened ^ {key})


def _marker(pair: compare.PairResult, side: compare.SideResult, rank: int) -> str:
    """Where the other column ranks this hit: 'B: #3 (▼2)' in its list, 'B: #37' deeper than k, and 'only A' with
    'B: not in top 100' (or 'not returned') when it is beyond what the other column ranked."""
    other = "B" if side.slot == "A" else "A"
    other_rank, where = compare.other_place(pair, side.slot, side.result.hits[rank - 1].chunk_id)
    if other_rank is None:
        return f":orange-badge[only {side.slot}] · {other}: {where}"
    if other_rank == rank:
        return f"{other}: same rank"
    delta = other_rank - rank
    return f"{other}: {where} ({'▼' if delta > 0 else '▲'}{abs(delta)})"


def render_side(
    side: compare.SideResult,
    pair: compare.PairResult,
    corpus: Corpus,
    *,
    actions: bool,
) -> None:
    """One model's ranked list: a light card per hit (one Markdown element: place, facts, snippet), its thumbs,
    and the whole chunk only when asked for (widgets and code blocks are what make 20 cards slow to draw)."""
    query = pair.query
    labels = compare.labels_for(corpus.sha256).get(query, {})
    parts = resources.memo(("page_parts", corpus.sha256), lambda: page_parts(corpus.chunks))
    opened: set[str] = state.page_value("_cmp_opened") or set()
    qid = query_id(query)
    st.markdown(f"#### {side.slot} · {escape_md(display_label(side.model))}")
    st.caption(compare.timing_line(side))
    if not side.result.hits:
        note = side.result.extra.get("note")
        st.info(f"No results: {escape_md(str(note))}" if note else "No results.")
    for hit, z in zip(side.result.hits, side.z_scores, strict=True):
        chunk = corpus.chunks[hit.chunk_index]
        marker = _marker(pair, side, hit.rank)
        cross = pair.query_lang not in ("unknown", chunk.lang) and chunk.lang != "unknown"
        name = display_name(chunk.source)
        shown = short_path(chunk.source)
        place = chunk_place(chunk, parts)
        meta = (
            f"score **{hit.score:.3f}** · z **{'–' if z != z else f'{z:+.1f}'}** · {widgets.lang_badge(chunk.lang)}"
            + (" · :violet-badge[cross-lingual]" if cross else "")
            + f" · {marker}"
        )
        with st.container(border=True):
            st.markdown(
                f"**#{hit.rank}** · **{path_md(chunk.source)}**"
                + (f" · {escape_md(place)}" if place else "")
                + f"  \n:gray[{meta}]\n\n"
                + card_snippet(chunk, query),
                help=escape_md(name) if shown != name else None,  # the full path, on hover
            )
            if not actions:
                continue
            more, label = st.columns([4, 1], vertical_alignment="center")
            open_key = f"{side.slot}|{hit.chunk_id}"
            more.button(
                "Hide the chunk" if open_key in opened else "Whole chunk",
                key=f"_cmp_more_{side.slot}_{hit.rank}",
                type="tertiary",
                icon=":material/unfold_less:" if open_key in opened else ":material/unfold_more:",
                on_click=_toggle_chunk,
                args=(open_key,),
            )
            key = f"_cmp_lab_{side.slot}_{qid}_{hit.chunk_id}"
            state.default_page_value(key, labels.get(hit.chunk_id))
            label.feedback(
                "thumbs",
                key=key,
                on_change=_label_changed,
                args=(key, corpus.sha256, query, hit.chunk_id),
            )
            if open_key in opened:
                if chunk.heading:
                    st.caption(escape_md(" › ".join(chunk.heading)))
                st.code(chunk.text, language=None, wrap_lines=True)


def latency() -> None:
    """p50/p95 of query embedding and search per model over this session."""
    st.subheader("Latency this session")
    try:
        rows = compare.latency_summary()
    except Exception as exc:
        widgets.show_error(exc)
        return
    if not rows:
        st.caption("No query timed yet.")
        return
    # One column per model (headed A / B, named in the result columns above): six columns would not fit here.
    measures = [m for m in rows[0] if m != "model"]
    table = pd.DataFrame(
        {str(r["model"]).split(" · ")[0]: [str(r[m]) for m in measures] for r in rows},  # as rounded: 2, 31.4
        index=measures,
    )
    st.table(table)  # a static table: the interactive grid took ~20% of the browser's redraw after each query
    st.caption(
        "Query embedding and index search (HNSW in process, or Qdrant) timed separately with perf_counter; "
        "p50/p95 over this session's queries."
    )


def label_exports(corpus: Corpus) -> None:
    """How many results were labelled, and the labels as BEIR qrels.tsv + queries.jsonl."""
    st.subheader("Relevance labels")
    st.caption(
        f"Thumbs up saves label 1 (relevant), thumbs down label 0 (not relevant) for this query, as rater "
        f"'{escape_md(compare.rater())}', in this corpus's judgment store: they survive a restart and count on "
        "the Evaluate page (source 'thumbs'). Clicking a thumb again clears it. The thumbs show on the cards "
        "when 'Label results and open whole chunks' is on."
    )
    all_labels = compare.labels_for(corpus.sha256)
    n = sum(len(v) for v in all_labels.values())
    st.markdown(
        f"**{n:,}** {plural(n, 'label')} on **{(q := sum(bool(v) for v in all_labels.values())):,}** "
        f"{plural(q, 'query')} for this corpus."
    )
    # The files are made when a button is clicked (a callable), not on every query; a download reruns nothing.
    exports = {
        "qrels.tsv": lambda: compare.qrels_tsv(all_labels),
        "queries.jsonl": lambda: compare.queries_jsonl(all_labels),
    }
    for col, (file_name, make) in zip(st.columns(2), exports.items(), strict=True):
        col.download_button(
            file_name, make, file_name=file_name, disabled=n == 0, width="stretch", on_click="ignore"
        )


def _sample_judged() -> dict[str, dict[str, int]]:
    """The sample set's file-level judgments by query text, on the sample corpus ({} elsewhere)."""
    if state.corpus_origin() != "sample":
        return {}
    queries, qrels = sample_judgments()
    return {text: qrels[qid] for qid, text in queries.items() if qid in qrels}


def disagreement_section(k: int) -> None:
    """Run a query set through both models and list the queries whose two lists differ most."""
    st.subheader("Where do they disagree most?")
    s1, s2, s3 = st.columns([3, 1, 1], vertical_alignment="bottom")
    chosen = widgets.query_set_chooser("cmp", set_area=s1, count_area=s2, horizontal=True)
    if s3.button("Run", type="primary", width="stretch", key="_cmp_disagree_run"):
        if chosen.empty:
            st.info(
                "That query set is empty (sample queries exist only for the sample corpus; "
                "history fills as you ask queries above)."
            )
        else:
            try:
                qs = chosen.texts or compare.pseudo_query_texts(chosen.n_pseudo)
                with st.spinner(f"Searching {len(qs)} queries with both models …"):
                    state.put("cmp_disagree", compare.disagreement(qs, k, judged=_sample_judged())[:25])
            except Exception as exc:
                widgets.show_error(exc)
    rows = state.get("cmp_disagree")[:15]
    if rows:
        st.caption(
            "Lowest rank-biased overlap first. Which side looked better: by labels where either top k holds a "
            "judged chunk (more chunks labelled relevant; labels from this corpus's judgment store and, on the "
            "sample corpus, its shipped file-level judgments); without any, whose top hits the other model "
            "ranks lower (median rank in its exact whole-corpus ranking): that says whose picks the other "
            "disputes, not which is right."
        )
    for i, row in enumerate(rows):
        c = st.columns([6, 3, 1], vertical_alignment="center")
        lean = row.get("leaning")
        c[0].markdown(escape_md(row["query"][:160]) + (f"  \n:gray[{escape_md(lean)}]" if lean else ""))
        nb = "\u00a0"  # 'overlap' never wraps away from its figure (a line break may come only after the '·')
        c[1].markdown(f"RBO **{row['rbo']:.2f}** · overlap{nb}**{row['overlap@k']:.2f}**")
        c[2].button("Open", key=f"_cmp_open_{i}", on_click=state.set_cmp_query, args=(row["query"],))


@st.fragment
def results(corpus: Corpus, samples: list[dict[str, str]]) -> None:
    """Query bar, both lists, latency and labels: a fragment, so Enter reruns only this part of the page."""
    state.keep("cmp_query", "cmp_k", "cmp_system_a", "cmp_system_b", "cmp_pinned")  # outlive another page
    column_pickers(corpus)
    query_bar(samples)
    pin_picker(corpus)
    query, k = state.cmp_query(), state.cmp_k()
    if not query:
        st.info("Type a query or pick one of the examples.", icon=":material/chat:")
        return
    pair = search(query, k)
    if pair is None:
        return
    agreement_metrics(pair, k)
    try:
        misses(pair, corpus)
        pinned_line(pair, corpus)
    except Exception as exc:
        widgets.show_error(exc)
        return
    actions = st.toggle(
        "Label results and open whole chunks",
        key="_cmp_actions",
        help="Adds thumbs up / down and a 'Whole chunk' button to every card (off: lighter cards that redraw faster).",
    )
    left, right = st.columns(2, gap="medium")
    with left:
        render_side(pair.a, pair, corpus, actions=actions)
    with right:
        render_side(pair.b, pair, corpus, actions=actions)
    st.divider()
    lat_col, lab_col = st.columns([3, 2], gap="large")
    with lat_col:
        latency()
    with lab_col:
        label_exports(corpus)


def render() -> None:
    widgets.page_header("Compare", SUBTITLE)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    samples = sample_queries() if state.corpus_origin() == "sample" else []
    results(corpus, samples)
    k = state.cmp_k()
    disagreement_section(k)


render()
