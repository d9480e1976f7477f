"""Systems beside the two models (BM25, hybrid, reranked), built on the session's corpus; no widgets here.

A and B stay the two dense models the Models page builds; every other system is a spec
(``core.search.systems``) built on top of them and kept in the process memo by (corpus, built A, built B,
spec), so a rerun or another session with the same indexes reuses it. BM25 is built once per corpus.
"""

from __future__ import annotations

from core.build import build_system
from core.errors import DashboardError
from core.models import load_reranker
from core.search import Reranker, System, parse_system
from core.types import Corpus
from ui import build, resources, state


def offered() -> list[str]:
    """The specs the Models page offers: BM25, each built model fused with BM25, and a reranker over each model."""
    names = [mi.name for slot in build.SLOTS if (mi := build.built_index(slot)) is not None]
    out = ["bm25", *(f"hybrid:{n}+bm25" for n in dict.fromkeys(names))]
    reranker = (state.get("systems_reranker") or "").strip()
    if reranker:
        out += [f"rerank:{n}+{reranker}" for n in dict.fromkeys(names)]
    return out


def _dense(name: str) -> System:
    for slot in build.SLOTS:
        mi = build.built_index(slot)
        if mi is not None and name in (mi.name, state.model_name(slot)):
            return mi
    raise DashboardError(
        f"{name} is not built on this corpus: build it as model A or B on this page first, then this system."
    )


def _reranker(name: str) -> Reranker:
    return resources.memo(("reranker", name), lambda: load_reranker(name))


def _key(corpus: Corpus, spec: str) -> tuple[object, ...]:
    return ("system", corpus.sha256, state.get("built_a"), state.get("built_b"), parse_system(spec).text)


def build_one(corpus: Corpus, spec: str) -> System:
    """Build (or reuse) the system ``spec`` on ``corpus`` and remember it as chosen for this session."""
    text = parse_system(spec).text
    system = resources.memo(
        _key(corpus, text),
        lambda: build_system(text, corpus, dense=_dense, reranker=_reranker, cache=_bm25_cache(corpus)),
    )
    chosen = list(state.get("systems_chosen"))
    if text not in chosen:
        state.put("systems_chosen", [*chosen, text])
    return system


def _bm25_cache(corpus: Corpus) -> dict[str, System]:
    """One BM25 index per corpus, shared by every system that uses it."""
    cache: dict[str, System] = resources.memo(("bm25-cache", corpus.sha256), dict)
    return cache


def forget(spec: str) -> None:
    """Drop a system from the session's list (its index stays in the memo for others)."""
    state.put("systems_chosen", [s for s in state.get("systems_chosen") if s != spec])


def extras(corpus: Corpus | None) -> dict[str, System]:
    """The session's built systems beyond A and B, by name, on the current A and B."""
    return resolved(corpus)[0]


def resolved(corpus: Corpus | None) -> tuple[dict[str, System], dict[str, str]]:
    """(the session's systems by name, {spec: why it cannot be built now}).

    A system chosen earlier is rebuilt on the current models when they change (BM25 and fusion cost well under a
    second; a reranker is loaded once); one whose model is no longer built is reported, never dropped in silence.
    """
    if corpus is None:
        return {}, {}
    out: dict[str, System] = {}
    missing: dict[str, str] = {}
    for spec in state.get("systems_chosen"):
        found = resources.memo_get(_key(corpus, spec))
        if found is None:
            try:
                found = build_one(corpus, spec)
            except (DashboardError, ValueError) as exc:
                missing[spec] = str(exc)
                continue
        out.setdefault(found.name, found)
    return out, missing


def every(corpus: Corpus | None) -> dict[str, System]:
    """Model A, model B and the extra systems, by name: what Compare's columns and the leaderboard choose from."""
    out: dict[str, System] = {}
    for slot in build.SLOTS:
        mi = build.built_index(slot)
        if mi is not None:
            out.setdefault(mi.name, mi)
    out.update({k: v for k, v in extras(corpus).items() if k not in out})
    return out
