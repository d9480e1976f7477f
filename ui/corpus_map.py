"""Map page glue: the corpus map of the two built models (core.corpus_map), memoised by content, and its queries.

The queries and judgments are the report's (ui.report.judged_set: the sample's or BEIR set's qrels, else the
judgment store, else Compare thumbs); without judgments the map takes this session's Compare history. A query
is placed at a chunk, so both models' runs here rank chunks (exact search at full dimension, top 100; Evaluate's
runs rank files on the sample corpus, whose qrels name files); their query vectors are the per-text memo every
page shares (ui.resources.query_vectors), so no query is embedded twice. The map itself is memoised per (corpus, both models' vectors, seed, queries,
judgments) in the process-wide memo; its 2-D layouts are also kept in the embedding store (core.corpus_map).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core.corpus_map import CorpusMap, build_map
from core.evaluation import Qrels, Run, run_retrieval
from core.judging import query_id
from core.search import ModelIndex
from core.types import Corpus
from ui import build, resources, state, widgets
from ui import compare as cmp
from ui.state import Slot

MOVED_K = 10  # core.corpus_map.moved_most's neighbours per chunk (its default)
SEED = 0  # one seed for the layout and the clustering: the same corpus and models give the same map
RUN_K = 100  # as Evaluate's runs


@dataclass(frozen=True)
class MapQueries:
    """The queries drawn on the map, their judgments (empty: decided by overlap) and both models' runs."""

    queries: dict[str, str]
    qrels: Qrels
    source: str  # in words: where the queries (and judgments) come from
    run_a: Run | None = None
    run_b: Run | None = None

    @property
    def judged(self) -> bool:
        return bool(self.qrels)


def _digest(obj: object) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def both_indexes() -> tuple[ModelIndex, ModelIndex] | None:
    """Model A's and model B's built indexes, or None while either is missing."""
    a, b = build.built_index("A"), build.built_index("B")
    return (a, b) if a is not None and b is not None else None


def history_queries() -> dict[str, str]:
    """This session's Compare queries under the judgment store's ids (oldest first)."""
    return {query_id(t): t for t in reversed(state.history()) if t.strip()}


def run_side(mi: ModelIndex, queries: dict[str, str], *, instruction: str | None) -> Run:
    """One model's top chunks per query (exact, full dimension); query vectors from the shared per-text memo."""

    def embed(texts: list[str]) -> np.ndarray:
        return resources.query_vectors(mi, texts, instruction=instruction)

    return run_retrieval(
        mi,
        queries,
        k=min(RUN_K, len(mi.corpus.chunks)),
        exact=True,
        doc_id="id",
        instruction=instruction,
        embed=embed,
    )


def chunk_runs(corpus: Corpus, queries: dict[str, str]) -> tuple[Run, Run]:
    """Both models' top-100 chunks per query (exact search, full dimension), memoised by indexes and queries."""
    pair = both_indexes()
    if pair is None:
        return {}, {}
    key = ("map-runs", state.get("built_a"), state.get("built_b"), _digest(queries))

    def compute() -> tuple[Run, Run]:
        runs = [
            run_side(mi, queries, instruction=cmp.instruction(slot))
            for slot, mi in zip(("A", "B"), pair, strict=True)
        ]
        return runs[0], runs[1]

    found: tuple[Run, Run] = resources.memo(key, compute)
    return found


def map_queries(corpus: Corpus, queries: dict[str, str], qrels: Qrels, source: str) -> MapQueries:
    """The judged set when there is one (Evaluate's runs), else this session's Compare history (unjudged runs),
    else no queries at all (the map still shows the chunks, regions and what moved)."""
    if qrels and queries:
        run_a, run_b = chunk_runs(corpus, queries)
        return MapQueries(dict(queries), dict(qrels), source, run_a, run_b)
    typed = history_queries()
    if typed:
        run_a, run_b = chunk_runs(corpus, typed)
        return MapQueries(typed, {}, "this session's Compare queries (not judged)", run_a, run_b)
    return MapQueries({}, {}, "")


def map_key(corpus: Corpus, pair: tuple[ModelIndex, ModelIndex], found: MapQueries, seed: int) -> tuple:
    """What one map depends on: the corpus, both models' vectors, the seed, the queries and their judgments."""
    return (
        "corpus-map",
        corpus.sha256,
        pair[0].vectors_sha,
        pair[1].vectors_sha,
        seed,
        _digest(found.queries),
        _digest(found.qrels),
    )


def cached_map(
    corpus: Corpus, pair: tuple[ModelIndex, ModelIndex], found: MapQueries, seed: int = SEED
) -> CorpusMap | None:
    """The map if it was already computed in this process (computes nothing)."""
    got: CorpusMap | None = resources.memo_get(map_key(corpus, pair, found, seed))
    return got


def corpus_map(
    corpus: Corpus, pair: tuple[ModelIndex, ModelIndex], found: MapQueries, seed: int = SEED
) -> CorpusMap:
    """core.corpus_map.build_map on both models' stored vectors, once per content key (layouts on disk too)."""
    a, b = pair

    def compute() -> CorpusMap:
        return build_map(
            corpus,
            np.asarray(a.vectors),
            np.asarray(b.vectors),
            model_a=a.spec.name,
            model_b=b.spec.name,
            runs_a=found.run_a,
            runs_b=found.run_b,
            qrels=found.qrels or None,
            queries=found.queries or None,
            seed=seed,
            store=resources.store(),
        )

    got: CorpusMap = resources.memo(map_key(corpus, pair, found, seed), compute)
    return got


# Session state: which space is shown, which region and chunk are selected ----------------------------------


def space() -> Slot:
    """Whose 2-D layout the chart shows: model A's or model B's."""
    chosen = state.get("map_space")
    return "B" if chosen == "B" else "A"


def selected_region(cmap: CorpusMap) -> int | None:
    """The selected region's id (the first region when none is, or when the stored one is not on this map)."""
    ids = [r.id for r in cmap.regions]
    chosen = state.get("map_region")
    if chosen not in ids:
        chosen = ids[0] if ids else None
        state.put("map_region", chosen)
    return int(chosen) if chosen is not None else None


def pick_from_chart(selection: object, region_of: dict[str, int]) -> None:
    """A chunk clicked on the chart (a new click only): it becomes the selected chunk in both spaces, and its
    region the selected region."""
    picked = _picked_chunk(selection)
    if not state.changed_since("_map_pick_marker", picked):
        return
    state.set_page_value("_map_pick_marker", picked)
    if picked is None:
        return
    state.put("map_chunk", picked)
    if picked in region_of:
        state.put("map_region", region_of[picked])


def _picked_chunk(selection: object) -> str | None:
    """The chunk id of st.altair_chart's selection state ({"selection": {"pick": [{"chunk": id}]}})."""
    try:
        found = selection["selection"]["pick"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    if isinstance(found, list) and found and isinstance(found[0], dict):
        chunk = found[0].get("chunk")
        return str(chunk) if chunk is not None else None
    return None


def open_in_compare(query: str) -> None:
    """Put the query in Compare's query box and go there (Compare searches it as it opens)."""
    state.set_cmp_query(query)
    st.switch_page(widgets.PAGES["compare"])
