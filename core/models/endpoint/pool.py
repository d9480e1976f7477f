"""Spreading an endpoint model's batches over its servers: one base URL, or a pool of replicas.

Each server has its own connections (one httpx client), its own pacing (``core.models.endpoint.batches``:
measured speed, batch size, requests in flight) and its own health. The loop hands the next batch to
the next server with room, so a faster server serves more; in a pool a busy server queues no more
than ``QUEUE_S`` seconds of work, so the last batches go to whichever server frees first. A server that gives no usable answer
(connection refused or dropped, a 5xx/429 answer, a timeout) is taken out of rotation for a back-off
period that doubles with each failure in a row (``BACKOFF_FIRST`` s, twice that, ... at most
``BACKOFF_MAX`` s) and its batch goes to another server; when every server is resting, the loop waits
for the first to come back (probing it on the transport's ``backoff`` schedule), and a batch that
failed on ``retries`` + number-of-servers attempts is an error. With one server nothing rests: its transport retries, and what still fails is the error, as
for any single endpoint. Answers that are wrong rather than missing (another vector size, malformed
vectors, a refused key) stop the run with an error naming the server: a pool never mixes in vectors
from a server that serves something else. Results are put back in input order, so a pool and a single
server give the same matrix.
"""

from __future__ import annotations

import itertools
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import EndpointError
from core.models.endpoint.batches import AdaptiveBatches, Notes
from core.models.endpoint.http import JsonHttp, ServerUnavailable, TransientAnswerError, seconds_text
from core.models.endpoint.response import BatchTooLarge
from core.types import Progress

BACKOFF_FIRST = 2.0  # seconds out of rotation after a first failure in a row
BACKOFF_MAX = 60.0
QUEUE_S = 2.0  # in a pool, work a busy server may have queued (seconds at its speed): the rest waits
# for whichever server frees first, so a slow server does not hoard batches a fast one could take


@dataclass(frozen=True)
class ServerStats:
    """What one server of an endpoint model has done so far (``EndpointEmbedder.server_stats``)."""

    url: str  # base URL
    texts: int  # texts it embedded (documents and queries)
    requests: int  # requests sent to it (failed ones included)
    failures: int  # requests that got no usable answer (moved to another server or retried)
    texts_per_s: float  # texts over the seconds the embedder spent embedding: the pool's rate adds up
    in_rotation: bool  # False while it rests after a failure
    back_in_s: float  # seconds until it is tried again (0 when in rotation)
    last_error: str  # short reason of its last failure ("" if none)


class Server:
    """One base URL of an endpoint model: its connections, pacing and health."""

    def __init__(self, base: str, http: JsonHttp, pace: AdaptiveBatches) -> None:
        self.base, self.http, self.pace = base, http, pace
        self.rest_until = 0.0  # time.monotonic() before which it gets no batch
        self.strikes = 0  # failures in a row
        self.texts = self.requests = self.failures = 0
        self.last_error = ""

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "http"}  # the owner reconnects

    @property
    def url(self) -> str:
        return self.pace.url

    def resting(self, now: float) -> bool:
        return now < self.rest_until

    def failed(self, reason: str) -> None:
        """Count a request that got no usable answer."""
        self.failures += 1
        self.last_error = reason

    def rest(self, now: float) -> float:
        """Take the server out of rotation, once per outage; the seconds it rests (0: it already does)."""
        if self.resting(now):
            return 0.0  # another batch in flight failed with it: one outage, one back-off step
        self.strikes += 1
        seconds = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.strikes - 1))
        self.rest_until = now + seconds
        return seconds

    def stats(self, active_s: float) -> ServerStats:
        left = max(0.0, self.rest_until - time.monotonic())
        rate = self.texts / active_s if active_s > 0 else 0.0
        return ServerStats(
            self.base, self.texts, self.requests, self.failures, rate, left == 0.0, left, self.last_error
        )


def server_summary(stats: Sequence[ServerStats]) -> str:
    """One line for a progress bar or log: texts/s per server of a pool ('' for a single server).

    e.g. ``gpu1:8000 41.2/s, gpu2:8000 0.0/s (out of rotation for 4 s: connection refused)``
    """
    if len(stats) < 2:
        return ""
    parts = []
    for s in stats:
        where = urllib.parse.urlsplit(s.url).netloc or s.url
        rest = "" if s.in_rotation else f" (out of rotation for {s.back_in_s:.0f} s: {s.last_error})"
        parts.append(f"{where} {s.texts_per_s:.1f}/s{rest}")
    return ", ".join(parts)


@dataclass
class _Sent:
    offset: int
    count: int
    tries: int  # failed attempts of this span (or of the batch it was split from) so far
    server: Server
    generation: int  # the server's settings generation when it was sent
    at: float  # time.perf_counter() when it was sent
    since: float  # time.perf_counter() when its texts were first sent (before any split or failover)


_Span = tuple[int, int, int, float]  # (offset, count, failed attempts, first sent at)


