"""'Test connection' and 'config check' for embedding endpoints, as dataclasses a page can show.

The config check embeds probe texts (queries and documents, zh + en) through the endpoint and through a
local reference of the same model and reports the cosine per probe: a missing prompt, wrong pooling or
a missing EOS token on the server (the llama.cpp Qwen3 last-token case) shows up before anyone trusts a
comparison built on those vectors.

For a pool of servers both run against every server: the connection test refuses a pool whose servers
disagree (vector size, normalisation, reported model name, or the vectors themselves: the pool's own
cross-check, ``EndpointEmbedder.check_pool``, that a build also runs before its first batch) and names the
odd one out; the config check reports each server and names the one that disagrees with the reference.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.errors import EndpointError
from core.models.endpoint.client import EndpointEmbedder
from core.models.endpoint.crosscheck import POOL_AGREEMENT, PoolDisagreement
from core.models.hub_cache import availability
from core.models.presets import PRESETS
from core.types import Embedder, ModelSpec

PASS_COSINE = 0.99


@dataclass(frozen=True)
class ConnectionReport:
    """What one 'Test connection' click found out about an endpoint."""

    dims: int  # length of the vectors it returns for this model
    latency_ms: float  # median wall time of a one-query request (warm-up excluded)
    normalised: bool  # the server's raw vectors already had unit length
    supports_dimensions: bool  # the server honours the OpenAI `dimensions` parameter
    server_model: str  # model name the server reports in its answer ("" if none)
    url: str = ""
    requested_model: str = ""
    prompts: str = ""  # "client" | "server": where the model's query/doc prompts are applied
    servers: tuple[ConnectionReport, ...] = ()  # a pool: one report per server (they agree)
    pool_cosine: float = 1.0  # a pool: the lowest cosine between a server's probe vectors and the reference's

    @property
    def summary(self) -> str:
        """One line for the UI."""
        dim_note = "honours `dimensions`" if self.supports_dimensions else "truncates client-side"
        norm = "normalised" if self.normalised else "unnormalised (normalised client-side)"
        line = f"{self.dims} dims, {self.latency_ms:.0f} ms per query, {norm}, {dim_note}"
        if self.servers:
            each = ", ".join(
                f"{r.url.removesuffix('/embeddings')} {r.latency_ms:.0f} ms" for r in self.servers
            )
            line += (
                f"; {len(self.servers)} servers agree ({each}; their vectors of the same texts: lowest cosine "
                f"{self.pool_cosine:.4f}, at least {POOL_AGREEMENT} needed)"
            )
        return line


@dataclass(frozen=True)
class Probe:
    """One probe text and which side it is embedded as."""

    text: str
    kind: str  # "query" | "document"
    lang: str  # "en" | "zh" | "mixed"


@dataclass(frozen=True)
class ProbeResult:
    """Cosine between the endpoint's and the reference's vector for one probe."""

    probe: Probe
    cosine: float
    passed: bool


@dataclass(frozen=True)
class CheckReport:
    """Agreement of an endpoint with a local reference of the same model."""

    results: tuple[ProbeResult, ...]
    min_cosine: float
    mean_cosine: float
    passed: bool
    threshold: float
    hint: str  # likely cause when it fails; "" when it passes
    endpoint_dims: int
    reference_dims: int
    server: str = ""  # a pool: the base URL this report is about (the worst server for the pool's report)
    servers: tuple[CheckReport, ...] = ()  # a pool: one report per server

    def by_kind(self, kind: str) -> tuple[ProbeResult, ...]:
        """Results for 'query' or 'document' probes."""
        return tuple(r for r in self.results if r.probe.kind == kind)


DEFAULT_PROBES: tuple[Probe, ...] = (
    Probe("如何实现基于 JWT 的用户鉴权？", "query", "zh"),
    Probe("区块链的共识机制是什么", "query", "zh"),
    Probe("Explain the consensus mechanism in blockchain", "query", "en"),
    Probe("how do I rotate an expired API key", "query", "en"),
    Probe(
        "用户登录成功后，服务端签发 JWT 令牌，客户端在请求头 Authorization 中携带 Bearer token 完成鉴权。",
        "document",
        "zh",
    ),
    Probe(
        "共识机制决定了区块链网络中的节点如何就账本状态达成一致，常见的有工作量证明和权益证明。",
        "document",
        "zh",
    ),
    Probe(
        "Proof of stake selects validators in proportion to their staked tokens, replacing the energy-hungry "
        "mining race of proof of work.",
        "document",
        "en",
    ),
    Probe(
        "To rotate a key, create a new key in the console, deploy it, then revoke the old one. 旧密钥撤销后立即失效。",
        "document",
        "mixed",
    ),
)


def test_connection(embedder: EndpointEmbedder, *, repeats: int = 3) -> ConnectionReport:
    """Embed a probe query (1 warm-up + `repeats` timed) and report dims, latency, normalisation, dims support.

    A pool is tested server by server; ``PoolDisagreement`` names a server whose vector size,
    normalisation or reported model differs from the others' (or, for the size, from the model's), or
    whose vectors of the same probe texts differ from the others' (cosine under ``POOL_AGREEMENT``).
    """
    if not isinstance(embedder, EndpointEmbedder):
        raise EndpointError(
            f"test_connection needs an EndpointEmbedder, got {type(embedder).__name__}: "
            "build one with load_embedder(endpoint_spec('endpoint:MODEL@BASE_URL'))."
        )
    servers = embedder.each_server()
    if len(servers) == 1:
        return _test_one(embedder, repeats)
    reports = [_test_one(one, repeats) for one in servers]
    expected = embedder.spec.dim if embedder.dimensions is None else embedder.dimensions
    _agree(reports, "vector size", lambda r: r.dims, expected=expected or None, unit=" dims")
    _agree(reports, "normalisation", lambda r: "normalised" if r.normalised else "unnormalised")
    named = [r for r in reports if r.server_model]
    _agree(named, "reported model name", lambda r: repr(r.server_model))
    agreed = embedder.check_pool(again=True)  # the build's own cross-check, run afresh
    missed = [s for s in embedder.server_stats() if s.url not in agreed]
    if missed:  # it answered the probes above but not the cross-check: say so rather than pass
        raise EndpointError(
            f"Server {missed[0].url} did not answer the pool's cross-check ({missed[0].last_error}): run "
            "Test connection again when it is back, or remove it from the pool."
        )
    first = reports[0]
    return replace(
        first,
        latency_ms=float(statistics.median(r.latency_ms for r in reports)),
        supports_dimensions=all(r.supports_dimensions for r in reports),
        servers=tuple(reports),
        pool_cosine=min(agreed.values()),
    )


def _base(report: ConnectionReport) -> str:
    return report.url.removesuffix("/embeddings")


def _agree(
    reports: Sequence[ConnectionReport],
    what: str,
    value: Callable[[ConnectionReport], object],
    *,
    expected: object = None,
    unit: str = "",
) -> None:
    """Raise PoolDisagreement naming the servers whose ``value`` differs from the expected or common one."""
    values = [value(r) for r in reports]
    if len(set(values)) <= 1 and (expected is None or not values or values[0] == expected):
        return
    common, count = Counter(values).most_common(1)[0]
    right = expected if expected is not None else (common if count > len(values) / 2 else None)
    if right is None:  # no majority (two servers, or all different): list what each says
        said = "; ".join(f"{_base(r)}: {v}{unit}" for r, v in zip(reports, values, strict=True))
        odd = tuple(_base(r) for r in reports)
        raise PoolDisagreement(
            f"The servers of the pool disagree on the {what} ({said}): every server of a pool must serve "
            "the same model with the same settings; fix the server that is wrong or remove it from the pool.",
            what,
            odd,
        )
    wrong = [(r, v) for r, v in zip(reports, values, strict=True) if v != right]
    odd = tuple(_base(r) for r, _ in wrong)
    said = "; ".join(f"{_base(r)} gives {v}{unit}" for r, v in wrong)
    others = len(reports) - len(wrong)
    basis = "the model gives" if expected is not None else f"the other {others} server(s) give"
    raise PoolDisagreement(
        f"Server {said} where {basis} {right}{unit} ({what}): every server of a pool must serve the same "
        f"model with the same settings; fix {', '.join(odd)} or remove it from the pool.",
        what,
        odd,
    )


def _test_one(embedder: EndpointEmbedder, repeats: int) -> ConnectionReport:
    embedder.encode_queries(["connection test"])  # warm-up: connection set-up, lazy model load
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        vec = embedder.encode_queries(["connection test"])
        times.append((time.perf_counter() - t0) * 1000)
    dims = int(vec.shape[1])
    if embedder.dimensions is not None:
        supports = bool(embedder.supports_dimensions)
    else:
        small = min(embedder.spec.mrl_dims) if embedder.spec.mrl_dims else max(1, dims // 2)
        try:
            supports = embedder.probe_dimensions(small) if small < dims else False
        except EndpointError:  # the plain request just worked: a server choking on the parameter lacks it
            supports = False
    return ConnectionReport(
        dims=dims,
        latency_ms=float(statistics.median(times)),
        normalised=bool(embedder.server_normalised),
        supports_dimensions=supports,
        server_model=embedder.server_model,
        url=embedder.url,
        requested_model=embedder.spec.model_id,
        prompts="server" if embedder.server_prompts else "client",
    )


def _embed(embedder: Embedder, probes: list[Probe]) -> np.ndarray:
    """Vectors for the probes in their order (queries and documents each in one call)."""
    q_rows = [i for i, p in enumerate(probes) if p.kind == "query"]
    d_rows = [i for i, p in enumerate(probes) if p.kind != "query"]
    parts = []
    if q_rows:
        parts.append((q_rows, embedder.encode_queries([probes[i].text for i in q_rows])))
    if d_rows:
        parts.append((d_rows, embedder.encode_documents([probes[i].text for i in d_rows])))
    out = np.zeros((len(probes), parts[0][1].shape[1]), dtype=np.float32)
    for rows, vecs in parts:
        out[rows] = vecs
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def config_check(
    endpoint_embedder: Embedder,
    reference_embedder: Embedder,
    probes: list[Probe] | tuple[Probe, ...] | None = None,
    *,
    threshold: float = PASS_COSINE,
) -> CheckReport:
    """Embed probes through the endpoint and a local reference; cosine per probe, pass at >= threshold."""
    probes = list(probes or DEFAULT_PROBES)
    if not probes:
        raise EndpointError(
            "config_check got an empty probe list: pass probes=None for the built-in zh/en set."
        )
    bad = [p.kind for p in probes if p.kind not in ("query", "document")]
    if bad:
        raise EndpointError(f"Probe kind {bad[0]!r} is invalid: use 'query' or 'document'.")
    b = _embed(reference_embedder, probes)
    servers = endpoint_embedder.each_server() if isinstance(endpoint_embedder, EndpointEmbedder) else []
    if len(servers) <= 1:
        return _compare(endpoint_embedder, reference_embedder, probes, b, threshold)
    reports = [
        replace(
            _compare(one, reference_embedder, probes, b, threshold),
            server=one.url.removesuffix("/embeddings"),
        )
        for one in servers
    ]
    worst = min(reports, key=lambda r: (r.passed, r.min_cosine if r.min_cosine == r.min_cosine else -2.0))
    failing = [r.server for r in reports if not r.passed]
    hint = worst.hint
    if failing:
        others = len(reports) - len(failing)
        who = (
            f"Server {failing[0]} disagrees"
            if len(failing) == 1
            else f"Servers {', '.join(failing)} disagree"
        )
        hint = (
            f"{who} with the reference (the other {others} agree): {worst.hint}"
            if others
            else f"Every server of the pool disagrees with the reference; {worst.server}: {worst.hint}"
        )
    cosines = [r.cosine for rep in reports for r in rep.results]
    return replace(
        worst,
        min_cosine=float(np.min(cosines)),  # NaN when a server's vectors have another size
        mean_cosine=float(np.mean(cosines)),
        passed=not failing,
        hint=hint,
        servers=tuple(reports),
    )


def _compare(
    endpoint_embedder: Embedder,
    reference_embedder: Embedder,
    probes: list[Probe],
    b: np.ndarray,
    threshold: float,
) -> CheckReport:
    """One server's probe vectors against the reference's ``b``."""
    a = _embed(endpoint_embedder, probes)
    ea, eb = a.shape[1], b.shape[1]
    if ea != eb:
        if ea < eb and isinstance(endpoint_embedder, EndpointEmbedder) and endpoint_embedder.dimensions == ea:
            b = _unit(b[:, :ea])  # the endpoint is deliberately truncated (MRL): compare the same prefix
        else:
            rows = tuple(ProbeResult(p, float("nan"), False) for p in probes)
            return CheckReport(
                rows,
                float("nan"),
                float("nan"),
                False,
                threshold,
                f"The endpoint returns {ea}-dim vectors, the reference {eb}: they are different models "
                "(check the model name the server loaded).",
                ea,
                eb,
            )
    cos = np.sum(_unit(a) * _unit(b), axis=1)
    results = tuple(ProbeResult(p, float(c), bool(c >= threshold)) for p, c in zip(probes, cos, strict=True))
    passed = all(r.passed for r in results)
    hint = "" if passed else _hint(endpoint_embedder, reference_embedder, probes, a, results, threshold)
    return CheckReport(results, float(cos.min()), float(cos.mean()), passed, threshold, hint, ea, eb)


def _hint(
    endpoint: Embedder,
    reference: Embedder,
    probes: list[Probe],
    a: np.ndarray,
    results: tuple[ProbeResult, ...],
    threshold: float,
) -> str:
    """The most likely cause of a disagreement, from which probes fail and how badly."""
    q_ok = all(r.passed for r in results if r.probe.kind == "query")
    d_ok = all(r.passed for r in results if r.probe.kind == "document")
    mean = float(np.mean([r.cosine for r in results]))
    spec = endpoint.spec
    if not q_ok and d_ok:
        # Do the endpoint's query vectors look like the reference's *document* vectors of the same texts?
        qs = [p.text for p in probes if p.kind == "query"]
        qa = _unit(a[[i for i, p in enumerate(probes) if p.kind == "query"]])
        as_doc = float(np.mean(np.sum(qa * _unit(reference.encode_documents(qs)), axis=1)))
        as_query = float(np.mean([r.cosine for r in results if r.probe.kind == "query"]))
        if as_doc > as_query:
            return (
                "Queries disagree while documents agree, and the endpoint's query vectors match the "
                "reference's document vectors: the query prompt is missing. Apply it client-side "
                f"(expected prefix {spec.query_prefix()!r}) or enable the server's query prompt."
            )
        return (
            "Queries disagree while documents agree: the query prompt differs (an extra or different "
            "instruction, or the server adds its own prompt on top of the client's). Check where prompts "
            f"are applied (docs/endpoints.md); expected query prefix {spec.query_prefix()!r}."
        )
    if q_ok and not d_ok:
        return (
            "Documents disagree while queries agree: the document prompt differs "
            f"(expected {spec.doc_prompt!r}) or the server truncates long texts at fewer tokens."
        )
    if spec.pooling == "lasttoken" or "qwen3" in spec.model_id.lower():
        return (
            f"All probes disagree (mean cosine {mean:.3f}) on a last-token-pooling model: the server "
            "likely uses the wrong pooling or does not append the EOS token. llama.cpp: start with "
            "--pooling last and use a GGUF converted after the Qwen3-Embedding EOS fix (or append "
            "'<|endoftext|>' with text_suffix); vLLM/TEI: check the pooling config."
        )
    if mean >= 0.9:
        return (
            f"All probes disagree a little (mean cosine {mean:.3f}, threshold {threshold}): same model "
            "family but a different pooling, precision/quantisation or token limit on the server."
        )
    return (
        f"All probes disagree strongly (mean cosine {mean:.3f}): the endpoint serves a different model or "
        "weights than the reference; check the model name the server loaded."
    )


def local_reference(spec: ModelSpec) -> str | None:
    """A preset available on this machine that is the same model the endpoint serves (for config_check)."""
    served = spec.model_id.lower()
    for name, preset in PRESETS.items():
        names = {name.lower(), preset.model_id.lower().rsplit("/", 1)[-1]}
        if name == "multilingual-e5-small":
            names.add("e5-small")
        if any(n and n in served for n in names) and availability(preset) in (
            "bundled",
            "cached",
            "local path",
        ):
            return name
    return None
