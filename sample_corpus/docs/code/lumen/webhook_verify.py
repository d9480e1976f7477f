"""Verify ``Lumen-Signature`` headers on incoming webhook deliveries (webhook 签名校验).

The header looks like ``t=1743585322,v1=5f2b...``. ``v1`` is hex HMAC-SHA256 over
``f"{t}.{raw_body}"`` with the endpoint's ``whsec_`` secret. During secret rotation several ``v1``
values may be present; any match is accepted. Deliveries older than the tolerance are rejected to
stop replay attacks, and event ids are remembered to drop duplicates (delivery is at-least-once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import OrderedDict
from typing import Any

DEFAULT_TOLERANCE_SECONDS = 300


class WebhookSignatureError(Exception):
    """The delivery is not authentic, is too old, or the header is malformed."""


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """Split ``t=...,v1=...[,v1=...]`` into the timestamp and candidate signatures."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise WebhookSignatureError(f"malformed Lumen-Signature header: {header[:80]!r}")
    return timestamp, signatures


def compute_signature(secret: str, timestamp: int, raw_body: bytes) -> str:
    """Hex HMAC-SHA256 of ``"{timestamp}.{raw_body}"``."""
    message = str(timestamp).encode() + b"." + raw_body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify_delivery(
    raw_body: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """Return the parsed event if the signature and timestamp are valid, else raise."""
    timestamp, candidates = parse_signature_header(header)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookSignatureError(f"timestamp {timestamp} outside the {tolerance}s tolerance (replay?)")
    expected = compute_signature(secret, timestamp, raw_body)
    if not any(hmac.compare_digest(expected, sig) for sig in candidates):
        raise WebhookSignatureError("signature mismatch: check the endpoint secret and use the raw body bytes")
    return json.loads(raw_body)


class SeenEvents:
    """Remembers recent event ids so retried deliveries are processed once."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def first_time(self, event_id: str) -> bool:
        """True the first time an id is seen, False for duplicates."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self._capacity:
            self._ids.popitem(last=False)
        return True


def handle(raw_body: bytes, header: str, secret: str, seen: SeenEvents) -> int:
    """Example Flask/FastAPI handler body: returns the HTTP status to answer with."""
    try:
        event = verify_delivery(raw_body, header, secret)
    except WebhookSignatureError:
        return 400
    if not seen.first_time(event["id"]):
        return 200  # duplicate delivery: acknowledge, do nothing
    if event["type"] == "document.failed":
        print("indexing failed:", event["data"].get("document_id"), event["data"].get("reason"))
    return 200
