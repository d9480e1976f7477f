"""BM25 as a retrieval system: a stated tokeniser for zh/en text and code, and bm25s for the index and scoring.

The tokeniser (``bm25_tokenize``) is one pipeline for documents and queries alike, decided per token by its
script, never by a chunk's language tag: the sample corpus mixes Chinese prose with English identifiers in
one chunk, and a query carries no tag, so a per-chunk choice would tokenise a query and its answer apart.

What that leaves out: English stemming and stop words reach every Latin-script token, so French or German
text is stemmed as if English (harmless for matching, since a query is stemmed the same way, but crude), and
no other language gets stop words; the corpora this app is for are zh/en.

Scoring is bm25s's default variant, ``method="lucene"`` (Lucene's BM25: idf = ln(1 + (N - df + 0.5) /
(df + 0.5)), always positive; tf part tf / (tf + k1 * (1 - b + b * dl / avgdl))), with bm25s's defaults
k1 = 1.5, b = 0.75. bm25s precomputes every (chunk, term) score into a sparse matrix, so a query sums a few
of its columns. The index is not cached on disk: it builds in about 0.2 s for the sample corpus and a few
seconds at 10k chunks (benchmarks/bench_bm25.py), about what reading a cached copy back would cost.
"""

from __future__ import annotations

import functools
import threading
import time
import unicodedata
from collections.abc import Sequence

import numpy as np
import regex
import Stemmer

from core.errors import SearchError
from core.text import count
from core.types import Corpus, Hit, SearchParams, SearchResult

# Bump whenever ``bm25_tokenize`` changes what it emits: anything cached by tokens keys on it.
TOKENISER_VERSION = "bm25-tok-1"
METHOD, K1, B = "lucene", 1.5, 0.75  # bm25s defaults; lucene's positive idf: score 0 = no shared term
# Lucene's EnglishAnalyzer default stop set (33 words), as bm25s ships it for stopwords="en".


@functools.cache
def _stop_words() -> frozenset[str]:
    """Lucene's English stop words, as bm25s ships them (imported on first use: bm25s loads scipy, seconds)."""
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}\u30fc"  # \u30fc: the katakana prolonged sound mark
_WORD = rf"[^\W{_CJK}]+"  # letters, marks, digits and "_" of any non-CJK script
_RUNS = regex.compile(rf"([{_CJK}]+)|({_WORD}(?:[-.]{_WORD})*)")  # (cjk run, other word run)
_CAMEL = regex.compile(r"(?<=[\p{Ll}\p{N}])(?=\p{Lu})|(?<=\p{Lu})(?=\p{Lu}\p{Ll})")
_LATIN = regex.compile(r"[\p{Latin}\p{N}]+")
_local = threading.local()  # one Snowball stemmer per thread: PyStemmer's objects are not thread-safe


def _stemmer() -> Stemmer.Stemmer:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer


def _camel_split(s: str) -> list[str]:
    """``parseJWTToken`` -> parse, JWT, Token; a word with no upper case after its first letter is one piece."""
    tail = s[1:]
    if tail == tail.lower() or s == s.upper():  # the common cases, without the regex
        return [s]
    return [p for p in _CAMEL.split(s) if p]


def _is_latin(token: str) -> bool:
    return token.isascii() or _LATIN.fullmatch(token) is not None


def bm25_tokenize(text: str) -> list[str]:
    """Terms of one text for BM25, in order (duplicates kept: BM25 counts them).

    1. NFKC-normalise (full-width ``ＪＷＴ`` becomes ``JWT``), then split into runs of CJK characters (Han,
       Hiragana, Katakana, Hangul) and runs of other word characters (any script; ``_`` included; ``-`` or
       ``.`` between two such runs joins them into one compound, e.g. ``LMN-401-05``, ``jwt.decode``).
    2. A CJK run becomes its overlapping character bigrams (``用户鉴权`` -> ``用户 户鉴 鉴权``); a one-character
       run stays a unigram. Why bigrams: no segmenter dependency (jieba and friends carry dictionaries and
       their own mistakes), the same rule for Chinese, Japanese and Korean, and it is what Lucene's
       CJKAnalyzer (CJKBigramFilter) does. No CJK stop words and no stemming.
    3. A compound is kept whole, lowercased, and split at ``-``/``.`` into parts. A part is split on ``_``
       (snake_case) and at case changes (camelCase: ``parseJWTToken`` -> ``parse JWT Token``; digits stay
       with the letters before them, so ``HS256`` and ``sha256`` stay whole); a part that splits is also
       kept whole. Whole compounds and identifiers are exact-match terms: lowercased, never stemmed or
       dropped, so ``HS256`` or ``jwt_decode`` in a query finds the chunk that names them. The whole and its
       pieces all count toward a chunk's length, as with Lucene's WordDelimiterGraphFilter(preserveOriginal).
    4. Every remaining piece is lowercased. Latin-script pieces (Latin letters and digits) then lose the 33
       English stop words of Lucene's EnglishAnalyzer (``_stop_words()``) and are stemmed with English Snowball
       (Porter2, PyStemmer); pieces in other scripts (Cyrillic, Greek, ...) are only lowercased.
    """
    out: list[str] = []
    latin: list[str] = []  # pieces to stem, with their slots in ``out``
    slots: list[int] = []
    stop_words = _stop_words()
    for cjk, word in _RUNS.findall(normalize(text)):
        if cjk:
            out.extend([cjk] if len(cjk) == 1 else [cjk[i : i + 2] for i in range(len(cjk) - 1)])
            continue
        if "-" in word or "." in word:
            parts = word.replace(".", "-").split("-")
            out.append(word.lower())
        else:
            parts = [word]
        for part in parts:
            pieces = (
                [p for s in part.split("_") if s for p in _camel_split(s)]
                if "_" in part
                else _camel_split(part)
            )
            if len(pieces) > 1:
                out.append(part.lower())
            for piece in pieces:
                low = piece.lower()
                if not _is_latin(low):
                    out.append(low)
                elif low not in stop_words:
                    slots.append(len(out))
                    latin.append(low)
                    out.append(low)
    for slot, stem in zip(slots, _stemmer().stemWords(latin), strict=True):
        out[slot] = stem
    return out


