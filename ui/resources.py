"""Process-wide resources (models, corpora, built indexes) held in st.cache_resource, never in session state.

Everything here is content-addressed (corpus sha256, embedder cache key, index parameters), so sharing
between sessions is correct: two users with the same corpus and model share one index.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import numpy as np
import streamlit as st

from core.errors import EndpointError
from core.ingest import token_counts
from core.models import calibrate, load_embedder, load_tokenizer, resolve_model
from core.models.endpoint import EndpointEmbedder, is_endpoint_name
from core.store import EmbeddingStore
from core.types import Corpus, Embedder, ModelSpec
from ui import state

if TYPE_CHECKING:
    from core.models import Calibration
    from core.search import ModelIndex

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_corpus"

V = TypeVar("V")


class Registry(Generic[V]):
    """A small thread-safe LRU map; get_or_create runs the factory at most once per key at a time."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[Hashable, threading.Lock] = {}
        self.capacity = capacity

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def get_or_create(self, key: Hashable, factory: Callable[[], V]) -> V:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            found = self.get(key)
            if found is None:
                found = factory()
                self.put(key, found)
            return found

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._items

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


def store() -> EmbeddingStore:
    """The on-disk embedding store (RETRIEVAL_COMPARE_STORE, read on every call, or the user cache dir)."""
    return _store(os.environ.get("RETRIEVAL_COMPARE_STORE", ""))


@st.cache_resource(show_spinner=False)
def _store(root: str) -> EmbeddingStore:
    return EmbeddingStore(Path(root) if root else None)


@st.cache_resource(show_spinner=False)
def corpora() -> Registry[Corpus]:
    """Loaded corpora by Corpus.sha256."""
    return Registry(capacity=8)


@st.cache_resource(show_spinner=False)
def indexes() -> Registry[ModelIndex]:
    """Built ModelIndex objects by (corpus sha256, embedder cache key, index params)."""
    return Registry(capacity=12)


_KEY_SALT = os.urandom(16)


def _key_id(api_key: str | None) -> str:
    """A per-process salted fingerprint of an API key (registry keys never hold the key itself)."""
    return hmac.new(_KEY_SALT, (api_key or "").encode("utf-8"), hashlib.sha256).hexdigest()[:32]


@st.cache_resource(show_spinner=False)
def _embedders() -> Registry[Embedder]:
    return Registry(capacity=4)


def model_spec(name: str) -> ModelSpec:
    """A slot's choice (preset, hub id, folder, endpoint:MODEL@URL) resolved once into the value everything uses."""
    return memo(("spec", name), lambda: resolve_model(name))


def embedder(
    name: str,
    *,
    device: str = "auto",
    max_tokens: int | None = None,
    api_key: str | None = None,
    trust_remote_code: bool = False,
) -> Embedder:
    """A loaded model shared by all sessions; an endpoint client is per API key (salted fingerprint, never the key)."""
    key: tuple = (name, device, max_tokens, trust_remote_code)
    if is_endpoint_name(name):  # an endpoint client carries its session's API key: never share it
        key += (_key_id(api_key),)

    def factory() -> Embedder:
        return load_embedder(
            model_spec(name),
            device=device,
            max_tokens=max_tokens,
            api_key=api_key,
            trust_remote_code=trust_remote_code,
        )

    return _embedders().get_or_create(key, factory)


def endpoint_embedder(name: str, *, api_key: str | None = None) -> EndpointEmbedder:
    """The endpoint client of an ``endpoint:`` choice (for Test connection); an EndpointError for any other model."""
    emb = embedder(name, api_key=api_key)
    if not isinstance(emb, EndpointEmbedder):
        raise EndpointError(f"{name!r} is not an endpoint model: Test connection needs endpoint:MODEL@URL.")
    return emb


def loaded_embedder(
    name: str, *, device: str = "auto", max_tokens: int | None = None, trust_remote_code: bool = False
) -> Embedder | None:
    """The embedder if it is already loaded, without loading it."""
    return _embedders().get((name, device, max_tokens, trust_remote_code))


def current_corpus() -> Corpus | None:
    """The corpus this session has loaded, if it is still held."""
    key = state.corpus_key()
    return corpora().get(key) if key else None


@st.cache_resource(show_spinner=False)
def _calibrations() -> Registry[Calibration]:
    return Registry(capacity=16)


def calibration(
    name: str, *, device: str, max_tokens: int | None, trust_remote_code: bool = False, texts: list[str]
) -> Calibration | None:
    """A warm-up measurement of an already loaded model on this device, taken once per process."""
    emb = loaded_embedder(name, device=device, max_tokens=max_tokens, trust_remote_code=trust_remote_code)
    if emb is None:
        return None
    return _calibrations().get_or_create(  # keyed as the embedder is: remote code can make another model
        (name, device, max_tokens, trust_remote_code), lambda: calibrate(emb, texts, device=emb.device)
    )


@st.cache_resource(show_spinner=False)
def _memo() -> Registry[Any]:
    return Registry(capacity=256)


def memo(key: Hashable, factory: Callable[[], V]) -> V:
    """Process-wide memo for small derived values keyed by content (e.g. token counts per corpus and model)."""
    return _memo().get_or_create(key, factory)


def chunk_token_counts(corpus: Corpus, name: str) -> list[int]:
    """Tokens per chunk for a model's tokenizer (character estimate when the tokenizer is unavailable)."""
    return memo(
        ("tokens", corpus.sha256, name), lambda: token_counts(corpus, load_tokenizer(model_spec(name)))
    )


def memo_get(key: Hashable) -> Any:
    """A memoised value if present (None otherwise), without computing it."""
    return _memo().get(key)


@st.cache_resource(show_spinner=False)
def _query_vectors() -> Registry[np.ndarray]:
    return Registry(capacity=4096)


def _qkey(mi: ModelIndex, instruction: str | None, text: str) -> Hashable:
    return ("qvec", mi.embedder.cache_key, instruction, text)


def missing_query_vectors(mi: ModelIndex, texts: Sequence[str], *, instruction: str | None) -> int:
    """How many of ``texts`` query_vectors would embed now (0: every vector is held)."""
    reg = _query_vectors()
    return sum(_qkey(mi, instruction, t) not in reg for t in dict.fromkeys(texts))


def query_vectors(mi: ModelIndex, texts: Sequence[str], *, instruction: str | None) -> np.ndarray:
    """Full-dim query vectors of ``mi``'s model, each text embedded once per process (model, instruction, text).

    Dimensions, Frontier, Judge pooling and Blind votes ask for the same sample queries: the first page
    embeds them (one batch of the texts not held yet), the others reuse the vectors.
    """
    reg = _query_vectors()
    got: dict[str, np.ndarray] = {}
    missing = []
    for t in dict.fromkeys(texts):
        v = reg.get(_qkey(mi, instruction, t))
        if v is None:
            missing.append(t)
        else:
            got[t] = v
    if missing:
        for t, v in zip(missing, mi.embed_queries(missing, instruction=instruction), strict=True):
            v = v.copy()
            v.setflags(write=False)
            reg.put(_qkey(mi, instruction, t), v)
            got[t] = v
    if not texts:
        return np.zeros((0, mi.dim), dtype=np.float32)
    return np.stack([got[t] for t in texts])
