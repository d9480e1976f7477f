"""Session-state keys, their defaults and typed accessors: pages read and write session state only here.

Two kinds of keys: the shared ones in DEFAULTS (small values several pages read: corpus key, model names,
settings), and page-private widget keys that start with a page prefix and an underscore (`_cmp_example`,
`_models_choice_a`), read and written through page_value / set_page_value / default_page_value.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, Literal, get_args

import streamlit as st

from core.frontier import ScaleInputs
from core.ingest import DEFAULT_CHUNKING

Slot = Literal["A", "B"]
Origin = Literal["", "sample", "upload", "beir"]
# Query sets are ids; QUERY_SET_NAMES gives the words a page shows for each.
QuerySet = Literal["sample", "history", "pseudo"]
EvalSource = Literal[
    "sample judgments",
    "pooled judgments",
    "labels from the Compare page",
    "upload qrels or a BEIR zip",
    "union",
    "generated queries",
    "LLM judgments",
]
JudgeQuerySet = Literal["sample", "history", "uploaded", "pseudo"]
QUERY_SET_NAMES: dict[str, str] = {
    "sample": "sample queries",
    "history": "this session's history",
    "uploaded": "uploaded queries",
    "pseudo": "chunks as pseudo-queries",
}
VoteReveal = Literal["after each vote", "only at the end"]
TiesRule = Literal["split", "exclude"]
EvalMode = Literal["exact", "hnsw"]

SLOTS: tuple[Slot, ...] = get_args(Slot)
QUERY_SETS: tuple[QuerySet, ...] = get_args(QuerySet)
EVAL_SOURCES: tuple[EvalSource, ...] = get_args(EvalSource)
EVAL_MODES: tuple[EvalMode, ...] = get_args(EvalMode)
JUDGE_QUERY_SETS: tuple[JudgeQuerySet, ...] = get_args(JudgeQuerySet)
VOTE_REVEALS: tuple[VoteReveal, ...] = get_args(VoteReveal)
TIES_RULES: tuple[TiesRule, ...] = get_args(TiesRule)
PAGE_PREFIXES = (
    "_home_", "_corpus_", "_models_", "_cmp_", "_mrl_", "_eval_", "_fr_", "_judge_", "_votes_", "_report_",
    "_map_", "_day1_", "_bundle_",  # the sidebar's bundle export (every page)
)  # fmt: skip

BUNDLED_PAIR = ("multilingual-e5-small", "all-MiniLM-L6-v2")
HEADLINE_A = "Qwen3-Embedding-4B"
HEADLINE_B = {"zh": "bge-base-zh-v1.5", "en": "bge-base-en-v1.5"}

# Small values only: keys, names, numbers, short lists. Models, corpora and matrices live in ui.resources.
_SCALE = ScaleInputs()
DEFAULTS: dict[str, Any] = {
    # corpus page
    "corpus_key": None,  # Corpus.sha256 of the loaded corpus (the Corpus itself is in resources.corpora())
    "corpus_origin": "",  # "sample" | "upload" | "beir"
    "corpus_unit": "chars",
    "corpus_size": DEFAULT_CHUNKING["chars"][0],
    "corpus_overlap": DEFAULT_CHUNKING["chars"][1],
    # models page
    "models_a": None,  # model name: preset, hub id, local path or endpoint:MODEL@URL
    "models_b": None,
    "models_instr_a": "",  # query instruction override (Qwen3-style models); "" = model default
    "models_instr_b": "",
    "models_max_tokens_a": 0,  # 0 = model default
    "models_max_tokens_b": 0,
    "models_device": "auto",
    "models_trust_remote_code": False,  # off unless the user ticks it (runs code shipped with a model)
    "models_hnsw_m": 16,
    "models_hnsw_efc": 200,
    "models_hnsw_ef": 128,
    "models_fallback_reason": "",  # why the headline pair is not in use, shown as a banner
    "models_byo": None,  # model B as an existing Qdrant collection: ui.byo's settings (never an API key)
    "models_held": {},  # slot -> endpoint:MODEL@URL an imported bundle named: not loaded (no key sent) until confirmed
    "models_untrusted": {},  # slot -> model an imported bundle put there: no remote code until the user chooses it
    "built_a": None,  # key into resources.indexes() for model A's built index
    "built_b": None,
    "build_stopped": None,
    "session_tried": False,  # ui.last_session: this session looked for the last session's record (once)
    "session_restored": None,  # ui.last_session.Restored: what a reload or a second tab got back
    "session_synced": None,  # what this session last wrote to the last-session record (written on change)
    "systems_chosen": [],  # spec texts of the systems built beside A and B (bm25, hybrid:A+bm25, rerank:...)
    "systems_reranker": "",  # cross-encoder for rerank systems: hub id, local folder or endpoint:MODEL@URL  # ui.build.Stopped: where the last build that did not finish stopped, what it kept
    # compare page
    "cmp_query": "",
    "cmp_k": 10,
    "cmp_system_a": None,  # the system shown in Compare's left column (None: model A)
    "cmp_system_b": None,
    "cmp_history": [],  # recent query strings, newest first
    "cmp_latency": [],  # (slot, system name, embed_ms, search_ms) tuples, capped
    "cmp_labels": {},  # corpus_key -> {query: {chunk_id: 0|1}}
    "cmp_disagree": [],  # rows of the last "where do they disagree most" run
    "cmp_queryset": "sample",
    "cmp_pseudo": 50,  # how many chunks to use as pseudo-queries in "where do they disagree most"
    "cmp_pinned": None,  # a corpus file (Chunk.source) whose best rank in both columns follows every query
    # dimensions page
    "mrl_slot": "A",
    "mrl_dims": None,
    "mrl_k": 10,
    "mrl_queryset": "sample",
    "mrl_pseudo": 200,  # how many chunks to use as pseudo-queries
    # evaluate page
    "eval_source": "sample judgments",
    "eval_mode": "exact",
    "eval_metric": "ndcg@10",
    "eval_sets": {},  # corpus_key -> name of the judged set registered in resources (BEIR upload)
    # judge and blind votes pages (query set keys: prefix "judge" or "votes")
    "judge_rater": "",  # free-text rater name, remembered for the session (judgments and votes record it)
    "judge_k": 10,  # pool depth: the union of both models' top-k
    "judge_queryset": "sample",
    "judge_pseudo": 20,
    "judge_disagree_first": False,  # order the set by the Compare page's disagreement ranking
    "judge_uploaded": None,  # {"name": file name, "queries": [texts]} of an uploaded query file
    "votes_k": 5,
    "votes_queryset": "sample",
    "votes_pseudo": 20,
    "votes_disagree_first": False,
    "votes_uploaded": None,
    "votes_reveal": "after each vote",
    "votes_ties": "split",
    # frontier page (the cost-at-scale defaults are core.frontier.measure.ScaleInputs', stated on the page)
    "fr_pseudo": 200,
    "fr_k": 10,
    "fr_hnsw": True,
    "fr_chunks": _SCALE.chunks,
    "fr_qps": _SCALE.qps,
    "fr_replicas": _SCALE.replicas,
    "fr_ram": _SCALE.usd_per_gb_month,
    "fr_gpu": _SCALE.usd_per_gpu_hour,
    "fr_disk": _SCALE.usd_per_disk_gb_month,
    "fr_cpu": _SCALE.usd_per_cpu_core_month,
    # the embedding throughput per slot (core.models.throughput): "measured" here or "declared" for target hardware
    "fr_tp_a": "measured",
    "fr_tp_b": "measured",
    "fr_tp_rate_a": 0.0,  # declared docs/s; 0 = the model's published figure (core.models.DECLARED)
    "fr_tp_rate_b": 0.0,
    "fr_tp_hw_a": "",  # declared hardware; "" = the published figure's
    "fr_tp_hw_b": "",
    # day-one verdict page: the LLM, the generated set's settings, the judge's pool depth
    "day1_llm_kind": None,  # "bundled" | "server"; None until the user chooses (opening the bundled model takes a while)
    "day1_llm_model": "",
    "day1_llm_urls": "",  # one base URL or several, comma-separated (never a key)
    "day1_n": 20,
    "day1_seed": 0,
    "day1_k": 5,
    "day1_judge_set": "generated",
    "day1_rater": None,  # the LLM judge (store rater name) Evaluate and the report read: the one last opened there
    # map page: the space shown and the selection, kept across spaces (the same chunk is selected in both)
    "map_space": "A",  # whose 2-D layout the chart shows: "A" or "B"
    "map_region": None,  # the selected region's id (core.corpus_map.Region.id)
    "map_chunk": None,  # the chunk last clicked on the chart (Chunk.id), ringed in either space
}

MAX_HISTORY = 30
MAX_LATENCY = 500


def init() -> None:
    """Once per script run (pages call it first): give missing keys their defaults and keep widget values.

    Streamlit forgets a widget's key when a page that does not show the widget runs; writing each key back
    turns it into plain session state, so the query, k and model choices survive moving between pages.
    """
    ss = st.session_state
    for key, value in DEFAULTS.items():
        if key in ss:
            ss[key] = ss[key]
        else:
            ss[key] = value.copy() if isinstance(value, (list, dict)) else value


def keep(*keys: str) -> None:
    """init()'s write-back for widgets drawn inside an ``st.fragment``: a fragment rerun does not run init(), so a
    value typed there would live only as widget state and be gone after a page change. Call before the widgets."""
    ss = st.session_state
    for key in keys:
        if key not in DEFAULTS:
            raise KeyError(f"unknown session key {key!r}")
        if key in ss:
            ss[key] = ss[key]


def get(key: str) -> Any:
    """Read a known key."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; known keys: {sorted(DEFAULTS)}")
    if key not in st.session_state:
        init()
    return st.session_state[key]


