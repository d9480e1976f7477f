"""Exact result lists of every storage precision at every Matryoshka stop, in one pass over the dimensions.

What core.frontier.measure measures recall and nDCG from. Each list equals a plain search of that configuration
(core.frontier.quantize.FlatIndex.search on the truncated, renormalised, quantised vectors) up to float32 rounding of
near-ties (tests/test_frontier.py checks it), but the whole pass costs about two full-dimension matmuls instead
of one per configuration:

- float32 at d: the dot products at d are those at the previous stop plus the next block of columns, divided
  by the prefix norms (as core.search.matryoshka.truncation_curve).
- binary at d: the sign bits of all dimensions are packed once; those of the first d are a prefix of them (a
  sign never changes when a vector is truncated or renormalised), searched exactly by Hamming distance with
  faiss (core.frontier.quantize.hamming_top), all queries at once.
- float16 and int8 at d: the float32 score bounds theirs. Rounding to float16 moves q.x by at most
  2^-11 + 2^-25 |q|_1 (round to nearest, unit vectors); decoding int8 to its bucket centre by at most
  sum_j |q_j| step_j / 2. So only documents whose float32 score lies within twice that bound (plus float32
  rounding slack) of the k-th best float32 score can be in the top k; exactly those are scored with the float16
  / dequantised int8 vectors (int8 as (q * step) . code, which ranks as q . dequantised). When more than 1/64 of all scores qualify, the whole matrix is scored instead.
- binary + rescore: the Hamming shortlist rescored by core.frontier.quantize.rescore, as FlatIndex does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from core.frontier.quantize import (
    Precision,
    binary_index,
    dequant_steps,
    hamming_top,
    int8_weights,
    map_row_blocks,
    pack_binary,
    quantize_int8,
    rescore,
)
from core.search import query_block_rows, rank_block, truncate

_F16_REL = 2.0**-11 * 1.001  # float16 round-to-nearest relative error (normal range), with a margin
_F16_ABS = 2.0**-25  # float16 absolute error in the subnormal range
_F32_EPS = 2.0**-24
_GATHER_FLOATS = 1 << 20  # candidate vector floats gathered at a time (4 MiB)
_KEEP_FLOATS = 1 << 26  # prefix sums kept across stops while queries x docs fit in this many floats


@dataclass(frozen=True, eq=False)
class AtDim:
    """One stop: the truncated vectors, the int8 codes, and each precision's top-k and top-depth rows."""

    dims: int
    vectors: np.ndarray  # truncate(docs, dims) (a view of a buffer the next stop overwrites)
    queries: np.ndarray  # truncate(queries, dims)
    ranges: np.ndarray | None  # int8 ranges (when int8 or binary + rescore was asked for)
    int8_codes: np.ndarray | None  # (a view of a buffer the next stop overwrites)
    bits: np.ndarray | None  # pack_binary(vectors) (when binary or binary + rescore was asked for)
    lists: dict[Precision, np.ndarray]  # (m, k) rows, best first (float32 always)
    deep: dict[Precision, np.ndarray]  # (m, depth) rows, best first (the same arrays when depth == k)


