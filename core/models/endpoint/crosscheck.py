"""A pool's cross-check: before a pool of servers mixes their vectors, every server embeds the same probe texts and
must agree with the others.

``cross_check`` compares servers' probe vectors (the majority, or an earlier reference, decides) and raises
``PoolDisagreement`` naming the odd server(s). ``PoolCheck`` is one embedder's state of it: the servers
checked so far and the reference every later server must match (a server that missed the check, resting,
is checked before its first batch). ``probe_vectors`` embeds the probes on one server as documents and as a
query. ``core.models.endpoint.client`` runs the check before it hands a pool's first batch to
``core.models.endpoint.pool.spread``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from core.errors import EndpointError
from core.models.endpoint.batches import Notes
from core.models.endpoint.http import ServerUnavailable, TransientAnswerError
from core.models.endpoint.pool import Server
from core.models.endpoint.response import BatchTooLarge

POOL_AGREEMENT = 0.99  # lowest cosine two servers of a pool may give the same probe text
# What every server of a pool embeds (as documents, then one as a query) before the pool mixes their vectors:
# short zh, en and mixed texts, so that another model, other weights, another pooling or other prompts
# under the same name show.
POOL_PROBES = (
    "Proof of stake selects validators in proportion to their staked tokens.",
    "用户登录成功后，服务端签发 JWT 令牌，客户端在请求头中携带 Bearer token 完成鉴权。",
    "To rotate a key, create a new one, deploy it, then revoke the old one. 旧密钥撤销后立即失效。",
)
POOL_QUERY_PROBES = ("how are validators chosen in proof of stake?",)  # and as a query: the query side too


class PoolDisagreement(EndpointError):
    """The servers of a pool do not serve the same thing; ``odd`` names the base URL(s) that differ and
    ``what`` says in what ("vector size", "normalisation", "reported model name", "vectors")."""

    def __init__(self, message: str, what: str, odd: tuple[str, ...]) -> None:
        super().__init__(message)
        self.what, self.odd = what, odd


def lowest_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest cosine between the rows of ``a`` and ``b`` (the same texts); -1 for other shapes."""
    if a.shape != b.shape or not a.size:
        return -1.0
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float(np.min(np.sum(a * b, axis=1)))


def cross_check(
    probed: dict[str, np.ndarray],
    *,
    model: str,
    reference: tuple[str, np.ndarray] | None = None,
    threshold: float = POOL_AGREEMENT,
) -> tuple[str, np.ndarray]:
    """The servers' vectors of the same probe texts must agree (lowest cosine >= ``threshold``).

    ``probed`` maps each base URL to its probe vectors. Against a ``reference`` (base URL, vectors)
    every server must agree with it; without one the majority is the reference. Returns the reference;
    raises ``PoolDisagreement`` naming the odd server(s), or every server when no majority agrees.
    """
    fix = (
        f"it serves another model, other weights (a quantised copy) or other settings (pooling, "
        f"prompts) under the name {model!r}"
    )
    if reference is not None:
        ref_base, ref = reference
        odd = {b: lowest_cosine(v, ref) for b, v in probed.items() if b != ref_base}
        odd = {b: c for b, c in odd.items() if c < threshold}
        if odd:
            said = "; ".join(f"{b}: cosine {c:.3f}" for b, c in odd.items())
            raise PoolDisagreement(
                f"Server {', '.join(odd)} returns other vectors than the pool's server {ref_base} for the same "
                f"probe texts ({said}; at least {threshold} needed): {fix}. Nothing from it was stored; fix "
                f"{', '.join(odd)} or remove it from the pool.",
                "vectors",
                tuple(odd),
            )
        return reference
    bases = list(probed)
    cos = {(a, b): lowest_cosine(probed[a], probed[b]) for a in bases for b in bases}
    groups = [[b for b in bases if cos[a, b] >= threshold] for a in bases]
    best = max(groups, key=len)  # the first of the largest groups
    if len(best) == len(bases):
        return best[0], probed[best[0]]
    if 2 * len(best) > len(bases):
        outliers = [b for b in bases if b not in best]
        said = "; ".join(f"{b}: cosine {min(cos[b, g] for g in best):.3f}" for b in outliers)
        raise PoolDisagreement(
            f"Server {', '.join(outliers)} returns other vectors than the other {len(best)} server(s) of the "
            f"pool ({', '.join(best)}) for the same probe texts ({said}; at least {threshold} needed): {fix}. "
            f"Nothing was stored; fix {', '.join(outliers)} or remove it from the pool.",
            "vectors",
            tuple(outliers),
        )
    pairs = "; ".join(
        f"{a} vs {b}: cosine {cos[a, b]:.3f}" for i, a in enumerate(bases) for b in bases[i + 1 :]
    )
    raise PoolDisagreement(
        f"The {len(bases)} servers of the pool return different vectors for the same probe texts ({pairs}; at "
        f"least {threshold} needed) and no majority agrees: one of them serves another model, other weights "
        f"or other settings under the name {model!r}. Nothing was stored; run the config check on the Models "
        "page against each server alone and remove the wrong one from the pool.",
        "vectors",
        tuple(bases),
    )


