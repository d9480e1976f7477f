"""Building any retrieval system from its spec string: dense models through the one build path, BM25, fusion, rerank.

Callers (the CLI, the Models page, the report) say how a dense model is built and how a reranker is loaded;
this module turns a spec (``core.search.systems.parse_system``) into a ready ``System``. One BM25 index per
corpus is shared by every system that uses it (``cache``).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping

from core.search import Bm25Index, HybridSystem, Reranker, RerankSystem, System, SystemSpec, parse_system
from core.types import Corpus

DenseBuilder = Callable[[str], System]  # model name or spec -> its built index on the corpus
RerankerLoader = Callable[[str], Reranker]


def build_system(
    spec: SystemSpec | str,
    corpus: Corpus,
    *,
    dense: DenseBuilder,
    reranker: RerankerLoader | None = None,
    cache: MutableMapping[str, System] | None = None,
) -> System:
    """The system ``spec`` describes, on ``corpus``.

    Args:
        spec: A parsed spec or its text (``bm25``, ``hybrid:X+Y[@w]``, ``rerank:X+R[@N]`` or a model).
        corpus: The chunks every part searches.
        dense: Builds (or returns the already built) dense model index for a model name.
        reranker: Loads a cross-encoder by name; needed only for ``rerank:`` systems.
        cache: Systems built so far, by spec text (BM25 is built once and shared).

    Raises:
        ValueError: the spec is malformed (the message lists the accepted forms).
        DashboardError: a part cannot be built (its own message says why).
    """
    parsed = parse_system(spec) if isinstance(spec, str) else spec
    memo: MutableMapping[str, System] = {} if cache is None else cache
    found = memo.get(parsed.text)
    if found is not None and found.corpus.sha256 == corpus.sha256:
        return found

    def part(p: SystemSpec) -> System:
        return build_system(p, corpus, dense=dense, reranker=reranker, cache=memo)

    system: System
    if parsed.kind == "dense":
        system = dense(parsed.model)
    elif parsed.kind == "bm25":
        system = Bm25Index(corpus)
    elif parsed.kind == "hybrid":
        a, b = (part(p) for p in parsed.parts)
        if parsed.weight is None:
            system = HybridSystem(a, b, method="rrf")
        else:
            system = HybridSystem(a, b, method="convex", weight=parsed.weight)
    else:
        if reranker is None:
            raise ValueError(f"{parsed.text!r}: reranking needs a reranker loader; this caller offers none")
        system = RerankSystem(part(parsed.parts[0]), reranker(parsed.model), depth=parsed.depth)
    memo[parsed.text] = system
    return system