def truncated(
    docs: np.ndarray, dims: int, inv_norms: np.ndarray, *, ranges: bool, out: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """(docs[:, :dims] scaled by ``inv_norms``, per-dimension (min, max) of it or None) in one pass of row blocks.

    ``inv_norms``: 1 / the prefix norms at ``dims`` (exact_lists keeps them from its running sums of squares),
    so a row is one multiply instead of square, sum, root and divide: equal to core.search.index.truncate up to the last
    float32 bit. At the full dimension of vectors already of unit length the matrix itself is used (no copy).
    ``out``: a float32 buffer of at least n x dims values to write into (the result is a view of it).
    """
    n = docs.shape[0]
    if dims == docs.shape[1] and np.all(np.abs(inv_norms - 1) <= 1e-6):
        vd = docs
        scale = False
    else:
        vd = _view(out, (n, dims), np.float32)
        scale = True
    lows: list[np.ndarray] = []
    highs: list[np.ndarray] = []

    def block(s: slice) -> None:
        if scale:
            np.multiply(docs[s, :dims], inv_norms[s, None], out=vd[s])
        if ranges:
            lows.append(vd[s].min(axis=0))
            highs.append(vd[s].max(axis=0))

    if scale or ranges:
        map_row_blocks(block, n, dims)
    if not ranges:
        return vd, None
    return vd, np.vstack((np.min(lows, axis=0), np.max(highs, axis=0))).astype(np.float32)


def _view(buffer: np.ndarray | None, shape: tuple[int, int], dtype: type) -> np.ndarray:
    """A C-contiguous array of that shape: the start of ``buffer`` when it is large enough, else a new one."""
    size = shape[0] * shape[1]
    if buffer is None or buffer.size < size:
        return np.empty(shape, dtype=dtype)
    return buffer[:size].reshape(shape)


def prefix_bits(full_bits: np.ndarray, dims: int) -> np.ndarray:
    """pack_binary of the first ``dims`` dimensions, from the packed bits of all of them (a sign does not change
    when a vector is truncated or renormalised): the first ceil(dims / 8) bytes, the bits past ``dims`` cleared."""
    out = np.ascontiguousarray(full_bits[:, : -(-dims // 8)])
    if dims % 8:
        out[:, -1] &= np.uint8((0xFF00 >> (dims % 8)) & 0xFF)  # packbits fills a byte from its top bit
    return out


def _refine(
    scores: np.ndarray,
    threshold: np.ndarray,
    depth: int,
    rows: Callable[[np.ndarray], np.ndarray],
    weights: np.ndarray,
) -> np.ndarray | None:
    """Top-depth rows by ``rows(cols) . weights[i]`` among the columns whose float32 score reaches row i's threshold.

    All queries' candidates at once, a few MiB of gathered vectors at a time, each scored against its own query's
    weights. None when more than 1/64 of the scores reach it (gathering costs many times a matmul's work per pair;
    the caller scores everything instead).
    """
    m, n = scores.shape
    flat = np.flatnonzero(scores >= threshold[:, None])
    if flat.size > max(scores.size // 64, 1):
        return None
    qi, cols = np.divmod(flat, n)  # by query, then column
    vals = np.empty(flat.size, dtype=np.float32)
    step = max(1, _GATHER_FLOATS // max(weights.shape[1], 1))
    for a in range(0, flat.size, step):
        vals[a : a + step] = np.einsum("ij,ij->i", rows(cols[a : a + step]), weights[qi[a : a + step]])
    order = np.lexsort((cols, -vals, qi))  # by query, score descending, then lower row
    counts = np.bincount(qi, minlength=m)  # >= depth: every float32 top-depth row reaches the threshold
    starts = np.cumsum(counts) - counts
    return cols[order][starts[:, None] + np.arange(depth)]


class _NearFloat32:
    """A precision whose score is within a known bound of the float32 score: float16 or dequantised int8."""

    def __init__(self, vd: np.ndarray, *, codes: np.ndarray | None = None, ranges: np.ndarray | None = None):
        self.vd, self.codes, self.ranges = vd, codes, ranges
        self._matrix: np.ndarray | None = None

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """The stored vectors of those rows as float32: float16 widened, or the int8 codes themselves."""
        if self.codes is None:
            return self.vd[idx].astype(np.float16).astype(np.float32)
        return self.codes[idx].astype(np.float32)

    def weights(self, q: np.ndarray) -> np.ndarray:
        """What ``rows`` are scored with: the queries (float16), or int8_weights (same ranking as dequantised)."""
        if self.ranges is None:
            return q
        return int8_weights(q, self.ranges)

    def margin(self, q: np.ndarray) -> np.ndarray:
        """Per query, the most its score of any document can differ from the float32 score."""
        if self.codes is None:
            return _F16_REL + _F16_ABS * np.abs(q).sum(axis=1)
        assert self.ranges is not None
        return 0.5 * 1.001 * (np.abs(q) @ dequant_steps(self.ranges)[1])

    def matrix(self) -> np.ndarray:
        """Every stored vector as float32 (made once, only when the candidates are too many)."""
        if self._matrix is None:
            self._matrix = self.rows(np.arange(self.vd.shape[0]))
        return self._matrix

    def top(
        self,
        q: np.ndarray,
        scores: np.ndarray,
        top: np.ndarray,
        *,
        slack: float,
        exclude: np.ndarray | None,
        start: int,
    ) -> np.ndarray:
        """Top-depth rows for queries q (truncated, unit) given their float32 scores and float32 top-depth."""
        depth = top.shape[1]
        kth = scores[np.arange(top.shape[0]), top[:, -1]]
        w = self.weights(q)
        got = _refine(scores, kth - 2 * (self.margin(q) + slack), depth, self.rows, w)
        if got is not None:
            return got
        return rank_block(w @ self.matrix().T, depth, exclude=exclude, start=start)


def exact_lists(
    docs: np.ndarray,
    queries: np.ndarray,
    *,
    stops: Sequence[int],
    precisions: Sequence[Precision],
    k: int,
    depth: int,
    exclude: np.ndarray | None,
    rescore_multiplier: int,
) -> Iterator[AtDim]:
    """Yield one AtDim per stop, ascending; the last stop is the full dimension (the float32 truth).

    ``docs``, ``queries``: full-dimension unit float32 matrices. ``k`` and ``depth`` (>= k) are already clamped
    to the rows a query may return (``exclude``: one row per query that is never returned).
    """
    n, full = docs.shape
    m = queries.shape[0]
    want = set(precisions)
    binary = bool(want & {"binary", "binary+rescore"})
    need8 = bool(want & {"int8", "binary+rescore"})
    run = sorted({*stops, full})
    step = query_block_rows(n)
    blocks = [slice(s, min(s + step, m)) for s in range(0, m, step)]
    keep = m * n <= _KEEP_FLOATS  # prefix sums kept across stops
    # Buffers made once and reused at every stop: memory fresh from the system costs a page fault per 4 KiB on
    # first touch (on this project's VMs ~1 s per 400 MB, more than the arithmetic), and each stop's arrays used to
    # be fresh. So AtDim.vectors and int8_codes are views that the next stop overwrites.
    below = max((d for d in run if d < full), default=0)
    vd_buf = np.empty(n * below, dtype=np.float32) if below else None
    codes_buf = np.empty(n * full, dtype=np.int8) if need8 else None
    part_buf = np.empty(min(step, m) * n, dtype=np.float32)
    score_buf = np.empty(min(step, m) * n, dtype=np.float32)
    avail = n - (exclude is not None)
    # one Hamming ranking, as long as the longest list wanted: a prefix of it is the shorter top lists
    short_k = min(rescore_multiplier * k, avail)
    short_deep = min(rescore_multiplier * depth, avail)
    longest = max(depth if "binary" in want else 0, short_deep if "binary+rescore" in want else 0)
    full_bits = pack_binary(docs) if binary else None
    full_q_bits = pack_binary(queries) if binary else None
    acc32: dict[int, np.ndarray] = {}
    doc_sq = np.zeros(n, dtype=np.float64)
    q_sq = np.zeros(m, dtype=np.float64)
    prev = 0
    for d in run:
        block_docs = docs[:, prev:d]
        doc_sq += np.einsum("ij,ij->i", block_docs, block_docs)
        q_sq += np.einsum("ij,ij->i", queries[:, prev:d], queries[:, prev:d])
        inv_dn = (1.0 / np.maximum(np.sqrt(doc_sq), 1e-12)).astype(np.float32)
        inv_qn = (1.0 / np.maximum(np.sqrt(q_sq), 1e-12)).astype(np.float32)
        bits = None if full_bits is None else prefix_bits(full_bits, d)
        ranked_all = (
            None
            if bits is None or full_q_bits is None
            else hamming_top(binary_index(bits), prefix_bits(full_q_bits, d), longest, exclude=exclude)
        )
        vd, ranges = truncated(docs, d, inv_dn, ranges=need8, out=vd_buf)
        qd = truncate(queries, d)
        codes8 = (
            None
            if ranges is None
            else quantize_int8(vd, ranges=ranges, out=_view(codes_buf, vd.shape, np.int8))
        )
        slack = 2 * d * _F32_EPS + 1e-6
        lists: dict[Precision, list[np.ndarray]] = {p: [] for p in ("float32", *precisions)}
        deep: dict[Precision, list[np.ndarray]] = {p: [] for p in ("float32", *precisions)}
        nears: dict[Precision, _NearFloat32] = {}
        if "float16" in want:
            nears["float16"] = _NearFloat32(vd)
        if "int8" in want:
            nears["int8"] = _NearFloat32(vd, codes=codes8, ranges=ranges)
        for bi, qs in enumerate(blocks):
            lo = prev if keep and bi in acc32 else 0
            shape = (qs.stop - qs.start, n)
            if lo:
                part = np.matmul(queries[qs, lo:d], docs[:, lo:d].T, out=_view(part_buf, shape, np.float32))
                acc = acc32[bi] = np.add(acc32[bi], part, out=acc32[bi])
            else:
                acc = acc32[bi] = queries[qs, :d] @ docs[:, :d].T  # kept across stops (or made again)
            scores = np.multiply(acc, inv_qn[qs, None], out=_view(score_buf, shape, np.float32))
            scores *= inv_dn[None, :]
            top = rank_block(scores, depth, exclude=exclude, start=qs.start)
            for p, near in nears.items():
                res = near.top(qd[qs], scores, top, slack=slack, exclude=exclude, start=qs.start)
                deep[p].append(res)
                lists[p].append(res[:, :k])
            deep["float32"].append(top)  # always: the full-dimension float32 lists are the truth
            lists["float32"].append(top[:, :k])
            if ranked_all is not None:
                ranked = ranked_all[qs]
                if "binary" in want:
                    deep["binary"].append(ranked[:, :depth])
                    lists["binary"].append(ranked[:, :k])
                if "binary+rescore" in want:
                    assert codes8 is not None and ranges is not None
                    lists["binary+rescore"].append(rescore(qd[qs], ranked[:, :short_k], codes8, ranges, k))
                    if depth > k:
                        deep["binary+rescore"].append(
                            rescore(qd[qs], ranked[:, :short_deep], codes8, ranges, depth)
                        )
                    else:
                        deep["binary+rescore"].append(lists["binary+rescore"][-1])
            if not keep:
                del acc32[bi]
        prev = d
        yield AtDim(
            dims=d,
            vectors=vd,
            queries=qd,
            ranges=ranges,
            int8_codes=codes8,
            bits=bits,
            lists={p: np.concatenate(v) for p, v in lists.items()},
            deep={p: np.concatenate(v) for p, v in deep.items()},
        )
