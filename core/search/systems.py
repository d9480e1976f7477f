"""A retrieval system: anything that turns query texts into ranked chunk lists of one corpus.

Dense models (``core.search.engine.ModelIndex``), BM25 (``core.search.lexical``), fusion of two systems
(``core.search.fusion``) and a system re-scored by a cross-encoder (``core.search.rerank``) all answer the
same calls, so Compare, Evaluate, Judge, the report and the CLI treat them alike.

Spec strings, one grammar everywhere (CLI ``--system``, the Models page):

- a model name or spec as ``--model`` takes it (dense);
- ``bm25``;
- ``hybrid:X+Y`` (reciprocal rank fusion, k = 60) or ``hybrid:X+Y@w`` (convex combination, weight w on X);
- ``rerank:X+R`` (the top 50 of X re-scored by cross-encoder R; ``rerank:X+R@N`` for another depth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from core.types import Corpus, SearchParams, SearchResult


@runtime_checkable
class System(Protocol):
    """What every retrieval system offers.

    ``search_many`` returns one SearchResult per query; its ``embed_ms`` is the query-side work (encoding,
    tokenising), ``search_ms`` the lookup, and ``extra`` carries further stages in ms ("fusion_ms",
    "rerank_ms"). ``params.dims``/``exact``/``ef`` apply to dense stages only; others ignore them.
    """

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...  # "dense" | "bm25" | "hybrid" | "rerank"

    @property
    def corpus(self) -> Corpus: ...

    @property
    def index_bytes(self) -> int: ...

    @property
    def build_seconds(self) -> float: ...

    def search_many(
        self, queries: Sequence[str], params: SearchParams = SearchParams()
    ) -> list[SearchResult]: ...


KIND_LABELS = {"dense": "dense model", "bm25": "BM25 (lexical)", "hybrid": "hybrid (fusion)", "rerank": "reranked"}
RRF_K = 60
RERANK_DEPTH = 50


@dataclass(frozen=True)
class SystemSpec:
    """A parsed system spec string (see the module docstring for the grammar)."""

    kind: str  # "dense" | "bm25" | "hybrid" | "rerank"
    text: str  # the spec as written (the system's name)
    model: str = ""  # dense: the model name or spec; rerank: the reranker
    parts: tuple[SystemSpec, ...] = ()  # hybrid: the two fused systems; rerank: the first stage
    weight: float | None = None  # hybrid: convex weight on the first system; None = reciprocal rank fusion
    depth: int = RERANK_DEPTH  # rerank: how many of the first stage's hits are re-scored

    @property
    def dense_models(self) -> tuple[str, ...]:
        """Every dense model this system needs built, in order, without repeats."""
        if self.kind == "dense":
            return (self.model,)
        seen: dict[str, None] = {}
        for p in self.parts:
            seen.update(dict.fromkeys(p.dense_models))
        return tuple(seen)


def _fix(text: str) -> str:
    return (
        f"{text!r} is not a system: write a model name, 'bm25', 'hybrid:X+Y' (reciprocal rank fusion), "
        "'hybrid:X+Y@0.7' (convex, weight 0.7 on X) or 'rerank:X+RERANKER' ('@N' re-scores the top N, default 50)"
    )


def _split_tail(text: str, *, kind: type) -> tuple[str, float | int | None]:
    """'X@0.5' -> ('X', 0.5) when the tail after the last '@' is a number of ``kind``; else (text, None).

    Endpoint specs carry '@URL', which is never a number, so they are left whole.
    """
    head, sep, tail = text.rpartition("@")
    if not sep:
        return text, None
    try:
        value = kind(tail)
    except ValueError:
        return text, None
    return head, value


def parse_system(text: str) -> SystemSpec:
    """Parse a system spec; a ValueError names the spec and the forms that are accepted."""
    raw = text.strip() if isinstance(text, str) else ""
    if not raw:
        raise ValueError(_fix(text))
    low = raw.lower()
    if low == "bm25":
        return SystemSpec(kind="bm25", text="bm25")
    if low.startswith("hybrid:"):
        body, weight = _split_tail(raw[len("hybrid:") :], kind=float)
        x, plus, y = body.rpartition("+")
        if not plus or not x.strip() or not y.strip():
            raise ValueError(_fix(text))
        if weight is not None and not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"{text!r}: the hybrid weight after '@' must be between 0 and 1, got {weight}")
        parts = (parse_system(x), parse_system(y))
        if any(p.kind in ("hybrid", "rerank") for p in parts):
            raise ValueError(
                f"{text!r}: a hybrid fuses two plain systems (a model or bm25), not another hybrid or rerank"
            )
        return SystemSpec(
            kind="hybrid", text=raw, parts=parts, weight=None if weight is None else float(weight)
        )
    if low.startswith("rerank:"):
        body, depth = _split_tail(raw[len("rerank:") :], kind=int)
        x, plus, r = body.rpartition("+")
        if not plus or not x.strip() or not r.strip():
            raise ValueError(_fix(text))
        if depth is not None and not 1 <= int(depth) <= 1000:
            raise ValueError(f"{text!r}: the rerank depth after '@' must be between 1 and 1000, got {depth}")
        first = parse_system(x)
        if first.kind == "rerank":
            raise ValueError(f"{text!r}: a reranked system cannot be reranked again")
        return SystemSpec(
            kind="rerank", text=raw, model=r.strip(), parts=(first,), depth=int(depth or RERANK_DEPTH)
        )
    if "+" in raw and ":" not in raw.split("+")[0]:
        raise ValueError(_fix(text))
    return SystemSpec(kind="dense", text=raw, model=raw)
