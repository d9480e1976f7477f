"""Model B as an existing Qdrant collection ("bring your own"): the Models page's form, card and switch.

On "Use this collection" the collection is read and checked first (core.search.qdrant_byo: vector size against the
query model, every point's text field); only then does the session change: the collection's texts become the
corpus, model B is the collection (searched in Qdrant, nothing re-embedded on that side) and model A is built
over those texts with the normal build (progress, Cancel). A wrong URL, collection, field or dimension leaves
the current corpus and indexes as they were. QDRANT_API_KEY comes from the app's environment only: the
settings kept in the session (models_byo) never hold a key.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import streamlit as st

from core.search import (
    ByoCollection,
    ModelIndex,
    QdrantError,
    QdrantTarget,
    byo_model_index,
    close,
    dropped_points,
    is_open,
)
from ui import build, index_backend, resources, state, widgets
from ui.text import escape_md

WHERE = ("Qdrant server", "Qdrant local folder")
# page-private widget keys and their first values (refilled from models_byo after a page switch)
_FORM: dict[str, str] = {
    "_models_byo_where": WHERE[0], "_models_byo_url": "", "_models_byo_path": "", "_models_byo_collection": "",
    "_models_byo_vector": "", "_models_byo_text": "text", "_models_byo_id": "chunk_id", "_models_byo_model": "",
}  # fmt: skip
_SAVED = {  # form key -> models_byo field
    "_models_byo_url": "url", "_models_byo_path": "path", "_models_byo_collection": "collection",
    "_models_byo_vector": "vector", "_models_byo_text": "text_field", "_models_byo_id": "id_field",
    "_models_byo_model": "model",
}  # fmt: skip
NOTE = "_models_byo_note"


def _fill() -> None:
    """First values of the form: the collection in use (or last used), else the defaults."""
    saved = state.get("models_byo") or {}
    for key, default in _FORM.items():
        value = saved.get(_SAVED[key], default) if key in _SAVED else default
        if key == "_models_byo_where" and saved:
            value = WHERE[1] if saved.get("path") else WHERE[0]
        if key == "_models_byo_model" and not value:
            value = state.model_name("B") or state.BUNDLED_PAIR[1]
        state.default_page_value(key, value)


def _field(key: str) -> str:
    return str(state.page_value(key) or "").strip()


def collection_from_form() -> tuple[ByoCollection, str]:
    """The collection and query model the form names; QdrantError naming the empty field otherwise."""
    server = state.page_value("_models_byo_where") != WHERE[1]
    where = _field("_models_byo_url") if server else _field("_models_byo_path")
    if not where:
        raise QdrantError("Qdrant URL: enter the server's URL (http://host:6333)." if server else
                          "Local folder: enter the folder Qdrant's local mode wrote (QdrantClient(path=...)).")  # fmt: skip
    name, model = _field("_models_byo_collection"), _field("_models_byo_model")
    if not name:
        raise QdrantError("Collection: enter the name of the collection to read.")
    if not model:
        raise QdrantError("Model that embedded the collection: enter its name (it embeds the queries for B).")
    target = QdrantTarget(url=where if server else "", path="" if server else where)
    byo = ByoCollection(target, name, vector=_field("_models_byo_vector"),
                        text_field=_field("_models_byo_text") or "text", id_field=_field("_models_byo_id"))  # fmt: skip
    return byo, model


def read(byo: ByoCollection, model: str) -> tuple[ModelIndex, float]:
    """Load the query model and read the collection (refused on a dimension mismatch); seconds it took.

    A local folder this call opened is closed again when it fails (so another process can open it)."""
    was_open = is_open(byo.target)
    settings = build.slot_settings("B")
    bar = None
    try:
        with st.spinner(f"Loading {escape_md(model)} …"):
            embedder = resources.embedder(model, device=settings["device"], max_tokens=settings["max_tokens"],
                                          api_key=state.api_key("B"),
                                          trust_remote_code=settings["trust_remote_code"])  # fmt: skip
        label = escape_md(byo.collection)
        bar = st.progress(0.0, text=f"Reading collection {label} …")

        def progress(done: int, total: int, rate: float) -> None:
            bar.progress(min(done / total, 1.0) if total else 1.0,
                         text=f"Reading collection {label}: {done:,}/{total:,} points · {rate:,.0f} points/s")  # fmt: skip

        t0 = time.perf_counter()
        mi = byo_model_index(byo, embedder, store=resources.store(), progress=progress)
        return mi, time.perf_counter() - t0
    except BaseException:  # an error, or a Cancel (Streamlit stops the run): leave the folder as it was
        if bar is not None:
            bar.empty()
        if not was_open and not byo.target.url:
            close(byo.target)
        raise


def switch(byo: ByoCollection, model: str, mi: ModelIndex, seconds: float) -> str:
    """Make the collection's texts the corpus and the collection model B; returns the note to show."""
    corpus = mi.corpus
    resources.corpora().put(corpus.sha256, corpus)
    key = build.index_key(corpus, mi.embedder.cache_key, build.index_params(), byo.key)
    resources.indexes().put(key, mi)
    if state.corpus_key() != corpus.sha256:
        state.put("built_a", None)
    state.put("corpus_key", corpus.sha256)
    state.put("corpus_origin", "upload")
    state.put("models_b", model)
    state.put("built_b", key)
    state.put("models_fallback_reason", "")
    state.put("models_byo", {
        "url": byo.target.url, "path": byo.target.path, "collection": byo.collection, "vector": byo.vector,
        "text_field": byo.text_field, "id_field": byo.id_field, "model": model, "corpus": corpus.sha256,
        "points": len(corpus.chunks), "dim": mi.dim, "seconds": round(seconds, 2),
    })  # fmt: skip
    note = (f"Corpus: {len(corpus.chunks):,} passages read from collection {byo.collection!r} in {seconds:.1f} s. "
            f"Model B is that collection, searched in Qdrant (nothing re-embedded); its queries are embedded "
            f"with {model}.")  # fmt: skip
    dropped = dropped_points(corpus)  # points with a zero or non-finite vector: left out, and said so
    if dropped:
        note += f" Left out: {dropped}"
    state.set_page_value(NOTE, note)
    return note


