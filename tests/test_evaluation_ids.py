"""Judgments that name documents two ways (file paths from imported qrels, chunk ids from pooled judging) on the
real sample corpus: the union is refused by ``choose_doc_key`` and evaluated per file by ``align_doc_ids``,
so neither kind silently matches nothing."""

from __future__ import annotations

import re
import zlib
from collections import Counter
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from core.datasets.beir import BeirDataset
from core.datasets.eval_sets import load_judged_folder
from core.datasets.qrels_io import qrels_judgments
from core.evaluation.metrics import EvaluationError
from core.evaluation.run import align_doc_ids, choose_doc_key, evaluate, run_retrieval
from core.judging.store import Judgment, JudgmentStore, query_id
from core.types import Corpus, SearchParams

SAMPLE = Path(__file__).resolve().parents[1] / "sample_corpus"
NEW_QUERY = "JWT bearer token authentication"  # judged on the Judge page only, chunk by chunk


@cache
def sample() -> BeirDataset:
    return load_judged_folder(SAMPLE)


class Lexical:
    """A plain word-overlap retriever (bag of words, cosine), enough to rank the sample's files for a query;
    what is tested is which judged ids match, not an embedding model's quality."""

    DIM = 4096

    def __init__(self, corpus: Corpus) -> None:
        self._corpus = corpus
        self._docs = self._vectors([c.embed_text for c in corpus.chunks])

    @property
    def corpus(self) -> Corpus:
        return self._corpus

    def _vectors(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word, n in Counter(re.findall(r"\w+", text.lower())).items():
                out[i, zlib.crc32(word.encode()) % self.DIM] += n
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)

    def embed_queries(self, texts: list[str], *, instruction: str | None = None) -> np.ndarray:
        return self._vectors(texts)

    def search_vectors(self, qvecs, params=SearchParams()):
        scores = qvecs @ self._docs.T
        idx = np.argsort(-scores, axis=1, kind="stable")[:, : params.k]
        return idx, np.take_along_axis(scores, idx, axis=1)


def union_store(tmp_path: Path) -> tuple[JudgmentStore, str, str]:
    """The sample's file-level qrels imported (as a bundle import does) plus pooled judgments of chunks."""
    data = sample()
    corpus = data.corpus
    store = JudgmentStore.for_corpus(corpus.sha256, root=tmp_path)
    imported = qrels_judgments(data.qrels, data.queries, rater="qrels.tsv", time=1.0)
    store.add_judgments(Judgment(query_id(j.query), j.query, j.chunk_id, j.label, j.rater, j.time, None, j.origin)
                        for j in imported)  # fmt: skip
    keys = [c for c in corpus.chunks if c.source == "api/auth_jwt.md"]
    assert keys, "the sample corpus has api/auth_jwt.md"
    for c in keys[:2]:  # a query nobody judged at file level: only its chunks are judged
        store.record(query=NEW_QUERY, chunk_id=c.id, label=2 if c is keys[0] else 0, rater="ann", origin="pooled")
    q01 = data.queries["q01"]  # judged at file level: api/auth_jwt.md 2; a pooled 0 on one chunk must not win
    store.record(query=q01, chunk_id=keys[0].id, label=0, rater="ann", origin="pooled")
    return store, keys[0].id, q01


def test_a_union_of_file_and_chunk_judgments_is_refused_as_is(tmp_path):
    store, chunk, _ = union_store(tmp_path)
    _, qrels = store.qrels("union")
    with pytest.raises(EvaluationError, match="two ways") as e:
        choose_doc_key(sample().corpus, qrels)
    assert "by file path (e.g. " in str(e.value) and repr(chunk) in str(e.value)


def test_the_union_is_evaluated_per_file_and_every_judged_query_counts(tmp_path):
    store, chunk, q01 = union_store(tmp_path)
    corpus = sample().corpus
    queries, qrels = store.qrels("union")
    aligned = align_doc_ids(corpus, qrels)
    files = {c.source for c in corpus.chunks}
    assert aligned.rule == "source" and all(d in files for docs in aligned.qrels.values() for d in docs)
    new = query_id(NEW_QUERY)
    assert aligned.qrels[new] == {"api/auth_jwt.md": 2}  # the file takes its best judged chunk's grade
    assert aligned.qrels[query_id(q01)]["api/auth_jwt.md"] == 2  # judged as a file: that judgment stays
    assert "3 chunk judgments lifted" in aligned.note and "1 files judged directly" in aligned.note
    index = Lexical(corpus)
    run = run_retrieval(index, queries, k=100, doc_id=aligned.rule)
    found = evaluate(run, aligned.qrels, metrics=["ndcg@10"])
    assert found.queries == len(queries) == len(sample().queries) + 1
    assert found.per_query[new]["ndcg@10"] > 0  # the chunk-judged query is scored, not zero for want of ids
    # what the unaligned union gave: files matched, the chunk-judged query's judgments matched nothing
    stale = evaluate(run, qrels, metrics=["ndcg@10"])
    assert stale.per_query[new]["ndcg@10"] == 0.0


def test_one_kind_alone_is_left_as_it_is():
    data = sample()
    same = align_doc_ids(data.corpus, data.qrels)
    assert same.rule == "source" and same.qrels is data.qrels and same.note == ""
    chunk_ids = {q: {data.corpus.chunks[0].id: 1} for q in list(data.qrels)[:3]}
    assert align_doc_ids(data.corpus, chunk_ids).rule == choose_doc_key(data.corpus, chunk_ids) == "id"
