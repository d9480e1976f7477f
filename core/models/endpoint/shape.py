"""What an endpoint model's answers teach the client about its vectors, and the checks that need it.

The first accepted answer sets the size every later answer must have (``wire``: with the parameters
actually sent; ``full``: without ``dimensions``), whether the server normalises, and the model name it
reports. A refused answer teaches nothing: a wrong server must not set the size the others are held to.
Every refusal is an ``EndpointError`` naming the endpoint, the texts and the fix.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from core.errors import EndpointError


def _wrong_size(where: str, got: int, model_id: str, want: int) -> EndpointError:
    return EndpointError(
        f"{where} returned {got}-dim vectors but {model_id!r} should give {want}: the server runs a different "
        "model, or truncates (server-side `dimensions` default); fix the model name or the server settings."
    )


class VectorShape:
    """Sizes learned from one endpoint model's answers (thread-safe; a pickle keeps them, not the lock).

    ``declared``: the family's full size (0 = unknown); ``dimensions``: the size asked for (None = full);
    ``full``: what the server returns without ``dimensions`` (0 until learned); ``wire``: what it returns with
    the parameters we actually send, and ``wire_from`` the server whose answer set it; ``normalised``: None
    until the first vectors arrive; ``model``: the name the server reports (key-scrubbed and cut by the caller).
    """

    def __init__(self, model_id: str, declared: int, dimensions: int | None) -> None:
        self.model_id, self.declared, self.dimensions = model_id, declared, dimensions
        self.full = self.wire = 0
        self.wire_from = ""
        self.normalised: bool | None = None
        self.model = ""
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def learn(
        self, vecs: np.ndarray, *, model: str | None, where: str, base: str, offset: int, check_dims: bool
    ) -> None:
        """Check one answer's vectors against what earlier answers taught, then learn from them.

        ``check_dims`` False (a ``dimensions`` probe): only the reported model name is kept; a truncated vector
        says nothing about the full ones."""
        got = vecs.shape[1]
        normalised = bool(np.all(np.abs(np.linalg.norm(vecs, axis=1) - 1.0) < 1e-3))
        if check_dims and self.dimensions is None and self.declared and got != self.declared:
            # refused before it teaches us anything: a wrong server must not set the size the others must match
            raise _wrong_size(where, got, self.model_id, self.declared)
        with self._lock:
            if model is not None:
                self.model = model
            if not check_dims:
                return
            if self.wire and got != self.wire and self.wire_from != base:
                raise EndpointError(
                    f"{where} returned {got}-dim vectors (text #{offset}) but the pool's server "
                    f"{self.wire_from} returned {self.wire}: the servers of a pool must serve the same "
                    f"model with the same settings; fix {base} or {self.wire_from}, or remove it "
                    "from the pool (the connection test names the odd one out)."
                )
            if self.wire and got != self.wire:
                raise EndpointError(
                    f"{where} changed the embedding size between batches ({self.wire} then {got} at "
                    f"text #{offset}): replicas behind the URL serve different models or settings; point "
                    "at a single model."
                )
            self.wire, self.wire_from = got, base
            self.normalised = normalised and self.normalised is not False
            if self.full == 0 and (self.dimensions is None or got != self.dimensions):
                self.full = got

    def check_size(self, got: int, *, where: str, spec_dim: int) -> None:
        """Refuse fewer dimensions than requested, or full vectors of another size than the model's."""
        if self.dimensions is not None and got < self.dimensions:
            raise EndpointError(
                f"{where} returned {got}-dim vectors, fewer than the {self.dimensions} requested: "
                "lower `dimensions` or check the model."
            )
        if self.dimensions is None and spec_dim and got != spec_dim:
            raise _wrong_size(where, got, self.model_id, spec_dim)

    def answer_dim(self) -> int:
        """The largest size an answer may carry, as far as is known (0 = nothing known yet)."""
        return max(self.wire, self.full, self.declared)