def use_collection() -> None:
    """Read the collection the form names; on success switch to it and build model A over its texts."""
    try:
        byo, model = collection_from_form()
        mi, seconds = read(byo, model)
    except Exception as exc:  # nothing has changed in the session
        widgets.show_error(exc)
        return
    switch(byo, model, mi, seconds)
    a = state.model_name("A")
    if a and build.built_index("A") is None:
        try:
            build.build_slot("A", mi.corpus, api_key=state.api_key("A"))
        except Exception as exc:
            widgets.show_error(exc)
            st.warning("The collection is in use as model B; model A is not built yet: fix the error above and "
                       "click Build index A.", icon=":material/build:")  # fmt: skip
            return
    st.rerun()  # the sidebar and the model cards were drawn before the switch


def form() -> None:
    """Where the collection is, which vector and payload fields, which model embedded it; 'Use this collection'."""
    active = index_backend.byo_settings()
    note = state.page_value(NOTE)
    with st.expander("Bring your own Qdrant collection as model B", icon=":material/database:",
                     expanded=bool(active or note)):  # fmt: skip
        st.caption("Compare a candidate against what runs in production: model B becomes an existing collection "
                   "(searched in Qdrant, nothing re-embedded), its texts become the corpus, and model A is built "
                   "here over them.")  # fmt: skip
        _fill()
        st.radio("Where", WHERE, key="_models_byo_where", horizontal=True)
        place, coll = st.columns([3, 2])
        if state.page_value("_models_byo_where") == WHERE[1]:
            place.text_input("Local folder", key="_models_byo_path", placeholder="/data/qdrant")
        else:
            place.text_input("Qdrant URL", key="_models_byo_url", placeholder="http://localhost:6333")
        coll.text_input("Collection", key="_models_byo_collection", placeholder="docs")
        if state.page_value("_models_byo_where") != WHERE[1]:
            index_backend.key_caption()
        vec, text, ident = st.columns(3)
        vec.text_input("Named vector ('' = unnamed)", key="_models_byo_vector", placeholder="dense")
        text.text_input("Payload text field", key="_models_byo_text")
        ident.text_input("Payload id field (missing = point id)", key="_models_byo_id")
        st.text_input("Model that embedded the collection (embeds B's queries)", key="_models_byo_model",
                      help="A preset, Hugging Face id, local folder or endpoint:MODEL@URL; its dimension must "
                           "equal the collection's.")  # fmt: skip
        go, cancel = st.columns([1, 3], vertical_alignment="center")
        clicked = go.button(
            "Use this collection", key="_models_byo_use", type="primary", icon=":material/database:"
        )
        with cancel:
            arm = build.cancel_button("_models_byo_cancel")
        if note and active:
            st.success(escape_md(note), icon=":material/check_circle:")
        if clicked:
            arm()  # Cancel is live only while the collection is read
            use_collection()


def stop() -> None:
    """Model B is a model again (the corpus stays: the collection's texts)."""
    state.put("models_byo", None)
    state.put("built_b", None)
    state.set_page_value(NOTE, None)


def card(byo: dict[str, Any]) -> None:
    """Model B's card while it is a collection: what was read, from where, and how its queries are embedded."""
    st.markdown(f"**Model B** · Qdrant collection {escape_md(repr(byo['collection']))}")
    # a caption wraps; a table cell would cut the URL or folder
    st.caption(escape_md(f"at {byo['url'] or 'local folder ' + byo['path']}"))
    facts = [
        ("named vector", byo["vector"] or "(unnamed)"), ("text field", byo["text_field"]),
        ("id field", byo["id_field"] or "(point id)"), ("points read", f"{byo['points']:,} in {byo['seconds']:.1f} s"),
        ("dimensions", f"{byo['dim']:,} (full only)"), ("queries embedded by", byo["model"]),
    ]  # fmt: skip
    st.dataframe(pd.DataFrame(facts, columns=["", "value"]), hide_index=True, width="stretch",
                 column_config={"value": st.column_config.TextColumn(width="large")})  # fmt: skip
    if build.built_index("B") is None:
        st.info("The collection's index is no longer held in this process: click Use this collection again.")
    st.button("Stop using the collection", key="_models_byo_stop", on_click=stop, icon=":material/link_off:",
              help="Model B becomes a model again (chosen above, built over the same passages).")  # fmt: skip
