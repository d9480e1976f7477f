"""A small HTTP client for the Lumen API with retries, backoff and jitter.

Retries are safe only when repeating the request cannot do harm: GET/HEAD/DELETE always, POST only
with an ``Idempotency-Key``. The client retries connection errors and the statuses 429, 502, 503
and 504, honours ``Retry-After``, and otherwise waits ``base * 2**attempt`` seconds with "full
jitter" (a uniform random fraction of that), capped at ``max_delay``. 失败请求的重试采用指数退避加随机
抖动，避免大量客户端同时重试造成"重试风暴"。
"""

from __future__ import annotations

import json
import logging
import random
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("lumen.retry_client")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "PUT"})


class LumenHTTPError(Exception):
    """A non-retryable API error, or a retryable one after all attempts were used."""

    def __init__(self, status: int, code: str, message: str, request_id: str = "") -> None:
        super().__init__(f"{status} {code}: {message} (request_id={request_id or 'n/a'})")
        self.status = status
        self.code = code
        self.request_id = request_id


@dataclass
class RetryPolicy:
    """How many times and how long to wait between attempts."""

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Seconds to sleep before retry number ``attempt`` (0-based)."""
        if retry_after:
            try:
                return min(self.max_delay, float(retry_after))
            except ValueError:
                pass  # HTTP-date form: fall back to backoff
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(0, ceiling)


@dataclass
class LumenClient:
    """Minimal JSON client: ``client.request("POST", "/search", {"query": "..."})``."""

    api_key: str
    base_url: str = "https://api.lumen.example.com/v2"
    timeout: float = 30.0
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Any = time.sleep

    def request(self, method: str, path: str, body: dict | None = None, *, idempotency_key: str | None = None) -> dict:
        """Send one API call, retrying transient failures according to ``policy``."""
        method = method.upper()
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            idempotency_key = idempotency_key or str(uuid.uuid4())
            headers["Idempotency-Key"] = idempotency_key
        retryable_method = method in IDEMPOTENT_METHODS or idempotency_key is not None

        attempt = 0
        while True:
            req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310
                    return json.load(resp)
            except urllib.error.HTTPError as err:
                payload = _error_payload(err)
                retry = err.code in RETRY_STATUSES and retryable_method and attempt < self.policy.max_retries
                if not retry:
                    raise LumenHTTPError(err.code, payload.get("code", "unknown"), payload.get("message", ""),
                                         err.headers.get("X-Request-Id", "")) from None
                wait = self.policy.delay(attempt, err.headers.get("Retry-After"))
                log.warning("%s %s -> %s %s, retry %d in %.2fs", method, path, err.code,
                            payload.get("code"), attempt + 1, wait)
            except (urllib.error.URLError, TimeoutError) as err:
                if not retryable_method or attempt >= self.policy.max_retries:
                    raise
                wait = self.policy.delay(attempt, None)
                log.warning("%s %s network error %s, retry %d in %.2fs", method, path, err, attempt + 1, wait)
            self.sleep(wait)
            attempt += 1


def _error_payload(err: urllib.error.HTTPError) -> dict[str, str]:
    try:
        return json.loads(err.read() or b"{}").get("error", {})
    except (ValueError, AttributeError):
        return {}


if __name__ == "__main__":
    policy = RetryPolicy(rng=random.Random(7))
    print("backoff schedule:", [round(policy.delay(i, None), 2) for i in range(6)])