class PoolCheck:
    """One embedder's cross-check of its pool: ``agreed`` maps each checked server's base URL to its lowest cosine
    with the reference; ``reference`` is (base URL, probe vectors) that every later server must match. One check
    runs at a time. A pickle keeps what was checked (not the lock)."""

    def __init__(self) -> None:
        self.agreed: dict[str, float] = {}
        self.reference: tuple[str, np.ndarray] | None = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"agreed": self.agreed, "reference": self.reference}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.agreed, self.reference = dict(state["agreed"]), state["reference"]
        self._lock = threading.Lock()

    def run(
        self,
        servers: list[Server],
        probe: Callable[[Server], np.ndarray],
        *,
        model: str,
        notes: Notes,
        again: bool = False,
    ) -> dict[str, float]:
        """Probe every server not checked yet (at once; ``again`` forgets earlier results) and settle them against
        the reference (``cross_check``); a server that does not answer now rests and is checked before its first
        batch (``late``). Returns, per checked server, its lowest cosine with the reference."""
        with self._lock:
            if again:
                self.agreed, self.reference = {}, None
            now = time.monotonic()
            todo = [s for s in servers if s.base not in self.agreed and (again or not s.resting(now))]
            if todo:
                with ThreadPoolExecutor(max_workers=len(todo)) as pool:
                    futures = [(server, pool.submit(probe, server)) for server in todo]
                probed: dict[str, np.ndarray] = {}
                for server, future in futures:  # errors other than an absent server: the first server's
                    try:
                        probed[server.base] = future.result()
                    except ServerUnavailable as e:
                        server.failed(e.reason)
                        seconds = server.rest(time.monotonic())
                        notes.add(
                            f"{server.base}: {e.reason} at the pool's cross-check; out of rotation for "
                            f"{seconds:g} s, and checked against the other servers before it gets a batch."
                        )
                if probed:
                    self._settle(probed, model)
            return dict(self.agreed)

    def late(self, server: Server, probe: Callable[[Server], np.ndarray], *, model: str) -> None:
        """Check a server that missed the pool's cross-check, before its first batch (from a worker)."""
        with self._lock:
            if server.base not in self.agreed:
                self._settle({server.base: probe(server)}, model)

    def _settle(self, probed: dict[str, np.ndarray], model: str) -> None:
        reference = cross_check(probed, model=model, reference=self.reference)
        self.reference = reference
        for base, vecs in probed.items():
            self.agreed[base] = lowest_cosine(vecs, reference[1])


def probe_vectors(
    server: Server,
    embed: Callable[[Server, list[str], str], np.ndarray],
    *,
    doc: str,
    query: str,
    suffix: str,
    lock: threading.Lock,
) -> np.ndarray:
    """One server's vectors of the probe texts as documents, then as queries, with the model's prompts (``doc``,
    ``query``, ``suffix``; empty where the server applies them); ``embed(server, texts, kind)`` sends one
    request, ``lock`` guards the server's request count. A slow or broken answer: ServerUnavailable."""
    sides = (
        ([doc + t + suffix for t in POOL_PROBES], "passage"),
        ([query + t + suffix for t in POOL_QUERY_PROBES], "query"),
    )
    out = []
    try:
        for texts, kind in sides:
            with lock:
                server.requests += 1
            try:
                out.append(embed(server, texts, kind))
            except BatchTooLarge:  # a server that takes very small batches: one text at a time
                out.extend(embed(server, [t], kind) for t in texts)
        return np.concatenate(out)
    except (TransientAnswerError, BatchTooLarge) as e:  # for a pool: this server cannot answer now
        reason = e.reason if isinstance(e, TransientAnswerError) else "refused the probe texts as too large"
        raise ServerUnavailable(f"{e} (the pool's cross-check)", reason) from None
