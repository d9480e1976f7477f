"""Report: the decision report (one self-contained HTML file, or Markdown) with a preview."""

import streamlit as st

from ui import report as rep
from ui import widgets
from ui.text import escape_md

SUBTITLE = (
    "One file to send to stakeholders: the answer in words, corpus, models, quality, where they differ, where on "
    "the corpus each model wins, cost, latency and how to reproduce it. Self-contained HTML (no script, nothing "
    "loaded from any host) or Markdown."
)


def downloads(built: rep.Built, inp: rep.Inputs) -> None:
    c1, c2, _ = st.columns([2, 2, 3])
    c1.download_button(
        "Download report (HTML)",
        built.html,
        rep.file_name(inp, "html"),
        mime="text/html",
        type="primary",
        icon=":material/download:",
        key="_report_dl_html",
        width="stretch",
    )
    c2.download_button(
        "Download Markdown",
        built.markdown,
        rep.file_name(inp, "md"),
        mime="text/markdown",
        icon=":material/article:",
        key="_report_dl_md",
        width="stretch",
    )


def render() -> None:
    widgets.page_header("Report", SUBTITLE)
    if widgets.indexed_corpus() is None:
        return
    inp = rep.inputs()
    if inp is None:
        return
    if inp.qrels:
        st.caption(escape_md(f"Quality rests on {len(inp.qrels)} judged queries: {inp.source}."))
    else:
        st.caption(
            "No judgments for this corpus yet: the report will say so instead of naming a winner "
            "(judge queries on the Judge page)."
        )
    found = rep.built(inp)
    go = st.button(
        "Build report",
        type="primary" if found is None else "secondary",
        icon=":material/summarize:",
        key="_report_build",
    )
    if found is None and not go:
        st.info(
            "Click **Build report** to measure everything the report holds: both models on the judged queries, "
            "the frontier sweep and single-query latency (a minute or two on the sample corpus on 2 CPU cores).",
            icon=":material/summarize:",
        )
        return
    if found is None:
        try:
            with st.spinner("Measuring and writing the report …"):
                found = rep.build_files(inp)
        except Exception as exc:
            widgets.show_error(exc)
            return
    answer = found.report.answer
    (st.success if answer.decided else st.warning)(escape_md(answer.text))
    downloads(found, inp)
    st.subheader("Preview")
    # inert HTML: no script, all user text escaped, and its own CSP (default-src 'none') forbids scripts and loads
    st.iframe(found.html, height=900)


render()
