"""Storage precisions for a flat (exact) index: float32, float16, int8, binary and binary + rescore.

Codes are made exactly as ``sentence_transformers.quantize_embeddings`` makes them: int8 with per-dimension
ranges (min, max) from calibration embeddings (here: the corpus itself), 256 buckets; binary as sign bits packed
8 per byte (``ubinary``). How each precision is *scored*:

- float32: the stored matrix, BLAS inner product (``core.search.index.exact_search``).
- float16: the float16 codes upcast to float32 once; numpy has no fast float16 kernel, so the search time is
  float32's at that dimension while the memory counted is 2 bytes per dimension.
- int8: the float32 query against the dequantised documents (bucket centres; as FAISS' scalar quantiser
  scores). The int32 dot product of query codes with document codes (usearch-style, what the issue first
  asked) weights each dimension by 1/step^2 and loses much of the recall (MiniLM on the sample corpus at 384
  dims: 0.78-0.81 against 0.995; tests/test_quantize.py checks it), so it is not used. Since
  q . dequantised(c) = const(q) + (q * step) . c, quantising the weights q * step per query and accumulating
  their dot product with the codes in int32 ranks the same: with int16 weights the lists equalled the float
  ones (recall equal at 64/256/1024 dims on 20k clustered vectors), with int8 weights recall fell by up to 0.02.
  But numpy (and torch on CPU) has no fast int8/int16 kernel on these AVX2 machines (no VNNI): an int32
  matrix-vector product took 2-6.5x float32 BLAS's time at 256-2560 dims, so that is not used either. As with
  float16 the search runs on a float32 copy: float32 speed, 1 byte per dimension counted.
- binary: Hamming distance between packed sign bits, exact, searched with faiss's IndexBinaryFlat (XOR and
  popcount fused in one pass; numpy's ``bitwise_xor`` + ``bitwise_count`` give the same distances in three
  passes, 4x slower; the tests compare both).
- binary + rescore: the ``rescore_multiplier * k`` nearest by Hamming, rescored with the float32 query against
  the int8 codes of just those documents, dequantised (sentence-transformers' quantized retrieval recipe).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np

from core.errors import SearchError
from core.search import exact_search, rank_block

Precision = Literal["float32", "float16", "int8", "binary", "binary+rescore"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
DEFAULT_RESCORE_MULTIPLIER = 4
_BLOCK_FLOATS = 1 << 18  # floats per row block of an element-wise pass (1 MiB: stays in cache)

SCORING_NOTE: dict[Precision, str] = {
    "float32": "float32 inner product",
    "float16": "float16 codes scored as float32 (numpy has no fast float16 kernel: float32 speed, half the memory)",
    "int8": "float32 query vs dequantised int8 documents (the int32 dot product of query and document codes "
    "loses recall: 0.78 vs 0.995 for MiniLM at 384 dims; int16 query weights x codes in int32 rank as this does, "
    "but numpy has no fast integer kernel: 2-6.5x slower than float32 here); searched on a float32 copy: float32 "
    "speed, 1 byte per dimension counted",
    "binary": "Hamming distance on packed sign bits (exact; faiss IndexBinaryFlat)",
    "binary+rescore": "Hamming shortlist of rescore_multiplier x k, rescored with the float32 query vs int8",
}


def check_precision(precision: str) -> Precision:
    """The precision, or a SearchError listing the valid ones."""
    if precision not in PRECISIONS:
        raise SearchError(f"Unknown precision {precision!r}: use one of {list(PRECISIONS)}.")
    return precision


def bytes_per_vector(dims: int, precision: Precision, *, rescore_store: Precision = "int8") -> int:
    """Bytes one stored vector takes: 4d, 2d, d, ceil(d/8); binary + rescore adds the rescoring vectors (d for int8)."""
    check_precision(precision)
    if precision == "float32":
        return 4 * dims
    if precision == "float16":
        return 2 * dims
    if precision == "int8":
        return dims
    bits = math.ceil(dims / 8)
    if precision == "binary":
        return bits
    return bits + bytes_per_vector(dims, rescore_store)


def int8_ranges(calibration: np.ndarray) -> np.ndarray:
    """Per-dimension (min, max) of the calibration embeddings, shape (2, dim), as sentence-transformers computes them."""
    cal = np.asarray(calibration, dtype=np.float32)
    if cal.ndim != 2 or cal.shape[0] < 1:
        raise SearchError(f"int8 calibration needs an (n, dim) matrix with n >= 1, got shape {cal.shape}")
    return np.vstack((cal.min(axis=0), cal.max(axis=0))).astype(np.float32)


def quantize_int8(vectors: np.ndarray, *, ranges: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """int8 codes (-128..127), the same as sentence_transformers.quantize_embeddings(precision="int8", ranges=...).

    Its formula, clip(floor((x - start) / step), 0, 255) - 128 in float32, computed in place on row blocks
    that stay in cache, with two float passes fewer: clipping first makes the cast to uint8 the floor, and
    b - 128 as int8 is b with its top bit flipped (tests/test_quantize.py checks the codes are equal).
    ``out``: an int8 array of the vectors' shape to write the codes into (else a new one).
    """
    v = np.asarray(vectors, dtype=np.float32)
    if out is None:
        out = np.empty(v.shape, dtype=np.int8)
    elif out.shape != v.shape or out.dtype != np.int8 or not out.flags.c_contiguous:
        raise SearchError(f"out must be a C-contiguous int8 array of shape {v.shape}")
    r = np.asarray(ranges).astype(np.float32, copy=False)
    starts = r[0]
    steps = (r[1] - starts) / 255
    steps = np.where(steps == 0, 1, steps).astype(np.float32)

    codes = out.view(np.uint8)  # bucket b (0..255) is code b - 128: the same byte with its top bit flipped

    def block(s: slice) -> None:
        t = v[s] - starts
        t /= steps
        np.clip(t, 0, 255, out=t)  # after the clip, casting truncates toward zero: that is the floor
        codes[s] = t
        codes[s] ^= 0x80

    map_row_blocks(block, v.shape[0], v.shape[1] if v.ndim == 2 else 1)
    return out


def map_row_blocks(fn: Callable[[slice], object], n: int, width: int) -> None:
    """Call ``fn`` on consecutive slices of ``n`` rows of ``width`` floats, about 1 MiB each (they stay in cache).

    The slices are shared out among up to ROW_WORKERS threads, each taking a contiguous run of them (numpy
    releases the GIL inside each operation); ``fn`` must only write rows of its own slice.
    """
    step = max(1, _BLOCK_FLOATS // max(width, 1))
    slices = [slice(s, min(s + step, n)) for s in range(0, n, step)]
    workers = min(ROW_WORKERS, len(slices) // 4)  # a few blocks are not worth a hand-over
    if workers < 2:
        for s in slices:
            fn(s)
        return
    share = -(-len(slices) // workers)
    runs = [slices[i : i + share] for i in range(0, len(slices), share)]
    for done in [_ROW_POOL.submit(lambda run: [fn(s) for s in run], run) for run in runs]:
        done.result()


ROW_WORKERS = min(4, os.cpu_count() or 1)
# its threads start on first use
_ROW_POOL = ThreadPoolExecutor(max_workers=ROW_WORKERS, thread_name_prefix="row-blocks")


def dequant_steps(ranges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, steps) of the int8 buckets; a constant dimension gets step 0 (every code decodes to its value)."""
    starts = ranges[0].astype(np.float32)
    raw = (ranges[1] - ranges[0]).astype(np.float32) / 255
    return starts, np.where(raw == 0, 0, raw).astype(np.float32)