def put(key: str, value: Any) -> None:
    """Write a known key."""
    if key not in DEFAULTS:
        raise KeyError(f"unknown session key {key!r}; known keys: {sorted(DEFAULTS)}")
    st.session_state[key] = value


def remember_query(query: str) -> None:
    """Put a query at the front of this session's history (deduplicated, capped)."""
    history = [q for q in get("cmp_history") if q != query]
    put("cmp_history", [query, *history][:MAX_HISTORY])


def offered_choices(key: str, offered: list[str], default: list[str]) -> None:
    """A multiselect's value before it is drawn: what it held that is still offered, else ``default``
    (a value no longer among the options would make the widget fail)."""
    ss = st.session_state
    ss[key] = [x for x in ss[key] if x in offered] if key in ss else default


def record_latency(slot: str, system: str, embed_ms: float, search_ms: float) -> None:
    """Append one query's timings (the system the slot's column showed) for the session's p50/p95."""
    put("cmp_latency", [*get("cmp_latency"), (slot, system, embed_ms, search_ms)][-MAX_LATENCY:])


# Page-private widget state ------------------------------------------------------------------------------


def _page_key(key: str) -> str:
    if not key.startswith(PAGE_PREFIXES):
        raise KeyError(f"page-private key {key!r} must start with one of {list(PAGE_PREFIXES)}")
    return key


