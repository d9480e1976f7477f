"""Home: what the dashboard answers, a quick start in seconds (precomputed sample bundle), and the status."""

import streamlit as st

from ui import bundle, pair, resources, state, widgets
from ui.state import BUNDLED_PAIR


def intro() -> None:
    """What the dashboard answers and the steps, in order (no promise the running models cannot keep)."""
    st.markdown(
        "Upload your corpus (PDF, Markdown, text, source code, zip or BEIR `corpus.jsonl`), embed it with two "
        "models and see every query's two ranked lists side by side, with scores, latency and agreement."
    )
    st.markdown(
        "1. **Corpus** — upload files or use the sample knowledge base (zh + en).\n"
        "2. **Models & indexes** — pick model A and B, see the cost estimate, build.\n"
        "3. **Compare** — ask queries, see where the models disagree, label results.\n"
        "4. **Dimensions** — how much retrieval survives when embeddings are cut to fewer dims.\n"
        "5. **Evaluate** — nDCG / MRR / Recall with a significance test on judged queries.\n"
        "6. **Frontier** — what each configuration costs: dims x precision x index, bytes and latency.\n"
        "7. **Judge** — grade both models' pooled results 0 / 1 / 2 without knowing which model found them.\n"
        "8. **Blind votes** — which of two unnamed top-k lists is better, one query at a time.\n"
        "9. **Report** — the decision report (one HTML file or Markdown): the answer, quality, cost, latency.\n"
        "10. **Map** — where on the corpus each model wins: the chunks in 2-D by region, the queries on top."
    )


def running_note() -> None:
    """Two lines: which pair runs and why, then the one action that gets the headline pair."""
    corpus = resources.current_corpus()
    a, b = state.model_name("A"), state.model_name("B")
    notice = pair.fallback_notice(corpus, (a, b) if a and b else BUNDLED_PAIR)
    if notice:
        st.info(f"{notice[0]}  \n{notice[1]}", icon=":material/info:")


def quick_start() -> None:
    """One button: the sample corpus and both indexes from the shipped bundle (embeddings precomputed)."""
    st.markdown("#### Quick start")
    st.markdown(
        f"The sample knowledge base with the bundled pair ({BUNDLED_PAIR[0]} vs {BUNDLED_PAIR[1]}), embeddings "
        "precomputed: ready in seconds, no GPU or Hugging Face Hub needed."
    )
    if st.button("Load the sample corpus", type="primary", width="stretch", key="home_quick"):
        try:
            done = bundle.import_sample()
        except Exception as exc:  # shown to the user, never swallowed
            widgets.show_error(exc)
            return
        state.set_page_value("_home_ready", done)
        st.rerun()  # so the sidebar, drawn before the import, shows the corpus and both models
    if bundle.ready_panel("home", show_error=widgets.show_error):
        st.page_link(
            widgets.PAGES["compare"], label="Compare the two models now", icon=":material/compare_arrows:"
        )


def import_box() -> None:
    """Upload a session bundle made by this app (any page's sidebar, the Models page, or `bundle export`)."""
    upload = st.file_uploader(
        "Import a session bundle (.zip)",
        type=["zip"],
        key="_home_bundle_upload",
        help="Made with 'Prepare bundle' in the sidebar or on the Models page, or `python -m core.cli bundle "
        "export`: the corpus and both models' vectors, so nothing is embedded here.",
    )
    if upload is not None and state.changed_since("_home_bundle_marker", upload.file_id):
        state.set_page_value("_home_bundle_marker", upload.file_id)
        try:
            done = bundle.import_bundle(upload.getvalue(), source=upload.name)
        except Exception as exc:  # a refused bundle leaves the session as it was
            widgets.show_error(exc)
            return
        state.set_page_value("_home_ready", done)
        st.rerun()
    # a bundle's endpoint waits until the user confirms its host; the confirm imports the same file again
    confirmed = bundle.pending_panel(
        upload.getvalue() if upload is not None else None,
        upload.name if upload is not None else "",
        show_error=widgets.show_error,
    )
    if confirmed is not None:
        state.set_page_value("_home_ready", confirmed)
        st.rerun()


def render() -> None:
    widgets.page_header(
        "Retrieval Compare",
        "Which embedding model should we ship, and at what cost? Two models, your documents, side by side.",
    )
    running_note()
    left, right = st.columns([3, 2], gap="large")
    with left:
        intro()
    with right, st.container(border=True):
        quick_start()
        import_box()
    st.subheader("Status")
    widgets.status_panel()


render()