def dequantize_int8(codes: np.ndarray, *, ranges: np.ndarray) -> np.ndarray:
    """float32 bucket centres of int8 codes: start + (code + 128 + 0.5) * step (a constant dimension gives start)."""
    starts, steps = dequant_steps(ranges)
    return starts + (codes.astype(np.float32) + np.float32(128.5)) * steps


def pack_binary(vectors: np.ndarray) -> np.ndarray:
    """Sign bits packed 8 per byte (``ubinary``: bit set where the value is > 0), uint8 (n, ceil(d/8))."""
    from sentence_transformers import quantize_embeddings  # here: importing it pulls in torch (seconds)

    return np.asarray(quantize_embeddings(np.asarray(vectors, dtype=np.float32), precision="ubinary"))


@functools.cache
def _faiss() -> Any:
    """faiss, imported on first use (only binary precisions need it) and set to one thread once.

    One thread: a single query measured faster on one (0.58 vs 0.65 ms), and faiss's OpenMP workers spin after a
    parallel search, taking cores from the BLAS and numpy work that follows (and BLAS's from faiss: a batch of 200
    queries took 0.10-0.18 s right after a matmul against 0.04 s after a pause).
    """
    import faiss

    faiss.omp_set_num_threads(1)
    return faiss


def binary_index(packed: np.ndarray) -> Any:
    """A faiss IndexBinaryFlat over packed sign bits (n, b) uint8: exact Hamming search, ties by lower row.

    faiss's popcount kernel reads the 320 bytes of a 2560-dim vector once (XOR and count fused); numpy's
    ``bitwise_xor`` then ``bitwise_count`` then a row sum made three passes and measured 4x slower (3.9 vs 0.6 ms
    a query over 50k x 2560 bits), which left binary only ~4x faster than float32 instead of ~25x. The byte
    padding bits are 0 in every code, so they never differ.
    """
    faiss = _faiss()
    codes = np.ascontiguousarray(packed, dtype=np.uint8)
    index = faiss.IndexBinaryFlat(8 * codes.shape[1])
    index.add(codes)
    return index


