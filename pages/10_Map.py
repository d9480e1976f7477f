"""Map: where on the corpus each model wins: the chunks in 2-D by region, the queries on top coloured by outcome."""

import pandas as pd
import streamlit as st

from core.corpus_map import CorpusMap
from core.ingest import CODE_EXTS, DATA_EXTS, extension
from core.models import display_label
from core.report import charts, regions
from core.text import number
from core.types import Chunk, Corpus
from ui import corpus_map as mp
from ui import report as rep
from ui import state, widgets
from ui.text import chunk_place, escape_md, one_line, page_parts, short_path, strip_markdown

SUBTITLE = (
    "Where on our corpus does each model win? Every chunk in 2-D, coloured by region; the queries on top, "
    "coloured by which model served them better."
)
REGION_QUERIES = 25  # queries listed under the selected region (the rest: the region table counts them)
SNIPPET = 220


def compute(corpus: Corpus) -> tuple[CorpusMap, mp.MapQueries] | None:
    """The map of both built models with the session's queries (a spinner the first time; memoised after)."""
    pair = mp.both_indexes()
    if pair is None:
        return None
    try:
        queries, qrels, source = rep.judged_set(corpus, rep.judgment_store(corpus))
        found = mp.map_queries(corpus, queries, qrels, source)
        cmap = mp.cached_map(corpus, pair, found)
        if cmap is None:
            with st.spinner(f"Laying out {len(corpus.chunks):,} chunks in both models' spaces …"):
                cmap = mp.corpus_map(corpus, pair, found)
    except Exception as exc:  # project errors name the input and the fix; anything else with its type
        widgets.show_error(exc)
        return None
    return cmap, found


def intro(cmap: CorpusMap, found: mp.MapQueries, space: state.Slot) -> None:
    """How the map was made, and what the queries' colours rest on."""
    st.caption(escape_md(regions.how_made(cmap, space=space)))
    if found.queries:
        st.caption(
            escape_md(f"Queries: {len(found.queries)} from {found.source}. " + regions.outcome_words(cmap))
        )
    else:
        st.info(
            "No queries to place yet: the map shows the chunks and regions only. Ask queries on the Compare page "
            "(they join this map) or judge some on the Judge page.",
            icon=":material/info:",
        )


def space_toggle(cmap: CorpusMap) -> state.Slot:
    """Model A's space or model B's; the selected chunk and region stay selected in both."""
    names = {"A": cmap.layout_a.model, "B": cmap.layout_b.model}
    st.segmented_control(
        "Show the chunks in",
        ["A", "B"],
        key="map_space",
        format_func=lambda s: f"model {s}'s space · {display_label(names[s])}",
        required=True,
    )
    return mp.space()


def chart(cmap: CorpusMap, corpus: Corpus, space: state.Slot) -> None:
    """The scatter (a seeded sample above PAGE_POINTS chunks, said under it); a click selects a chunk."""
    chunk_rows, query_rows, ring = regions.chart_rows(
        cmap, corpus, space=space, limit=regions.PAGE_POINTS, selected=state.get("map_chunk")
    )
    n = len(corpus.chunks)
    sampled = len(chunk_rows) < n
    spec = charts.corpus_map(
        chunk_rows,
        query_rows,
        regions=list(regions.region_names(cmap).values()),
        centres=regions.centre_rows(cmap, corpus, space=space),
        selected=ring,
        density=regions.density_rows(cmap, space=space) if sampled else (),
        width="container",
        height=640,  # legends included: the plot itself is about 470 px tall
        select="pick",
    )
    picked = st.altair_chart(
        spec, width="stretch", on_select="rerun", selection_mode="pick", key="_map_chart"
    )
    mp.pick_from_chart(picked, regions.region_of_chunk(cmap))
    shown = (
        f"All {n:,} chunks are drawn."
        if not sampled
        else f"{len(chunk_rows):,} of {n:,} chunks are drawn as dots (a seeded random sample that keeps every chunk "
        "a query lands on); the grey cells under them count all of them, darker where more lie; the region table "
        "counts them all."
    )
    st.caption(
        shown + " Click a chunk to select it (and its region): it stays ringed when you switch spaces. "
        "The numbers mark each region's centre; the axes of a 2-D layout have no meaning."
    )


