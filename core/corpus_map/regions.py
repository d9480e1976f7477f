"""Regions of the corpus map: k-means clusters of chunks, each named by its most distinctive terms.

The number of regions (``choose_k``): k = round(sqrt(n / 10)), at least 2 and at most 10 (and never more than
the chunks): about 7 regions for the 460-chunk sample corpus, 10 from 1,000 chunks on. Few enough that each
region holds some of the queries and a reader can take in every label; a finer map answers nothing the
per-query table does not.

Clustering: scikit-learn ``KMeans`` (k-means++, 4 seeded restarts, ``random_state=seed``) on the rows given:
2-D layout coordinates, or vectors (then L2-normalised). Regions are numbered largest first (ties by their
first chunk), so ids are stable for the same input and seed.

Labels: class-based TF-IDF (c-TF-IDF, as BERTopic names topics) over the project's BM25 tokeniser
(``core.search.bm25_tokenize``: CJK bigrams, code identifiers kept whole, English stemming). A region is one
document made of its chunks; a term scores tf(t, region) / |region tokens| x log(1 + A / f(t)), with A the mean
number of tokens per region and f(t) the term's frequency over the whole corpus. Candidate terms: two or more
characters for CJK (no bigram holding a function character such as 的 or 个) and three for other scripts, not
only digits, in at least two of the region's chunks (when it has four or more). The label is
the top 4 terms joined with " · " (``terms`` keeps the top 5); a language that makes up at least 30% of the
region's chunks gets at least one term in its own script (a Chinese region gets Chinese bigrams, a mixed one
both). A stemmed English term is shown as the region's most frequent word that stems to it ("authent" ->
"authentication"). At most ``LABEL_SAMPLE`` chunks per region (a seeded sample) are tokenised, so a 100k-chunk
corpus is labelled in seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import regex

from core.corpus_map.layout import MapError, unit_rows
from core.search import bm25_tokenize
from core.types import Corpus

MAX_K, MIN_K = 10, 2
LABEL_TERMS, TERMS_KEPT = 4, 5
LABEL_SAMPLE = 1000  # chunks per region tokenised for its label, at most
OWN_SCRIPT_SHARE = 0.3  # a language with this share of a region's chunks gets a term in its script
_CJK = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}]")
_WORDS = regex.compile(r"[\p{Latin}][\p{Latin}\p{N}_]*")
_CJK_LANGS = ("zh", "ja", "ko")
# function characters: a bigram holding one ("一个", "的数") names nothing; labels only, BM25 keeps them
_CJK_FUNCTION = frozenset("的了是个这和或也就都将被把")


@dataclass(frozen=True)
class Region:
    """One region of the map: its chunks, what they are about (label, terms), files, languages, centre."""

    id: int
    label: str  # its most distinctive terms, in the region's own language(s), joined with " · "
    terms: tuple[str, ...]
    chunk_ids: tuple[str, ...]
    files: dict[str, int]  # file -> chunk count, most chunks first
    languages: dict[str, int]  # language tag -> chunk count, most first
    centroid: tuple[float, float]  # mean (x, y) of its chunks in the layout the regions were computed on
    centroid_b: tuple[float, float] | None = None  # the same in model B's layout (set by build_map)

    @property
    def size(self) -> int:
        """How many chunks the region holds."""
        return len(self.chunk_ids)

    def to_dict(self) -> dict:
        """JSON-ready."""
        return {
            "id": self.id, "label": self.label, "terms": list(self.terms), "chunks": self.size,
            "chunk_ids": list(self.chunk_ids), "files": self.files, "languages": self.languages,
            "centroid": list(self.centroid), "centroid_b": None if self.centroid_b is None else list(self.centroid_b),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict) -> Region:
        """The inverse of ``to_dict``."""
        cb = d.get("centroid_b")
        return cls(
            id=int(d["id"]), label=str(d["label"]), terms=tuple(d["terms"]), chunk_ids=tuple(d["chunk_ids"]),
            files={str(k): int(v) for k, v in d["files"].items()},
            languages={str(k): int(v) for k, v in d["languages"].items()},
            centroid=(float(d["centroid"][0]), float(d["centroid"][1])),
            centroid_b=None if cb is None else (float(cb[0]), float(cb[1])),
        )  # fmt: skip


def choose_k(n: int) -> int:
    """The number of regions for ``n`` chunks: round(sqrt(n / 10)) within 2..10, never more than n."""
    return max(1, min(n, MAX_K, max(MIN_K, round(math.sqrt(n / 10)))))


def cluster(points: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Region index of each row (0 = the largest region), by seeded k-means."""
    from sklearn.cluster import (
        KMeans,
    )  # here: scikit-learn imports scipy (seconds), not needed to open the app

    n = points.shape[0]
    if k == 1:
        return np.zeros(n, dtype=np.int64)
    labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(points)
    sizes = np.bincount(labels, minlength=k)
    first = np.array([np.flatnonzero(labels == c)[0] if sizes[c] else n for c in range(k)])
    order = sorted(range(k), key=lambda c: (-sizes[c], first[c]))
    remap = np.empty(k, dtype=np.int64)
    remap[order] = np.arange(k)
    return remap[labels]


def _base_lang(lang: str) -> str:
    return lang.split("-")[0].lower()


def _is_cjk(term: str) -> bool:
    return _CJK.search(term) is not None


def _candidate(term: str) -> bool:
    if _is_cjk(term):
        return len(term) >= 2 and not _CJK_FUNCTION.intersection(term)
    return len(term) >= 3 and not term.replace(".", "").replace("-", "").isdigit()


