"""Storage precisions for a flat (exact) index: float32, float16, int8, binary and binary + rescore.

Codes are made exactly as ``sentence_transformers.quantize_embeddings`` makes them: int8 with per-dimension
ranges (min, max) from calibration embeddings (here: the corpus itself), 256 buckets; binary as sign bits packed
8 per byte (``ubinary``). How each precision is *scored*:

- float32: the stored matrix, BLAS inner product (``core.index.exact_search``).
- float16: the float16 codes upcast to float32 once; numpy has no fast float16 kernel, so the search time is
  float32's at that dimension while the memory counted is 2 bytes per dimension.
- int8: a float32 query against the dequantised documents (bucket centres). Ranking by the int32 dot product of
  two code vectors loses much of the recall (min/max codes carry a per-dimension offset), so we do not.
  As with float16, the search runs on a float32 copy; the memory counted is 1 byte per dimension.
- binary: Hamming distance between packed sign bits (``numpy.bitwise_count`` of XOR, 64 bits at a time), exact.
- binary + rescore: the ``rescore_multiplier * k`` nearest by Hamming, rescored with the float32 query against
  the int8-dequantised documents (sentence-transformers' quantized retrieval recipe).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from sentence_transformers import quantize_embeddings

from core.errors import SearchError
from core.index import exact_search, rank_block

Precision = Literal["float32", "float16", "int8", "binary", "binary+rescore"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)
DEFAULT_RESCORE_MULTIPLIER = 4
_HAMMING_BUDGET = 1 << 22  # uint64 words in one (queries x docs x words) XOR block (32 MiB)

SCORING_NOTE: dict[Precision, str] = {
    "float32": "float32 inner product",
    "float16": "float16 codes scored as float32 (numpy has no fast float16 kernel: float32 speed, half the memory)",
    "int8": "float32 query vs dequantised int8 documents (not the int32 code dot product, which loses recall); "
    "searched on a float32 copy: float32 speed, 1 byte per dimension stored",
    "binary": "Hamming distance on packed sign bits (exact)",
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


def quantize_int8(vectors: np.ndarray, *, ranges: np.ndarray) -> np.ndarray:
    """int8 codes (-128..127) by sentence_transformers.quantize_embeddings with the given ranges."""
    return np.asarray(
        quantize_embeddings(np.asarray(vectors, dtype=np.float32), precision="int8", ranges=ranges)
    )


def dequantize_int8(codes: np.ndarray, *, ranges: np.ndarray) -> np.ndarray:
    """float32 bucket centres of int8 codes: start + (code + 128 + 0.5) * step (a constant dimension gives start)."""
    starts = ranges[0].astype(np.float32)
    raw = (ranges[1] - ranges[0]).astype(np.float32) / 255
    steps = np.where(raw == 0, 0, raw).astype(np.float32)
    return starts + (codes.astype(np.float32) + np.float32(128.5)) * steps


def pack_binary(vectors: np.ndarray) -> np.ndarray:
    """Sign bits packed 8 per byte (``ubinary``: bit set where the value is > 0), uint8 (n, ceil(d/8))."""
    return np.asarray(quantize_embeddings(np.asarray(vectors, dtype=np.float32), precision="ubinary"))


def _words(packed: np.ndarray) -> np.ndarray:
    """Packed bytes padded with zero bytes to whole 64-bit words and viewed as uint64 (zeros never differ)."""
    n, b = packed.shape
    width = -(-b // 8) * 8
    out = np.zeros((n, width), dtype=np.uint8)
    out[:, :b] = packed
    return out.view(np.uint64)


def hamming(query_bits: np.ndarray, doc_bits: np.ndarray) -> np.ndarray:
    """Hamming distances (m, n) int32 between packed query rows and packed document rows."""
    q, docs = _words(np.atleast_2d(query_bits)), _words(doc_bits)
    return _hamming_words(q, docs)


def _hamming_words(q: np.ndarray, docs: np.ndarray) -> np.ndarray:
    m, (n, w) = q.shape[0], docs.shape
    out = np.empty((m, n), dtype=np.int32)
    step = max(1, _HAMMING_BUDGET // max(n * w, 1))
    for s in range(0, m, step):
        x = np.bitwise_xor(q[s : s + step, None, :], docs[None, :, :])
        out[s : s + step] = np.bitwise_count(x).sum(axis=2, dtype=np.int32)
    return out


@dataclass(frozen=True, eq=False)
class FlatIndex:
    """Unit document vectors at one dimension stored at one precision, searched exactly (per that precision)."""

    precision: Precision
    dims: int
    count: int
    codes: np.ndarray  # what is stored: float32, float16, int8 codes or packed bits (uint8)
    scoring: np.ndarray | None  # float32 matrix the query is scored against (None for binary precisions)
    ranges: np.ndarray | None  # int8 ranges (2, dims); None for float precisions
    rescore: np.ndarray | None  # binary + rescore: dequantised int8 vectors to rescore with
    words: np.ndarray | None  # packed bits as uint64 words (binary precisions)
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER

    @property
    def nbytes(self) -> int:
        """Bytes of the stored codes (computed: count x bytes_per_vector)."""
        return self.count * bytes_per_vector(self.dims, self.precision)

    def hamming_to(self, queries: np.ndarray) -> np.ndarray:
        """Hamming distances (m, n) of the queries' sign bits to the stored bits (binary precisions)."""
        if self.words is None:
            raise SearchError(
                f"{self.precision} stores no sign bits: Hamming distances need a binary precision"
            )
        return _hamming_words(_words(pack_binary(self._queries(queries))), self.words)

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
        distances: np.ndarray | None = None,
    ) -> np.ndarray:
        """Top-k row indices (m, min(k, n)), best first, for unit float32 queries at ``dims``.

        ``distances``: this index's ``hamming_to(queries)`` when already computed (binary precisions share it).
        """
        q = self._queries(queries)
        if self.scoring is not None:
            return exact_search(self.scoring, q, k, exclude=exclude)[0]
        kk = min(k, self.count - (exclude is not None))
        dist = self.hamming_to(q) if distances is None else distances
        if self.precision == "binary":
            return rank_block(-dist.astype(np.float32), kk, exclude=exclude)
        short = rank_block(
            -dist.astype(np.float32), min(self.rescore_multiplier * kk, self.count), exclude=exclude
        )
        assert self.rescore is not None
        scores = np.einsum("md,msd->ms", q, self.rescore[short])
        return np.take_along_axis(short, rank_block(scores, kk), axis=1)


