"""Home: what the dashboard answers, one click to a working demo, and the status of every step."""

import time

import streamlit as st

from ui import build, state, widgets
from ui.corpus import load_sample
from ui.state import BUNDLED_PAIR


def intro() -> None:
    """What the dashboard answers and the five steps, in order."""
    st.markdown(
        "Upload your corpus (PDF, Markdown, text, source code, zip or BEIR `corpus.jsonl`), embed it with two "
        "models — headline pair **Qwen3-Embedding-4B vs BAAI/bge-base** — and see every query's two ranked "
        "lists side by side with scores, latency and agreement. The **Dimensions** page shows how much "
        "retrieval Qwen3 keeps when its Matryoshka embeddings are cut from 2560 down to 32 dims."
    )
    st.markdown(
        "1. **Corpus** — upload files or use the sample knowledge base (zh + en).\n"
        "2. **Models & indexes** — pick model A and B, see the cost estimate, build.\n"
        "3. **Compare** — ask queries, see where the models disagree, label results.\n"
        "4. **Dimensions** — recall against full-dimension results as dims shrink.\n"
        "5. **Evaluate** — nDCG / MRR / Recall with a significance test on judged queries.\n"
        "6. **Frontier** — what each configuration costs: dims x precision x index, bytes and latency."
    )


def quick_start() -> None:
    """One button: the sample corpus and both indexes with the bundled offline pair."""
    st.markdown("#### Quick start")
    st.markdown(
        f"Loads the sample corpus and builds both indexes with the bundled offline pair "
        f"(`{BUNDLED_PAIR[0]}` vs `{BUNDLED_PAIR[1]}`): works without a GPU or the Hugging Face Hub."
    )
    if st.button("Load sample corpus and build", type="primary", width="stretch", key="home_quick"):
        started = time.perf_counter()
        try:
            corpus = load_sample()
            for slot, name in zip(build.SLOTS, BUNDLED_PAIR, strict=True):
                state.choose_model(slot, name)
            state.put("models_fallback_reason", build.headline_problem(corpus))
            for slot in build.SLOTS:
                build.build_slot(slot, corpus)
        except Exception as exc:  # shown to the user, never swallowed
            widgets.show_error(exc)
            return
        message = f"Ready in {time.perf_counter() - started:.1f} s: {len(corpus.chunks):,} chunks, both indexes built."
        state.set_page_value("_home_ready", (corpus.sha256, message))
        st.rerun()  # so the sidebar, drawn before the build, shows the corpus and both models
    ready = state.page_value("_home_ready")
    if ready and ready[0] == state.corpus_key() and all(build.built_index(s) for s in build.SLOTS):
        st.success(ready[1])
        st.page_link(
            widgets.PAGES["compare"], label="Compare the two models now", icon=":material/compare_arrows:"
        )


def render() -> None:
    widgets.page_header(
        "Retrieval Compare",
        "Which embedding model should we ship, and at what cost? Two models, your documents, side by side.",
    )
    left, right = st.columns([3, 2], gap="large")
    with left:
        intro()
    with right, st.container(border=True):
        quick_start()
    st.subheader("Status")
    widgets.status_panel()


render()
