"""A served reranker: ``/rerank`` as Infinity, vLLM and Cohere-style APIs serve it, TEI's own ``/rerank``, and
vLLM's ``/score``, over the embedding endpoints' hardened transport (``core.models.endpoint.http``: one
deadline per request, bounded bodies, no redirects, the key sent only to the base URL's host).

The base URL is used as given (``http://host:7997`` -> ``http://host:7997/rerank``, Infinity's default;
``http://host:8000/v1`` -> ``.../v1/rerank``, vLLM). The shapes, per API:

- ``rerank``: ``{"model", "query", "documents"}`` -> ``{"results": [{"index", "relevance_score"}, ...]}``, best
  first (Infinity, vLLM ``/rerank`` ``/v1/rerank``, Cohere, Jina); extra fields (``document``, ``usage``) ignored.
- ``tei``: ``{"query", "texts"}`` -> ``[{"index", "score"}, ...]`` (text-embeddings-inference's ``/rerank``).
- ``score``: ``{"model", "text_1": query, "text_2": documents}`` -> ``{"data": [{"index", "score"}, ...]}``
  (vLLM's ``/score``).

An answer is accepted only whole: one finite score for every document and every index exactly once, so a
server that cuts the list (``top_n``), repeats or invents an index is an ``EndpointError`` naming the URL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from core.errors import EndpointError
from core.models.endpoint.client import resolve_api_key
from core.models.endpoint.http import HttpStatusError, JsonHttp, Secret
from core.models.endpoint.response import BadRequest, BatchTooLarge, error_message, status_error
from core.models.endpoint.spec import split_base_url

RERANK_APIS = ("rerank", "tei", "score")
_PATHS = {"rerank": "/rerank", "tei": "/rerank", "score": "/score"}
ANSWER_FLOOR = 1 << 20  # 1 MiB: ids, usage, model names
ITEM_BYTES = 256  # {"index": 12, "relevance_score": 0.123456789, "object": "score"} and separators


def answer_limit(documents: Sequence[str]) -> int:
    """Most bytes a well-formed answer can need: some servers echo each document back (vLLM does)."""
    echoed = sum(len(d.encode("utf-8")) for d in documents)
    return ANSWER_FLOOR + 2 * echoed + ITEM_BYTES * len(documents)


def _number(value: Any) -> float | None:
    if type(value) not in (int, float):  # bool, str and None are not scores
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def scores_from(answer: Any, count: int, *, api: str, url: str) -> list[float]:
    """The scores of a validated answer, in the documents' order; EndpointError otherwise."""
    field, key = {"rerank": ("results", "relevance_score"), "tei": ("", "score"), "score": ("data", "score")}[
        api
    ]
    items = answer if api == "tei" else (answer.get(field) if isinstance(answer, dict) else None)
    if not isinstance(items, list):
        what = "a JSON array" if api == "tei" else f"a '{field}' list"
        raise EndpointError(
            f"The reranker {url} answered without {what}: check the api setting (rerank for Infinity, vLLM and "
            "Cohere-style servers, tei for text-embeddings-inference, score for vLLM's /score) and the base URL."
        )
    if len(items) != count:
        raise EndpointError(
            f"The reranker {url} returned {len(items)} scores for {count} documents: the whole answer was refused; "
            "check that the server does not cut the list (top_n) and that its batch limit is not lower."
        )
    scores: list[float | None] = [None] * count
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        value = _number(item.get(key)) if isinstance(item, dict) else None
        if type(index) is not int or not 0 <= index < count or scores[index] is not None:
            raise EndpointError(
                f"The reranker {url} returned index {index!r} for {count} documents (each of 0..{count - 1} must "
                "appear exactly once): the whole answer was refused; check the server version."
            )
        if value is None:
            raise EndpointError(
                f"The reranker {url} returned {item.get(key)!r} as the '{key}' of document #{index}, not a finite "
                "number: the server's model is broken (fp16 overflow) or it answers another API; check the api "
                "setting and the server logs."
            )
        scores[index] = value
    return [float(s) for s in scores if s is not None]


class ServedReranker:
    """A reranker behind an HTTP API (see the module docstring for the APIs and their shapes)."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api: str = "rerank",
        api_key: str | None = None,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.5,
        batch_size: int = 32,
    ) -> None:
        if api not in RERANK_APIS:
            raise EndpointError(f"Reranker api {api!r} is unknown: use one of {list(RERANK_APIS)}.")
        if not timeout > 0 or retries < 0 or backoff < 0 or int(batch_size) < 1:
            raise EndpointError(
                f"timeout={timeout}, retries={retries}, backoff={backoff}, batch_size={batch_size} are invalid for "
                f"the reranker at {base_url}: use timeout > 0 s, retries >= 0, backoff >= 0, batch_size >= 1."
            )
        self.model = (model or "").strip()
        if not self.model:
            raise EndpointError(
                f"No model name given for the reranker at {base_url!r}: use the name the server serves."
            )
        self.base, self.host = split_base_url(base_url)
        self.api, self.batch_size = api, int(batch_size)  # TEI refuses more than 32 texts by default
        self.url = self.base + _PATHS[api]
        key = resolve_api_key(api_key)  # the argument, else $EMBEDDING_API_KEY, else $OPENAI_API_KEY
        self._http = JsonHttp(
            self.base, Secret(key), timeout=float(timeout), retries=int(retries), backoff=backoff
        )
        self._key_sent = bool(key)
        self.calls = 0

    @property
    def name(self) -> str:
        return f"{self.model} @ {self.host}"

    def __repr__(self) -> str:
        return f"ServedReranker(model={self.model!r}, url={self.url!r}, api={self.api!r})"

    def close(self) -> None:
        self._http.close()

    def _payload(self, query: str, documents: list[str]) -> dict[str, Any]:
        if self.api == "tei":
            return {"query": query, "texts": documents, "raw_scores": False, "return_text": False}
        if self.api == "score":
            return {"model": self.model, "text_1": query, "text_2": documents}
        return {"model": self.model, "query": query, "documents": documents, "return_documents": False}

    def _post(self, query: str, documents: list[str]) -> list[float]:
        self.calls += 1
        try:
            answer = self._http.post_json(
                _PATHS[self.api],
                self._payload(query, documents),
                max_bytes=answer_limit(documents),
                array_ok=True,
            )
        except HttpStatusError as e:
            raise status_error(
                e.status,
                self._http.snippet(error_message(e.body)),
                url=self.url,
                base=self.base,
                model_id=self.model,
                key_sent=self._key_sent,
                attempts=e.attempts,
                served_models=lambda: [],
            ) from None
        return scores_from(answer, len(documents), api=self.api, url=self.url)

    def score(self, query: str, documents: Sequence[str]) -> list[float]:
        """One score per document, in the documents' order; batches of ``batch_size``, halved when refused."""
        docs, out, start = list(documents), [], 0
        while start < len(docs):
            batch = docs[start : start + self.batch_size]
            try:
                out += self._post(query, batch)
            except BatchTooLarge as e:
                if self.batch_size == 1:
                    raise EndpointError(f"The reranker {self.url} refused even one document: {e}") from None
                self.batch_size = max(1, self.batch_size // 2)
                continue
            except BadRequest as e:
                raise EndpointError(e.args[0]) from None
            start += len(batch)
        return out
