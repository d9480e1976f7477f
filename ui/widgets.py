"""Small shared widgets: the status panel, page header, friendly errors."""

from __future__ import annotations

import streamlit as st

from core.errors import DashboardError
from ui import build, resources, state
from ui.text import escape_md

PAGES = {
    "home": "streamlit_app.py",
    "corpus": "pages/1_Corpus.py",
    "models": "pages/2_Models.py",
    "compare": "pages/3_Compare.py",
    "dims": "pages/4_Dimensions.py",
    "evaluate": "pages/5_Evaluate.py",
}

LANG_NAMES = {
    "en": "English",
    "zh-cn": "Chinese",
    "zh-tw": "Chinese (trad.)",
    "ja": "Japanese",
    "unknown": "unknown",
}


NAV = (
    ("home", "Home", ":material/home:"),
    ("corpus", "Corpus", ":material/description:"),
    ("models", "Models & indexes", ":material/model_training:"),
    ("compare", "Compare", ":material/compare_arrows:"),
    ("dims", "Dimensions", ":material/straighten:"),
    ("evaluate", "Evaluate", ":material/analytics:"),
)


def sidebar() -> None:
    """Page links plus what is loaded right now (our own navigation: the default one shows file names)."""
    with st.sidebar:
        st.markdown("### :material/travel_explore: Retrieval Compare")
        for key, label, icon in NAV:
            st.page_link(PAGES[key], label=label, icon=icon)
        st.divider()
        corpus = resources.current_corpus()
        st.caption(
            f"Corpus: {escape_md(corpus.name) if corpus else '—'}"
            + (f" · {len(corpus.chunks):,} chunks" if corpus else "")
        )
        for slot in build.SLOTS:
            name = state.get(f"models_{slot.lower()}")
            ready = ":material/check_circle:" if build.built_index(slot) is not None else ""
            st.caption(f"{slot}: {escape_md(name) if name else '—'} {ready}")


def page_header(title: str, subtitle: str) -> None:
    """Page config, sidebar, title and a one-line purpose (call first on every page)."""
    st.set_page_config(
        page_title=f"{title} · Retrieval Compare", page_icon=":material/travel_explore:", layout="wide"
    )
    state.init()
    sidebar()
    st.title(title)
    st.caption(subtitle)


def show_error(exc: Exception) -> None:
    """Show the project's own errors as a friendly message; anything else with its type."""
    if isinstance(exc, DashboardError):
        st.error(str(exc), icon=":material/warning:")
    else:
        st.error(f"Unexpected {type(exc).__name__}: {exc}", icon=":material/bug_report:")


def lang_badge(lang: str) -> str:
    """Short language label for a chunk or query."""
    return {"zh-cn": "zh", "zh-tw": "zh-tw"}.get(lang, lang if lang != "unknown" else "?")


def status_panel() -> None:
    """Corpus / model A / model B / indexes, each with a link to the page that changes it."""
    corpus = resources.current_corpus()
    cols = st.columns(4)
    with cols[0], st.container(border=True):
        st.markdown("**Corpus**")
        if corpus is None:
            st.markdown("Nothing loaded yet.")
        else:
            loaded = sum(f.status == "loaded" for f in corpus.files)
            skipped = sum(f.status != "loaded" for f in corpus.files)
            st.markdown(f"{escape_md(corpus.name or 'corpus')}: **{len(corpus.chunks):,}** chunks")
            st.caption(f"{loaded} files loaded · {skipped} skipped")
        st.page_link(PAGES["corpus"], label="Corpus page", icon=":material/description:")
    for col, slot in zip(cols[1:3], build.SLOTS, strict=True):
        with col, st.container(border=True):
            st.markdown(f"**Model {slot}**")
            name = state.get(f"models_{slot.lower()}")
            st.markdown(escape_md(name) if name else "Not chosen yet.")
            built = build.built_index(slot)
            if built is not None:
                st.caption(f"{built.stats.dims} dims · index built")
            else:
                st.caption("no index yet")
            st.page_link(PAGES["models"], label="Models & indexes", icon=":material/model_training:")
    with cols[3], st.container(border=True):
        st.markdown("**Indexes**")
        ready = [s for s in build.SLOTS if build.built_index(s) is not None]
        if len(ready) == 2:
            st.markdown(":material/check_circle: Both built")
            st.page_link(PAGES["compare"], label="Compare results", icon=":material/compare_arrows:")
        else:
            st.markdown(f"{len(ready)} of 2 built")
            st.page_link(PAGES["models"], label="Build indexes", icon=":material/build:")


def need_corpus() -> bool:
    """Tell the user what to do when no corpus is loaded; True if one is."""
    if resources.current_corpus() is None:
        st.info(
            "No corpus loaded yet. Load the sample corpus or upload files on the Corpus page.",
            icon=":material/description:",
        )
        st.page_link(PAGES["corpus"], label="Go to the Corpus page", icon=":material/description:")
        return False
    return True


def need_indexes() -> bool:
    """Tell the user what to do when the two indexes are not built; True if both are."""
    if not need_corpus():
        return False
    if any(build.built_index(s) is None for s in build.SLOTS):
        st.info("Build both indexes first (Models & indexes page).", icon=":material/build:")
        st.page_link(PAGES["models"], label="Go to Models & indexes", icon=":material/model_training:")
        return False
    return True