def page_value(key: str, default: Any = None) -> Any:
    """A page-private value (a widget's key or a page's memo), or default when it is not set."""
    return st.session_state.get(_page_key(key), default)


def set_page_value(key: str, value: Any) -> None:
    """Write a page-private value."""
    st.session_state[_page_key(key)] = value


def default_page_value(key: str, value: Any) -> Any:
    """Give a page-private widget key its first value (before the widget is drawn); returns what it holds."""
    return st.session_state.setdefault(_page_key(key), value)


def changed_since(key: str, marker: Hashable) -> bool:
    """True when marker differs from the one recorded under a page-private key (e.g. an upload's file ids)."""
    return page_value(key) != marker


# Typed accessors for the shared keys ------------------------------------------------------------------


def corpus_key() -> str | None:
    """Corpus.sha256 of the session's corpus, or None."""
    key: str | None = get("corpus_key")
    return key


def corpus_origin() -> Origin:
    """Where the session's corpus came from."""
    origin: Origin = get("corpus_origin") or ""
    return origin


def unload_corpus() -> None:
    """Forget the session's corpus and the indexes built on it (the shared registries keep them for others)."""
    put("corpus_key", None)
    put("built_a", None)
    put("built_b", None)


def model_name(slot: Slot) -> str | None:
    """The model chosen for slot A or B (preset, hub id, local path or endpoint:MODEL@URL), or None."""
    name: str | None = get(f"models_{slot.lower()}")
    return name or None


