"""The build's index backend: in-process hnswlib (default) or Qdrant, by server URL or local folder.

The Qdrant key is never typed here: it comes from the QDRANT_API_KEY environment variable of the app.
qdrant-client itself is imported only when Qdrant is used (core.search.qdrant; it takes seconds to import).
"""

from __future__ import annotations

import os
from typing import Literal, get_args

import streamlit as st

from core.dims import parse_dims
from core.search import API_KEY_ENV, IndexBackend, QdrantBackend, QdrantError, QdrantTarget
from ui import state

Choice = Literal["hnswlib (in process)", "Qdrant server", "Qdrant local folder"]
CHOICES: tuple[Choice, ...] = get_args(Choice)


# Page-private widget keys; the plain copy under _SAVED is the truth (widget keys do not outlive a page change):
# each widget's on_change copies its new value there, and each run writes it back into the widget key first.
_WIDGETS: dict[str, str] = {
    "_models_index_backend": CHOICES[0], "_models_qdrant_url": "", "_models_qdrant_path": "", "_models_qdrant_dims": "",
}  # fmt: skip
_SAVED = "_models_backend_saved"


def _value(key: str) -> str:
    saved = state.page_value(_SAVED) or {}
    return str(saved.get(key, _WIDGETS[key]) or "")


def _remember(key: str) -> None:
    saved = dict(state.page_value(_SAVED) or {})
    saved[key] = state.page_value(key, _WIDGETS[key])
    state.set_page_value(_SAVED, saved)


def _restore(key: str) -> dict:
    """Give the widget its remembered value before it is drawn; the widget's own keyword arguments."""
    state.set_page_value(key, _value(key))
    return {"key": key, "on_change": _remember, "args": (key,)}


def settings() -> None:
    """The backend radio and, for Qdrant, where it is and which Matryoshka dims to upload."""
    st.radio("Index backend", CHOICES, horizontal=True, **_restore("_models_index_backend"),
             help="hnswlib keeps the indexes in this process (fastest while they fit in memory). Qdrant keeps "
                  "them in a Qdrant server or cluster, or in a local folder (Qdrant's local mode).")  # fmt: skip
    choice = _value("_models_index_backend")
    if choice == CHOICES[0]:
        return
    c = st.columns([3, 2])
    if choice == "Qdrant server":
        c[0].text_input("Qdrant URL", placeholder="http://localhost:6333", **_restore("_models_qdrant_url"))
        key_caption()
    else:
        c[0].text_input("Local folder", placeholder="/data/qdrant", **_restore("_models_qdrant_path"))
    c[1].text_input("Matryoshka dims to upload", placeholder="64,256", **_restore("_models_qdrant_dims"),
                    help="Extra named vectors; a search at these dims prefetches a shortlist with them and "
                         "rescores it with the full vector. Other dims are uploaded on first use.")  # fmt: skip


def key_caption() -> None:
    """Whether QDRANT_API_KEY is set (never its value): the key comes from the app's environment only."""
    key_set = bool(os.environ.get(API_KEY_ENV))
    st.caption((f"{API_KEY_ENV} is set in the app's environment and will be sent." if key_set else
                f"No {API_KEY_ENV} in the app's environment: fine for a server without a key.")
               + " The key is read from the environment only, never typed or stored here.")  # fmt: skip


def byo_settings() -> dict | None:
    """Model B's own Qdrant collection (ui.byo's settings) while the current corpus is the one read from it."""
    byo = state.get("models_byo")
    return byo if isinstance(byo, dict) and byo.get("corpus") == state.corpus_key() else None


def slot_label(slot: str) -> str | None:
    """What the sidebar calls a slot whose index is an existing collection (None: the model's name)."""
    byo = byo_settings() if slot == "B" else None
    return f"Qdrant collection {byo['collection']!r} (queries: {byo['model']})" if byo else None


def _dims(text: str) -> tuple[int, ...]:
    try:
        return parse_dims(text, field="Matryoshka dims to upload")
    except ValueError as exc:
        raise QdrantError(str(exc)) from None


def backend() -> IndexBackend | None:
    """None for hnswlib; a QdrantBackend for the chosen server or folder (QdrantError when one is missing)."""
    choice = _value("_models_index_backend")
    if choice == CHOICES[0]:
        return None
    url = _value("_models_qdrant_url").strip() if choice == "Qdrant server" else ""
    path = _value("_models_qdrant_path").strip() if choice != "Qdrant server" else ""
    if not (url or path):
        raise QdrantError(f"{choice}: enter its {'URL' if choice == 'Qdrant server' else 'folder'} in "
                          "'Device and index parameters', or choose hnswlib.")  # fmt: skip
    dims = _dims(_value("_models_qdrant_dims"))
    return QdrantBackend(QdrantTarget(url=url, path=path, mrl_dims=dims))


def backend_key() -> str:
    """What distinguishes builds on different backends in the index registry ('' for hnswlib)."""
    b = backend()
    return "" if b is None else str(getattr(getattr(b, "target", None), "key", b.kind))