def build_flat(
    vectors: np.ndarray,
    precision: Precision,
    *,
    calibration: np.ndarray | None = None,
    rescore_multiplier: int = DEFAULT_RESCORE_MULTIPLIER,
    reuse_int8: FlatIndex | None = None,
) -> FlatIndex:
    """Quantise unit vectors (n, d) for ``precision``; int8 ranges come from ``calibration`` (default: the vectors).

    ``reuse_int8``: an int8 index of the same vectors whose codes int8 / binary + rescore may take as they are.
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
    reusable = (
        reuse_int8 is not None
        and reuse_int8.precision == "int8"
        and calibration is None
        and reuse_int8.codes.shape == (n, d)
    )
    ranges = (
        int8_ranges(v if calibration is None else calibration)
        if precision in ("int8", "binary+rescore") and not reusable
        else None
    )
    codes: np.ndarray
    scoring = rescore = words = None
    if precision == "float32":
        codes = scoring = v
    elif precision == "float16":
        codes = v.astype(np.float16)
        scoring = codes.astype(np.float32)
    elif precision == "int8" and reusable:
        codes, scoring, ranges = reuse_int8.codes, reuse_int8.scoring, reuse_int8.ranges  # type: ignore[union-attr]
    elif precision == "int8":
        assert ranges is not None
        codes = quantize_int8(v, ranges=ranges)
        scoring = dequantize_int8(codes, ranges=ranges)
    else:
        codes = pack_binary(v)
        words = _words(codes)
        if precision == "binary+rescore" and reusable:
            rescore, ranges = reuse_int8.scoring, reuse_int8.ranges  # type: ignore[union-attr]
        elif precision == "binary+rescore":
            assert ranges is not None
            rescore = dequantize_int8(quantize_int8(v, ranges=ranges), ranges=ranges)
    return FlatIndex(
        precision=precision,
        dims=d,
        count=n,
        codes=codes,
        scoring=scoring,
        ranges=ranges,
        rescore=rescore,
        words=words,
        rescore_multiplier=rescore_multiplier,
    )