REGION_COLUMNS = {
    "region": st.column_config.TextColumn("region", width=140, help="number on the chart: distinctive terms"),
    "chunks": st.column_config.NumberColumn("chunks", width=56, format="%d"),
    "files and languages": st.column_config.TextColumn(
        "make-up", width=168, help="its largest file and its languages, by share of its chunks"
    ),
    "queries": st.column_config.NumberColumn("queries", width=58, format="%d", help="queries placed in it"),
    "A wins": st.column_config.NumberColumn("A wins", width=56, format="%d"),
    "B wins": st.column_config.NumberColumn("B wins", width=56, format="%d"),
    "ties": st.column_config.NumberColumn("ties", width=42, format="%d"),
    "A − B": st.column_config.TextColumn(
        "A − B", width=62, help="mean nDCG@10 difference over its judged queries"
    ),
    "95% CI": st.column_config.TextColumn("95% CI", width=112, help="bootstrap 95% CI of the mean A − B"),
    "judged": st.column_config.NumberColumn(
        "judged", width=56, format="%d", help="its queries with judgments"
    ),
}


def region_table(cmap: CorpusMap) -> None:
    """One row per region: size, make-up, queries, wins of A and B, ties, mean nDCG@10 A − B with its CI."""
    st.subheader("Regions")
    rows = regions.region_rows(cmap)
    st.dataframe(
        pd.DataFrame(rows, columns=list(REGION_COLUMNS)),
        hide_index=True,
        width="stretch",
        height=widgets.table_height(len(rows), widgets.WRAP_ROW_PX),
        row_height=widgets.WRAP_ROW_PX,  # the make-up wraps to three lines
        column_config=REGION_COLUMNS,
    )


def plain_text(chunk: Chunk) -> str:
    """A chunk's opening text on one line, prose without its Markdown syntax (code as it is)."""
    prose = extension(chunk.source) not in CODE_EXTS | DATA_EXTS
    return one_line(strip_markdown(chunk.text) if prose else chunk.text, SNIPPET)


def region_chunks(corpus: Corpus, chunk_ids: list[str]) -> None:
    """The selected region's chunks: file, place, language and opening text."""
    by_id = {c.id: c for c in corpus.chunks}
    chunks = [by_id[c] for c in chunk_ids if c in by_id]
    parts = page_parts(chunks)
    rows = [
        {
            "file": short_path(c.source, 40),
            "place": chunk_place(c, parts),
            "language": widgets.lang_badge(c.lang),
            "text": plain_text(c),
        }
        for c in chunks
    ]
    st.dataframe(
        pd.DataFrame(rows, columns=["file", "place", "language", "text"]),
        hide_index=True,
        width="stretch",
        height=min(420, widgets.table_height(len(rows), widgets.WRAP_ROW_PX)),
        row_height=widgets.WRAP_ROW_PX,
        column_config={
            "file": st.column_config.TextColumn("file", width=170),
            "place": st.column_config.TextColumn("place", width=110),
            "language": st.column_config.TextColumn("language", width=80),
            "text": st.column_config.TextColumn("text", width=420),
        },
    )