def spread(
    servers: list[Server],
    sizes: list[int],
    embed: Callable[[Server, int, int], np.ndarray],
    progress: Progress | None,
    *,
    notes: Notes,
    retries: int,
    backoff: float,
) -> np.ndarray:
    """``embed(server, offset, count)`` over texts of ``sizes`` characters, concatenated in input order."""
    n, ends = len(sizes), list(itertools.accumulate(sizes, initial=0))
    pooled = len(servers) > 1
    max_tries = retries + len(servers)
    results: dict[int, np.ndarray] = {}
    retry: deque[_Span] = deque()  # halves of split batches and batches of failed servers go first
    pending: dict[Future[np.ndarray], _Sent] = {}
    cursor = done = turn = outage = 0
    start = time.perf_counter()
    pool = ThreadPoolExecutor(max_workers=sum(s.pace.concurrency for s in servers))

    def weight(offset: int, count: int) -> int:
        return ends[offset + count] - ends[offset]

    def place() -> bool:
        """Send the next batch to the next server with room; False when none has room."""
        nonlocal cursor, turn
        now = time.monotonic()
        for k in range(len(servers)):
            srv = servers[(turn + k) % len(servers)]
            mine = [p for p in pending.values() if p.server is srv]
            if srv.resting(now) or len(mine) >= srv.pace.concurrency:
                continue
            first = time.perf_counter()
            offset, count, tries, since = (
                retry[0] if retry else (cursor, srv.pace.cut(ends, cursor, n), 0, first)
            )
            budget = srv.pace.budget()
            busy = sum(weight(p.offset, p.count) for p in mine)
            if mine and (not budget or busy + weight(offset, count) > budget):
                continue  # this server has enough to do for now
            if pooled and mine and busy + weight(offset, count) > (srv.pace.rate or 0.0) * QUEUE_S:
                continue  # enough queued here: leave the batch for the first server that frees up
            if retry:
                retry.popleft()
            else:
                cursor += count
            srv.requests += 1
            sent = _Sent(offset, count, tries, srv, srv.pace.generation, time.perf_counter(), since)
            pending[pool.submit(embed, srv, offset, count)] = sent
            turn = (turn + k + 1) % len(servers)
            return True
        return False

    def failed_over(sent: _Sent, err: ServerUnavailable | TransientAnswerError) -> bool:
        """Take the server out of rotation and queue its batch for another; False when out of tries."""
        sent.server.failed(err.reason)
        if not pooled:
            return False
        tries = sent.tries + 1
        seconds = sent.server.rest(time.monotonic())
        if seconds:
            notes.add(
                f"{sent.server.base}: {err.reason}; out of rotation for {seconds:g} s, its batch of "
                f"{sent.count} texts (#{sent.offset}..#{sent.offset + sent.count - 1}) goes to another server."
            )
        if tries >= max_tries:
            raise EndpointError(
                f"No server of the pool could embed texts #{sent.offset}..#{sent.offset + sent.count - 1} "
                f"({tries} failed attempts over {len(servers)} servers in "
                f"{seconds_text(time.perf_counter() - sent.since)}): check that they are running. Last error: {err}"
            ) from None
        if isinstance(err, ServerUnavailable) or sent.count == 1:
            retry.appendleft((sent.offset, sent.count, tries, sent.since))
            return True
        return False  # a batch that timed out is also split (below)

    try:
        while True:
            while (retry or cursor < n) and place():
                pass
            waiting = retry or cursor < n
            resting = [s.rest_until for s in servers if s.resting(time.monotonic())]
            back = max(0.01, min(resting) - time.monotonic()) if waiting and resting else None
            if not pending:
                if not waiting:
                    break
                # Every server rests: the pool is down. Probe the first to come back on the transport's
                # schedule (backoff, twice that, ...), not after its whole rest, so that an outage of the
                # pool fails about as fast as one server's retries do.
                time.sleep(min(back or 0.01, backoff * 2**outage))
                outage += 1
                first = min(servers, key=lambda s: s.rest_until)
                first.rest_until = min(first.rest_until, time.monotonic())
                continue
            finished, _ = wait(pending, timeout=back, return_when=FIRST_COMPLETED)
            for fut in finished:
                sent = pending.pop(fut)
                try:
                    results[sent.offset] = fut.result()
                except ServerUnavailable as e:
                    if not failed_over(sent, e):
                        raise
                    continue
                except (TransientAnswerError, BatchTooLarge) as e:
                    if isinstance(e, TransientAnswerError) and failed_over(sent, e):
                        continue
                    halves = sent.server.pace.split(
                        sent.offset, sent.count, sent.generation, e, attempts=sent.tries + 1, since=sent.since
                    )
                    retry.extendleft(reversed([(o, c, sent.tries + 1, sent.since) for o, c in halves]))
                    continue
                sent.server.pace.measure(weight(sent.offset, sent.count), sent.at)
                sent.server.strikes = outage = 0
                sent.server.texts += sent.count
                done += sent.count
                if progress is not None:
                    progress(done, n, done / max(time.perf_counter() - start, 1e-9))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return np.concatenate([results[k] for k in sorted(results)], axis=0)


class Activity:
    """Seconds an embedder has spent embedding (the denominator of per-server rates); thread-safe."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._depth, self._since = 0, 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"seconds": self.seconds}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(seconds=float(state["seconds"]), _depth=0, _since=0.0, _lock=threading.Lock())

    def __enter__(self) -> Activity:
        with self._lock:
            if self._depth == 0:
                self._since = time.perf_counter()
            self._depth += 1
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:  # overlapping calls (a query during a build) count once
                self.seconds += time.perf_counter() - self._since

    def total(self) -> float:
        """Seconds so far, the running call included."""
        with self._lock:
            return self.seconds + (time.perf_counter() - self._since if self._depth else 0.0)