def normalize(text: str) -> str:
    """NFKC: full-width Latin letters, digits and punctuation become their ASCII forms (as CJKWidthFilter)."""
    return unicodedata.normalize("NFKC", text)


class Bm25Index:
    """BM25 over a corpus's chunks (``chunk.embed_text``), built with bm25s; a ``System`` of kind "bm25".

    Built once in the constructor and never changed afterwards, so concurrent searches (Streamlit sessions
    run in threads) share it safely: a search only reads the score matrix and the vocabulary.
    """

    def __init__(self, corpus: Corpus, *, k1: float = K1, b: float = B) -> None:
        if not corpus.chunks:
            raise SearchError(
                f"Corpus {corpus.name or '(unnamed)'} has no chunks, so there is nothing to index for BM25: "
                "load a corpus with text first."
            )
        self._corpus = corpus
        self.k1, self.b = k1, b
        t0 = time.perf_counter()
        tokens = [bm25_tokenize(c.embed_text) for c in corpus.chunks]
        t1 = time.perf_counter()
        if not any(tokens):
            raise SearchError(
                f"Corpus {corpus.name or '(unnamed)'}: no chunk of its {count(len(tokens), 'chunk')} has a "
                "searchable term (letters, digits or CJK characters), so BM25 cannot index it; load a corpus "
                "with text."
            )
        import bm25s  # here: it imports scipy (seconds), not needed to open the app

        retriever = bm25s.BM25(k1=k1, b=b, method=METHOD)
        retriever.index(tokens, show_progress=False)
        t2 = time.perf_counter()
        self._retriever = retriever
        self._vocab: dict[str, int] = retriever.vocab_dict
        self.tokenize_seconds = t1 - t0
        self._build_seconds = t2 - t0
        arrays = sum(int(np.asarray(retriever.scores[k]).nbytes) for k in ("data", "indices", "indptr"))
        terms = sum(len(t.encode("utf-8")) + 4 for t in self._vocab)  # each term + its int32 id, as saved
        self._index_bytes = arrays + terms

    def __repr__(self) -> str:
        return f"Bm25Index({self.name!r}, chunks={len(self._corpus.chunks)}, terms={self.vocab_size})"

    @property
    def name(self) -> str:
        return "bm25"

    @property
    def kind(self) -> str:
        return "bm25"

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    @property
    def index_bytes(self) -> int:
        """The score matrix (CSC data, indices, indptr) plus the vocabulary as bm25s saves it (UTF-8 terms
        and int32 ids); the Python dict that holds the vocabulary in memory takes several times the latter."""
        return self._index_bytes

    @property
    def build_seconds(self) -> float:
        """Tokenising every chunk plus building the score matrix."""
        return self._build_seconds

    @property
    def vocab_size(self) -> int:
        return sum(1 for t in self._vocab if t)  # bm25s adds an empty term of its own

    def search(self, query: str, params: SearchParams = SearchParams()) -> SearchResult:
        """The chunks that share a term with ``query``, best BM25 score first, at most ``params.k``.

        ``embed_ms`` is the tokenising time, ``search_ms`` the scoring and top-k; ``extra["terms"]`` the
        query's distinct terms found in the corpus. A query none of whose terms occurs in the corpus (or with
        no term at all) gets no hits and ``extra["note"]`` saying why. ``k`` above the corpus size is fine.
        """
        k = params.k
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise SearchError(f"k must be a positive integer, got {k!r}.")
        t0 = time.perf_counter()
        tokens = bm25_tokenize(query)
        t1 = time.perf_counter()
        known = [t for t in tokens if t in self._vocab]
        terms = tuple(dict.fromkeys(known))
        if not known:
            note = (
                "The query has no searchable term (only stop words, punctuation or nothing at all); "
                "BM25 returns nothing for it."
                if not tokens
                else "None of the query's terms occurs in the corpus, so BM25 has nothing to match; "
                "try other words or a dense model."
            )
            extra: dict = {"terms": (), "note": note}
            return SearchResult(
                hits=(), embed_ms=(t1 - t0) * 1000.0, search_ms=0.0, dims=0, exact=True, extra=extra
            )
        n = len(self._corpus.chunks)
        docs, scores = self._retriever.retrieve([known], k=min(k, n), show_progress=False, n_threads=0)
        t2 = time.perf_counter()
        chunks = self._corpus.chunks
        # only chunks that share a term score above 0 (Lucene's idf is positive); the rest are not hits
        matched = [(i, s) for i, s in zip(docs[0].tolist(), scores[0].tolist(), strict=True) if s > 0.0]
        hits = tuple(
            Hit(rank=r + 1, score=s, chunk_index=i, chunk_id=chunks[i].id) for r, (i, s) in enumerate(matched)
        )
        embed_ms, search_ms = (t1 - t0) * 1000.0, (t2 - t1) * 1000.0
        return SearchResult(
            hits=hits, embed_ms=embed_ms, search_ms=search_ms, dims=0, exact=True, extra={"terms": terms}
        )

    def search_many(
        self, queries: Sequence[str], params: SearchParams = SearchParams()
    ) -> list[SearchResult]:
        """``search`` for each query; each result carries its own query's times (no batch averaging)."""
        return [self.search(q, params) for q in queries]