def _label_terms(scores: dict[str, float], langs: Counter, region_size: int) -> list[str]:
    """Top terms by score, then at least one in the script of each language with >= 30% of the chunks."""
    ranked = sorted(scores, key=lambda t: (-scores[t], t))
    picked = ranked[:TERMS_KEPT]
    total = sum(langs.values()) or 1
    wants_cjk = (
        sum(c for lang, c in langs.items() if _base_lang(lang) in _CJK_LANGS) / total >= OWN_SCRIPT_SHARE
    )
    wants_latin = (
        sum(c for lang, c in langs.items() if _base_lang(lang) not in _CJK_LANGS and lang != "unknown")
        / total
        >= OWN_SCRIPT_SHARE
    )
    for wanted, test in ((wants_cjk, _is_cjk), (wants_latin, lambda t: not _is_cjk(t))):
        if wanted and not any(test(t) for t in picked[:LABEL_TERMS]):
            best = next((t for t in ranked if test(t)), None)
            if best is not None:
                head = [t for t in picked[:LABEL_TERMS] if t != best]
                # keep the other script's best term: replace the weakest term that is not the only one of its script
                picked = [*head[: LABEL_TERMS - 1], best, *[t for t in picked[LABEL_TERMS:] if t != best]]
    return picked[:TERMS_KEPT]


def _surface_forms(terms: Sequence[str], texts: Sequence[str]) -> dict[str, str]:
    """For stemmed Latin terms, the most frequent word of ``texts`` that the tokeniser turns into that term."""
    wanted = {t for t in terms if not _is_cjk(t) and t.isalpha()}
    if not wanted:
        return {}
    seen: dict[str, str | None] = {}
    counts: dict[str, Counter] = {t: Counter() for t in wanted}
    for text in texts:
        for word in _WORDS.findall(text):
            low = word.lower()
            if low not in seen:
                toks = bm25_tokenize(low)
                seen[low] = toks[0] if len(toks) == 1 and toks[0] in wanted else None
            term = seen[low]
            if term is not None:
                counts[term][low] += 1
    return {t: c.most_common(1)[0][0] for t, c in counts.items() if c and c.most_common(1)[0][0] != t}


def regions(
    corpus: Corpus,
    xy_or_vectors: np.ndarray,
    *,
    k: int | None = None,
    seed: int = 0,
    xy: np.ndarray | None = None,
) -> list[Region]:
    """The corpus's regions: k-means on ``xy_or_vectors`` (one row per chunk), labelled by c-TF-IDF terms.

    ``k``: the number of regions (None: ``choose_k``, see the module docstring). ``xy``: the 2-D layout whose
    coordinates the centroids are given in (default: ``xy_or_vectors`` itself when it has two columns, else
    (0, 0)). Returns the regions largest first; every chunk is in exactly one.
    """
    points = np.asarray(xy_or_vectors, dtype=np.float32)
    n = len(corpus.chunks)
    if points.ndim != 2 or points.shape[0] != n:
        raise MapError(
            f"regions: got {points.shape[0] if points.ndim else 0} rows for {n} chunks of corpus "
            f"{corpus.name or '(unnamed)'}; pass one layout row or vector per chunk, in the corpus's order."
        )
    if k is not None and (isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n):
        raise MapError(f"regions: k must be a whole number from 1 to the {n} chunks, got {k!r}.")
    k = k or choose_k(n)
    if points.shape[1] > 2:
        points = unit_rows(points, what="regions' vectors")
    labels = cluster(points, k, seed=seed)
    centre_xy = xy if xy is not None else (points if points.shape[1] == 2 else None)

    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(labels == r) for r in range(k)]
    sampled = [
        m if len(m) <= LABEL_SAMPLE else np.sort(rng.choice(m, LABEL_SAMPLE, replace=False)) for m in members
    ]
    tokens = {int(i): bm25_tokenize(corpus.chunks[i].embed_text) for m in sampled for i in m}
    tf = [Counter(t for i in m for t in tokens[int(i)] if _candidate(t)) for m in sampled]
    df = [Counter(t for i in m for t in set(tokens[int(i)])) for m in sampled]
    total = Counter[str]()
    for c in tf:
        total.update(c)
    mean_tokens = max(1.0, sum(sum(c.values()) for c in tf) / k)

    out: list[Region] = []
    for r in range(k):
        chunks = [corpus.chunks[i] for i in members[r]]
        langs = Counter(c.lang for c in chunks)
        size = sum(tf[r].values()) or 1
        need_df = 2 if len(sampled[r]) >= 4 else 1
        scores = {
            t: (f / size) * math.log(1 + mean_tokens / total[t])
            for t, f in tf[r].items()
            if df[r][t] >= need_df
        }
        terms = _label_terms(scores, langs, len(chunks))
        shown = _surface_forms(terms, [corpus.chunks[int(i)].embed_text for i in sampled[r][:200]])
        terms = list(dict.fromkeys(shown.get(t, t) for t in terms))
        files = Counter(c.source for c in chunks)
        centroid = (0.0, 0.0)
        if centre_xy is not None and len(members[r]):
            cx, cy = np.asarray(centre_xy, dtype=np.float64)[members[r]].mean(axis=0)
            centroid = (float(cx), float(cy))
        out.append(
            Region(
                id=r,
                label=" · ".join(terms[:LABEL_TERMS]) or "(no terms)",
                terms=tuple(terms),
                chunk_ids=tuple(c.id for c in chunks),
                files=dict(sorted(files.items(), key=lambda kv: (-kv[1], kv[0]))),
                languages=dict(sorted(langs.items(), key=lambda kv: (-kv[1], kv[0]))),
                centroid=centroid,
            )
        )
    return out


def region_of(regions_: Sequence[Region]) -> dict[str, int]:
    """chunk id -> region id."""
    return {cid: r.id for r in regions_ for cid in r.chunk_ids}