def region_queries(cmap: CorpusMap, region_id: int) -> None:
    """The queries placed in the region, each with its outcome and a button that opens it on Compare."""
    points = [p for p in cmap.points if p.region == region_id]
    if not points:
        st.caption("No query lands in this region.")
        return
    points.sort(key=lambda p: (-(abs(p.diff) if p.diff is not None else -1.0), p.overlap, p.query))
    for i, p in enumerate(points[:REGION_QUERIES]):
        c = st.columns([5, 3, 2.4], vertical_alignment="center")
        c[0].markdown(escape_md(one_line(p.query, 160)))
        said = regions.OUTCOME_WORDS.get(p.outcome, p.outcome)
        figure = f"A − B {number(p.diff, 3, sign=True)}" if p.diff is not None else f"overlap {p.overlap:.2f}"
        c[1].markdown(f"**{escape_md(said)}** · {escape_md(figure)}")
        if c[2].button(
            "Open in Compare",
            key=f"_map_open_{i}",
            icon=":material/compare_arrows:",
            width="stretch",
            help="Search this query on the Compare page: both models' lists side by side.",
        ):
            mp.open_in_compare(p.query)
    if len(points) > REGION_QUERIES:
        st.caption(f"The first {REGION_QUERIES} of {len(points)} queries, largest difference first.")


def region_detail(cmap: CorpusMap, corpus: Corpus) -> None:
    """Pick a region (or click a chunk on the chart): its queries and its chunks."""
    names = regions.region_names(cmap)
    if not names:
        return
    mp.selected_region(cmap)  # a region of this map is selected before the box is drawn
    st.selectbox("Region", list(names), key="map_region", format_func=lambda r: names.get(r, str(r)))
    region = next(r for r in cmap.regions if r.id == mp.selected_region(cmap))
    st.markdown(f"**Queries in region {escape_md(names[region.id])}**")
    st.caption(
        "A − B: nDCG@10 of A minus B on the query's judgments; overlap: the share of the two top-10 lists in common."
    )
    region_queries(cmap, region.id)
    st.markdown(f"**Its {len(region.chunk_ids):,} chunks**")
    region_chunks(corpus, list(region.chunk_ids))


def moved_most(cmap: CorpusMap, corpus: Corpus) -> None:
    """The chunks whose nearest neighbours differ most between the two models."""
    with st.expander("Moved most: chunks whose neighbourhoods differ most", icon=":material/swap_horiz:"):
        if not cmap.moved:
            st.caption("Nothing to list.")
            return
        by_id = {c.id: c for c in corpus.chunks}
        names, region_of = regions.region_names(cmap), regions.region_of_chunk(cmap)
        rows = [
            {
                "file": short_path(by_id[cid].source, 40) if cid in by_id else cid,
                "region": names.get(region_of[cid], "–") if cid in region_of else "–",
                "overlap": overlap,
                "text": plain_text(by_id[cid]) if cid in by_id else "",
            }
            for cid, overlap in cmap.moved
        ]
        st.caption(
            escape_md(
                f"Overlap: of a chunk's {mp.MOVED_K} nearest chunks in A's space and its {mp.MOVED_K} in B's, the "
                "share both lists hold (Jaccard: 0 = none in common, 1 = the same neighbours); lowest first."
            )
        )
        st.dataframe(
            pd.DataFrame(rows, columns=["file", "region", "overlap", "text"]),
            hide_index=True,
            width="stretch",
            height=min(420, widgets.table_height(len(rows), widgets.WRAP_ROW_PX)),
            row_height=widgets.WRAP_ROW_PX,
            column_config={
                "file": st.column_config.TextColumn("file", width=160),
                "region": st.column_config.TextColumn("region", width=150),
                "overlap": st.column_config.NumberColumn("overlap", width=70, format="%.2f"),
                "text": st.column_config.TextColumn("text", width=380),
            },
        )


def render() -> None:
    widgets.page_header("Map", SUBTITLE)
    corpus = widgets.indexed_corpus()
    if corpus is None:
        return
    found = compute(corpus)
    if found is None:
        return
    cmap, queries = found
    space = space_toggle(cmap)
    intro(cmap, queries, space)
    chart(cmap, corpus, space)
    region_table(cmap)
    region_detail(cmap, corpus)
    moved_most(cmap, corpus)


render()