def hamming_top(
    index: Any, query_bits: np.ndarray, k: int, *, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Row indices (m, k) of the k nearest packed codes by Hamming distance (ties by lower row), best first.

    ``exclude``: one row per query that is never returned (pseudo-queries); ``k`` must leave room for it.
    """
    extra = 0 if exclude is None else 1
    _, rows = index.search(np.ascontiguousarray(query_bits, dtype=np.uint8), k + extra)
    if exclude is None:
        return rows.astype(np.int64, copy=False)
    keep = rows != np.asarray(exclude)[:, None]
    keep[keep.sum(axis=1) > k, -1] = False  # the excluded row was not among them: drop the last instead
    return rows[keep].reshape(rows.shape[0], k).astype(np.int64, copy=False)


def int8_weights(queries: np.ndarray, ranges: np.ndarray) -> np.ndarray:
    """Per query, weights w with w . code = q . dequantised code - a constant per query (same ranking).

    q . deq(c) = q . (start + (c + 128.5) * step) = (q * step) . c + q . (start + 128.5 * step).
    """
    return queries * dequant_steps(ranges)[1]


def rescore(
    queries: np.ndarray, shortlist: np.ndarray, codes: np.ndarray, ranges: np.ndarray, k: int
) -> np.ndarray:
    """The k best of each query's shortlist (m, s) by float32 query . dequantised int8 codes, best first.

    Ranked by (q * step) . code, which differs from q . dequantised code by a constant per query; only the
    shortlisted rows are read, a query at a time.
    """
    weights = int8_weights(queries, ranges)
    scores = np.empty(shortlist.shape, dtype=np.float32)
    for i in range(shortlist.shape[0]):
        scores[i] = codes[shortlist[i]].astype(np.float32) @ weights[i]
    return np.take_along_axis(shortlist, rank_block(scores, k), axis=1)


@dataclass(frozen=True, eq=False)
class FlatIndex:
    """Unit document vectors at one dimension stored at one precision, searched exactly (per that precision)."""

    precision: Precision
    dims: int
    count: int
    codes: np.ndarray  # what is stored: float32, float16, int8 codes or packed bits (uint8)
    scoring: np.ndarray | None  # float32 matrix the query is scored against (None for binary precisions)
    ranges: np.ndarray | None  # int8 ranges (2, dims); None for float precisions and binary
    rescore: np.ndarray | None  # binary + rescore: the int8 codes its shortlist is rescored with
    bits_index: Any  # binary precisions: a faiss IndexBinaryFlat over the packed bits (else None)
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER

    @property
    def nbytes(self) -> int:
        """Bytes of the stored codes (computed: count x bytes_per_vector)."""
        return self.count * bytes_per_vector(self.dims, self.precision)

    def _queries(self, queries: np.ndarray) -> np.ndarray:
        q = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        if q.shape[1] != self.dims:
            raise SearchError(f"queries have {q.shape[1]} dims but this index has {self.dims}")
        return q

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        exclude: np.ndarray | None = None,
    ) -> np.ndarray:
        """Top-k row indices (m, min(k, n)), best first, for unit float32 queries at ``dims``."""
        q = self._queries(queries)
        if self.scoring is not None:
            return exact_search(self.scoring, q, k, exclude=exclude)[0]
        avail = self.count - (exclude is not None)
        kk = min(k, avail)
        q_bits = pack_binary(q)
        if self.precision == "binary":
            return hamming_top(self.bits_index, q_bits, kk, exclude=exclude)
        short = hamming_top(
            self.bits_index, q_bits, min(self.rescore_multiplier * kk, avail), exclude=exclude
        )
        assert self.rescore is not None and self.ranges is not None
        return rescore(q, short, self.rescore, self.ranges, kk)


def build_flat(
    vectors: np.ndarray,
    precision: Precision,
    *,
    calibration: np.ndarray | None = None,
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER,
    int8: tuple[np.ndarray, np.ndarray] | None = None,
    bits: np.ndarray | None = None,
) -> FlatIndex:
    """Quantise unit vectors (n, d) for ``precision``; int8 ranges come from ``calibration`` (default: the vectors).

    ``int8`` = (codes, ranges) and ``bits`` (``pack_binary`` of the vectors), when already made (the frontier
    sweep makes them once per dimension), are taken as they are instead of quantising again.
    """
    precision = check_precision(precision)
    if (
        isinstance(rescore_multiplier, bool)
        or not isinstance(rescore_multiplier, int)
        or rescore_multiplier < 1
    ):
        raise SearchError(f"rescore_multiplier must be a positive integer, got {rescore_multiplier!r}")
    v = np.ascontiguousarray(vectors, dtype=np.float32)
    if v.ndim != 2 or v.shape[0] == 0:
        raise SearchError(f"vectors must be a non-empty (n, dim) matrix, got shape {v.shape}")
    n, d = v.shape
    codes: np.ndarray
    score_with = rescore_codes = bits_index = ranges = None
    if precision in ("int8", "binary+rescore"):
        if int8 is not None:
            int8_codes, ranges = int8
            if int8_codes.shape != (n, d) or ranges.shape != (2, d):
                raise SearchError(
                    f"int8 codes {int8_codes.shape} / ranges {ranges.shape} do not fit {v.shape}"
                )
        else:
            ranges = int8_ranges(v if calibration is None else calibration)
            int8_codes = quantize_int8(v, ranges=ranges)
    if precision == "float32":
        codes = score_with = v
    elif precision == "float16":
        codes = v.astype(np.float16)
        score_with = codes.astype(np.float32)
    elif precision == "int8":
        codes = int8_codes
        assert ranges is not None
        score_with = dequantize_int8(codes, ranges=ranges)
    else:
        codes = pack_binary(v) if bits is None else bits
        if codes.shape != (n, -(-d // 8)):
            raise SearchError(f"packed bits {codes.shape} do not fit vectors {v.shape}")
        bits_index = binary_index(codes)
        if precision == "binary+rescore":
            rescore_codes = int8_codes
    return FlatIndex(
        precision=precision,
        dims=d,
        count=n,
        codes=codes,
        scoring=score_with,
        ranges=ranges,
        rescore=rescore_codes,
        bits_index=bits_index,
        rescore_multiplier=rescore_multiplier,
    )