def choose_model(slot: Slot, name: str, *, from_bundle: bool = False) -> None:
    """Put a model in a slot; its old index no longer applies and the fallback banner goes.

    ``from_bundle``: an imported bundle, not the user, named it: the slot is marked untrusted (no remote code runs
    for it, whatever the Trust remote code switch says) until the user chooses a model for it on the Models page
    (this function, called there without ``from_bundle``) or allows it there (``trust_model``). A bundle naming the
    model the user already has in the slot changes nothing."""
    if name == model_name(slot):
        return
    put(f"models_{slot.lower()}", name)
    put(f"built_{slot.lower()}", None)
    put("models_fallback_reason", "")
    untrusted = {s: n for s, n in get("models_untrusted").items() if s != slot}
    put("models_untrusted", {**untrusted, slot: name} if from_bundle else untrusted)


def untrusted_model(slot: Slot) -> str | None:
    """The slot's model if an imported bundle put it there and the user has not chosen it since, else None."""
    name: str | None = get("models_untrusted").get(slot)
    return name if name and name == model_name(slot) else None


def trust_model(slot: Slot) -> None:
    """The user chose the slot's model themselves (the Models page): the Trust remote code switch applies to it."""
    put("models_untrusted", {s: n for s, n in get("models_untrusted").items() if s != slot})


def remote_code_allowed(slot: Slot) -> bool:
    """Whether loading the slot's model may run code from its repository: only when the user ticked Trust remote
    code and chose that model themselves (never for a model an imported bundle named)."""
    return bool(get("models_trust_remote_code")) and untrusted_model(slot) is None


def hold_endpoint(slot: Slot, name: str) -> None:
    """An endpoint that an imported bundle (not the user) put in a slot: nothing loads it, and no API key is sent
    to its host, until the user confirms that host (``confirm_endpoint``) or chooses another model."""
    put("models_held", {**get("models_held"), slot: name})


def held_endpoint(slot: Slot) -> str | None:
    """The slot's endpoint if a bundle named it and the user has not confirmed its host yet, else None."""
    name: str | None = get("models_held").get(slot)
    return name if name and name == model_name(slot) else None


def confirm_endpoint(slot: Slot) -> None:
    """The user confirmed the host of the slot's endpoint: it may be loaded and sent the API key."""
    put("models_held", {s: n for s, n in get("models_held").items() if s != slot})


def api_key(slot: Slot) -> str | None:
    """The API key typed for slot A/B's endpoint (this browser session only), or None."""
    key: str | None = page_value(f"_models_ep_key_{slot.lower()}") or None
    return key


def fallback_reason() -> str:
    """Why the headline pair is not in use ('' when it is, or when the user chose models)."""
    return str(get("models_fallback_reason") or "")


def cmp_query() -> str:
    """The Compare page's query, stripped."""
    return str(get("cmp_query") or "").strip()


def set_cmp_query(query: str) -> None:
    """Set the Compare page's query (a picked example, an 'Open' button)."""
    put("cmp_query", query)


def cmp_k() -> int:
    return int(get("cmp_k"))


def history() -> list[str]:
    """This session's queries, newest first."""
    return list(get("cmp_history"))


def query_set(prefix: Literal["cmp", "mrl"]) -> QuerySet:
    """The query set chosen on Compare ('cmp') or Dimensions ('mrl')."""
    chosen = get(f"{prefix}_queryset")
    return chosen if chosen in QUERY_SETS else QUERY_SETS[0]


def n_pseudo(prefix: Literal["cmp", "mrl"]) -> int:
    """How many chunks serve as pseudo-queries on Compare ('cmp') or Dimensions ('mrl')."""
    return int(get(f"{prefix}_pseudo"))


def mrl_slot() -> Slot:
    slot = get("mrl_slot")
    return slot if slot in SLOTS else "A"


def eval_source() -> EvalSource:
    source = get("eval_source")
    return source if source in EVAL_SOURCES else EVAL_SOURCES[0]


def votes_ties() -> TiesRule:
    """How the Blind votes page counts ties: split (half a win each) or excluded."""
    rule = get("votes_ties")
    return rule if rule in TIES_RULES else "split"


def eval_mode() -> EvalMode:
    mode = get("eval_mode")
    return mode if mode in EVAL_MODES else "exact"
