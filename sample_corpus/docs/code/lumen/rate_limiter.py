"""Token-bucket rate limiter (令牌桶限流) used in front of the Lumen search API.

A bucket holds up to ``capacity`` tokens and refills at ``rate`` tokens per second. Each request
takes one token; when the bucket is empty the caller is told how long to wait, which becomes the
``Retry-After`` header of a ``429 LMN-429-01`` response. Buckets are kept per API key (or per
tenant id from a JWT), so one noisy client cannot slow down the others.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

PLAN_LIMITS: dict[str, tuple[float, int]] = {
    # plan: (requests per second, burst capacity)
    "free": (10.0, 20),
    "team": (50.0, 100),
    "business": (200.0, 400),
}


@dataclass
class Decision:
    """Outcome of one ``acquire`` call, with the values for the X-RateLimit-* headers."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float  # seconds; 0 when allowed
    reset_at: float  # unix time at which the bucket is full again

    def headers(self) -> dict[str, str]:
        """HTTP headers describing this decision."""
        out = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(self.reset_at)),
        }
        if not self.allowed:
            out["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return out


class TokenBucket:
    """A single thread-safe token bucket."""

    def __init__(self, rate: float, capacity: int, *, clock=time.monotonic) -> None:
        if rate <= 0 or capacity <= 0:
            raise ValueError(f"rate and capacity must be positive, got rate={rate}, capacity={capacity}")
        self.rate = rate
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
        self._updated = now

    def acquire(self, cost: float = 1.0) -> Decision:
        """Take ``cost`` tokens if available; never blocks."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            wall = time.time()
            if self._tokens >= cost:
                self._tokens -= cost
                allowed, wait = True, 0.0
            else:
                allowed, wait = False, (cost - self._tokens) / self.rate
            to_full = (self.capacity - self._tokens) / self.rate
            return Decision(allowed, self.capacity, int(self._tokens), wait, wall + to_full)


class KeyedRateLimiter:
    """One bucket per key, with an LRU bound so idle keys do not leak memory."""

    def __init__(self, *, plan_of: dict[str, str] | None = None, max_keys: int = 100_000) -> None:
        self._plan_of = plan_of or {}
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def _bucket(self, key: str) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                plan = self._plan_of.get(key, "free")
                if plan not in PLAN_LIMITS:
                    raise ValueError(f"unknown plan {plan!r}; choose one of {sorted(PLAN_LIMITS)}")
                rate, burst = PLAN_LIMITS[plan]
                bucket = TokenBucket(rate, burst)
                self._buckets[key] = bucket
                if len(self._buckets) > self._max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            return bucket

    def check(self, key: str, cost: float = 1.0) -> Decision:
        """Rate-limit one request for ``key`` (an API key or tenant id)."""
        return self._bucket(key).acquire(cost)


def too_many_requests_body(key_prefix: str, decision: Decision) -> dict:
    """The JSON body Lumen returns with a 429 response."""
    return {
        "error": {
            "code": "LMN-429-01",
            "message": f"Rate limit exceeded for key {key_prefix} ({decision.limit} burst); "
            f"retry after {decision.headers().get('Retry-After', '1')} s",
        }
    }


if __name__ == "__main__":
    limiter = KeyedRateLimiter(plan_of={"lk_test_demo": "free"})
    results = [limiter.check("lk_test_demo").allowed for _ in range(25)]
    print(f"allowed {sum(results)} of {len(results)} back-to-back requests (burst 20)")
