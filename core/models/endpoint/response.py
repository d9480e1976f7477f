"""What an OpenAI-compatible ``/v1/embeddings`` answer must look like, and what its HTTP errors mean.

A batch is accepted only whole: as many items as texts, ``index`` values that are exactly a permutation
of the batch (or absent from every item), each embedding a non-empty list of finite JSON numbers
(booleans, strings and nulls refused) or a base64 float32 string, one length for all, no zero vector.
Anything else raises an ``EndpointError`` naming the endpoint and the texts, so nothing from a bad
batch reaches the store.
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import numpy as np

from core.errors import EndpointError
from core.models.endpoint.http import RETRY_STATUS, ServerUnavailable

BYTES_PER_NUMBER = 32  # generous: "-0.012345678901234567," is 22 bytes; room for indentation
ITEM_BYTES = 256  # {"object": "embedding", "index": 12, "embedding": [...]} and separators
ANSWER_MARGIN = 2
ANSWER_FLOOR = 1 << 20  # 1 MiB: usage blocks, long model names, pretty-printing
UNKNOWN_DIM = 8192  # assumed before the first answer when the model family does not say


class BatchTooLarge(Exception):
    """The server refused the batch size (HTTP 413 or a 'batch size' validation error)."""


class BadRequest(Exception):
    """HTTP 400/422 that is not about the model name or the batch size."""


def answer_limit(count: int, dim: int) -> int:
    """Most bytes a well-formed answer for ``count`` vectors of ``dim`` floats can need (with margin)."""
    return ANSWER_FLOOR + ANSWER_MARGIN * count * ((dim or UNKNOWN_DIM) * BYTES_PER_NUMBER + ITEM_BYTES)


def error_message(raw: bytes) -> str:
    """The human part of an OpenAI-style error body, or the raw text (also for a body too deeply nested or
    holding too long a number to read: the server's words are never trusted to parse)."""
    text = raw.decode("utf-8", "replace")
    try:
        obj = json.loads(text)
        if isinstance(obj, dict):
            err = obj.get("error", obj)
            if isinstance(err, dict):
                return str(err.get("message") or err.get("detail") or err)
            if isinstance(err, str):
                return err
            if "detail" in obj:
                return str(obj["detail"])
    except (RecursionError, ValueError):  # ValueError: JSONDecodeError, or an integer of > 4300 digits
        return text
    return text


def path_hint(base: str) -> str:
    """What to try when a base URL's endpoint is not there (HTTP 404): the base URL is used as given, so a
    server that lives under /v1 needs it in the URL, and one that serves at its root must not have it."""
    path = urllib.parse.urlsplit(base).path.rstrip("/")
    root = base.rstrip("/")
    if not path:
        return (
            f"the base URL {base!r} is used as given; try adding /v1 ({root}/v1): vLLM, TEI, Ollama and "
            "llama.cpp serve their OpenAI-compatible API under /v1 (Infinity serves it at the root by default)."
        )
    if path.endswith("/v1"):
        return (
            f"the base URL {base!r} is used as given; try it without /v1 ({root.removesuffix('/v1')}): "
            "Infinity serves /embeddings and /rerank at its root unless started with --url-prefix /v1."
        )
    return (
        f"check the base URL {base!r}, which is used as given: OpenAI-compatible servers answer at "
        "scheme://host:port/v1 (vLLM, TEI, Ollama, llama.cpp) or at the root (Infinity's default)."
    )


_MODEL_WORDS = ("not found", "does not exist", "unknown", "not exist", "no such", "invalid model")


def status_error(
    status: int,
    message: str,
    *,
    url: str,
    base: str,
    model_id: str,
    key_sent: bool,
    attempts: int,
    served_models: Callable[[], list[str]],
) -> Exception:
    """The exception for an HTTP error answer: an EndpointError with the fix (ServerUnavailable for a
    5xx/429 that persisted), or BatchTooLarge/BadRequest."""
    low, where = message.lower(), f"The endpoint {url}"
    if status in (401, 403):
        sent = "a key was sent" if key_sent else "no key was sent"
        return EndpointError(
            f"{where} refused the request (HTTP {status}, {sent}): check the API key in "
            f"EMBEDDING_API_KEY / OPENAI_API_KEY or the key field. Server said: {message!r}"
        )
    if status == 413 or "batch size" in low or "too many inputs" in low:
        return BatchTooLarge(message)
    about_model = "model" in low and any(w in low for w in _MODEL_WORDS)
    if status == 404 and not about_model:
        return EndpointError(f"{where} does not exist (HTTP 404): {path_hint(base)}")
    if about_model:
        served = served_models()
        hint = f" The server lists: {served}." if served else ""
        return EndpointError(
            f"{where} does not serve the model {model_id!r} (HTTP {status}).{hint} "
            "Use the exact model name the server was started with."
        )
    if status in (400, 422):
        return BadRequest(f"{where} rejected the request (HTTP {status}): {message!r}.")
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    text = (
        f"{where} failed with HTTP {status}{tail}: {message!r}. Check the server logs; "
        "retry later or lower the batch size / concurrency."
    )
    if status in RETRY_STATUS:  # overloaded or broken for now: another server of a pool may answer
        return ServerUnavailable(text, f"HTTP {status}")
    return EndpointError(text)


def _index(item: Any) -> Any:
    return item.get("index") if isinstance(item, dict) else None


def _ordered(data: list[Any], expected: int) -> list[Any]:
    """The items in input order: by their ``index`` values, which must be a permutation of 0..n-1."""
    indices = [_index(d) for d in data]
    if all(i is None for i in indices):
        return data  # some servers omit every index: keep the answer's order
    if not all(type(i) is int for i in indices):
        bad = next(i for i in indices if type(i) is not int)
        raise ValueError(f"an 'index' is {bad!r}, not an integer")
    if sorted(indices) != list(range(expected)):
        found = {
            "duplicates": sorted({i for i in indices if indices.count(i) > 1}),
            "out of range": sorted(i for i in indices if not 0 <= i < expected),
            "missing": sorted(set(range(expected)) - set(indices)),
        }
        what = "; ".join(f"{k} {v}" for k, v in found.items() if v)
        raise ValueError(f"the 'index' values are not a permutation of the batch ({what})")
    by_index = dict(zip(indices, data, strict=True))
    return [by_index[i] for i in range(expected)]


def _row(item: Any) -> list[float] | np.ndarray:
    value = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(value, str):  # encoding_format=base64 answers
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a base64 embedding does not decode") from None
        if not raw or len(raw) % 4:
            raise ValueError(f"a base64 embedding has {len(raw)} bytes, not a multiple of 4")
        return np.frombuffer(raw, dtype="<f4")
    if not isinstance(value, list) or not value:
        raise ValueError(f"an embedding is {type(value).__name__}, not a non-empty list of numbers")
    kinds = set(map(type, value))
    if not kinds <= {float, int}:
        bad = sorted(k.__name__ for k in kinds - {float, int})
        raise ValueError(f"an embedding holds {', '.join(bad)} values, not only numbers")
    return value


def vectors_from(
    obj: dict[str, Any], expected: int, *, where: str, offset: int, snippet: Callable[[], str]
) -> np.ndarray:
    """The (expected, dim) float32 matrix of a validated answer, in input order; EndpointError otherwise."""
    texts = f"texts #{offset}..#{offset + expected - 1}"
    data = obj.get("data")
    if not isinstance(data, list):
        raise EndpointError(
            f"{where} answered without a 'data' list ({snippet()!r}): "
            "check that the base URL points at an OpenAI-compatible embeddings API."
        )
    if len(data) != expected:
        raise EndpointError(
            f"{where} returned {len(data)} embeddings for {expected} texts ({texts}): "
            "the server may truncate batches; lower the batch size."
        )
    try:
        rows = [_row(d) for d in _ordered(data, expected)]
        lengths = sorted({len(r) for r in rows})
        if len(lengths) != 1:
            raise ValueError(f"vectors of different lengths {lengths} in one answer")
        with np.errstate(over="ignore"):
            vecs = np.asarray(rows, dtype=np.float32).reshape(expected, lengths[0])
    except (TypeError, ValueError, OverflowError) as e:
        raise EndpointError(
            f"{where} returned malformed embeddings for {texts} ({e}): the whole batch was refused; "
            "check the server version and encoding_format."
        ) from None
    bad = ~np.isfinite(vecs).all(axis=1)
    if bad.any():
        first = int(np.flatnonzero(bad)[0]) + offset
        raise EndpointError(
            f"{where} returned NaN or inf values for {int(bad.sum())} text(s) (first: text #{first}): "
            "the server's model is numerically broken (fp16 overflow, bad quantisation); try another "
            "dtype/quantisation or check the server logs."
        )
    zero = np.linalg.norm(vecs, axis=1) == 0
    if zero.any():
        raise EndpointError(
            f"{where} returned an all-zero vector for text #{int(np.flatnonzero(zero)[0]) + offset}: check "
            "that the text is not empty after the server's truncation and that pooling is configured."
        )
    return vecs
