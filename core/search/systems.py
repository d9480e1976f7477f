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

    def search_many(self, queries: Sequence[str], params: SearchParams = SearchParams()) -> list[SearchResult]: ...
