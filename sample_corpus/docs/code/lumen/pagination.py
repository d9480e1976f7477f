"""Cursor pagination helpers (游标分页) for the Lumen API.

Server side: ``encode_cursor`` / ``decode_cursor`` turn the last row's sort key into an opaque,
tamper-evident token, and ``paginate`` slices a keyset query. Client side: ``iterate_pages``
follows ``next_cursor`` until ``has_more`` is false.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_LIMIT = 100
DEFAULT_LIMIT = 20
CURSOR_TTL_SECONDS = 24 * 3600


class CursorError(ValueError):
    """Raised for a malformed, tampered or expired cursor (LMN-400-07)."""


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of results in the shape the API returns."""

    data: list[T]
    has_more: bool
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        """Serialise like the HTTP response body."""
        return {"data": self.data, "has_more": self.has_more, "next_cursor": self.next_cursor}


def clamp_limit(limit: int | None) -> int:
    """Apply the default and the 1..MAX_LIMIT bounds to a requested page size."""
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
    return min(limit, MAX_LIMIT)


def encode_cursor(sort_key: Sequence[Any], *, secret: bytes, now: float | None = None) -> str:
    """Encode the last row's (created_at, id) key as a signed, expiring cursor."""
    payload = {"k": list(sort_key), "t": int(now if now is not None else time.time())}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    mac = hmac.new(secret, raw, hashlib.sha256).digest()[:12]
    return base64.urlsafe_b64encode(mac + raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, secret: bytes, now: float | None = None) -> list[Any]:
    """Return the sort key inside ``cursor`` or raise ``CursorError``."""
    try:
        blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (ValueError, TypeError):
        raise CursorError("cursor is not valid base64; pass next_cursor unchanged") from None
    mac, raw = blob[:12], blob[12:]
    if not hmac.compare_digest(mac, hmac.new(secret, raw, hashlib.sha256).digest()[:12]):
        raise CursorError("cursor was modified; pass next_cursor unchanged")
    payload = json.loads(raw)
    age = (now if now is not None else time.time()) - payload["t"]
    if age > CURSOR_TTL_SECONDS:
        raise CursorError("cursor expired after 24 h; start again from the first page")
    return payload["k"]


def paginate(
    fetch_after: Callable[[list[Any] | None, int], list[T]],
    sort_key: Callable[[T], Sequence[Any]],
    *,
    cursor: str | None,
    limit: int | None,
    secret: bytes,
) -> Page[T]:
    """Keyset pagination: fetch ``limit + 1`` rows after the cursor to learn whether more exist."""
    size = clamp_limit(limit)
    after = decode_cursor(cursor, secret=secret) if cursor else None
    rows = fetch_after(after, size + 1)
    has_more = len(rows) > size
    rows = rows[:size]
    next_cursor = encode_cursor(sort_key(rows[-1]), secret=secret) if has_more and rows else None
    return Page(rows, has_more, next_cursor)


def iterate_pages(list_page: Callable[[str | None], dict[str, Any]]) -> Iterator[Any]:
    """Client side: yield every item of a cursor-paginated endpoint."""
    cursor: str | None = None
    while True:
        page = list_page(cursor)
        yield from page["data"]
        if not page.get("has_more"):
            return
        cursor = page["next_cursor"]
        if not cursor:
            raise CursorError("server said has_more but sent no next_cursor")


SQL_KEYSET_QUERY = """
SELECT id, title, created_at FROM documents
WHERE workspace_id = %(ws)s
  AND (%(after_ts)s IS NULL OR (created_at, id) < (%(after_ts)s, %(after_id)s))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
"""
