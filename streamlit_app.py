"""Home: what the dashboard answers, a quick start in seconds (precomputed sample bundle), and the status."""

from pathlib import Path

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
    """Import a session bundle made by this app (any page's sidebar, the Models page, or `bundle export`): an upload
    up to the server's upload limit, or a file on this machine of any size the store can hold (read from disk)."""
    limit_mb = int(st.get_option("server.maxUploadSize"))
    upload = st.file_uploader(
        "Import a session bundle (.zip)",
        type=["zip"],
        key="_home_bundle_upload",
        help="Made with 'Prepare bundle' in the sidebar or on the Models page, or `python -m core.cli bundle "
        f"export`: the corpus and both models' vectors, so nothing is embedded here. Uploads up to {limit_mb:,} MB "
        "(server.maxUploadSize in .streamlit/config.toml; a 100k-chunk bundle of two 384-dim models is about "
        "300 MB): for a larger bundle, set RETRIEVAL_COMPARE_BUNDLE_DIR to a folder on the server and import it from "
        "there by path.",
    )
    allowed = bundle.bundle_dir()
    typed = (
        st.text_input(
            f"or a bundle path in {allowed}",
            key="_home_bundle_path",
            placeholder=str(allowed / "corpus-bundle.zip"),
            help="A bundle file in the folder this server allows (RETRIEVAL_COMPARE_BUNDLE_DIR), of any size the "
            "store can hold: read from disk, never uploaded, and checked as an upload is (sizes, checksums, vectors, "
            "models).",
        )
        if allowed is not None
        else ""
    )
    if st.button("Import from this path", key="_home_bundle_path_import", disabled=not typed.strip()):
        try:
            path = bundle.bundle_path(typed)
            done = bundle.import_bundle(path, source=path.name)
        except Exception as exc:  # a refused bundle leaves the session as it was
            widgets.show_error(exc)
            return
        state.set_page_value("_home_ready", done)
        st.rerun()
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
    source = upload.getvalue() if upload is not None else bundle.typed_bundle(typed)
    confirmed = bundle.pending_panel(
        source,
        upload.name if upload is not None else source.name if isinstance(source, Path) else "",
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
