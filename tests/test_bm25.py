"""BM25 as a system: the tokeniser, equality with a reference bm25s run, identifier queries, the judged sample set."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import bm25s
import pytest

from core.datasets import load_beir, load_judged_folder
from core.errors import SearchError
from core.evaluation import evaluate
from core.search import Bm25Index, bm25_tokenize
from core.search.systems import System
from core.types import Chunk, Corpus, SearchParams

SAMPLE = Path(__file__).resolve().parents[1] / "sample_corpus"


@pytest.fixture(scope="module")
def sample():
    return load_judged_folder(SAMPLE)


@pytest.fixture(scope="module")
def sample_bm25(sample):
    return Bm25Index(sample.corpus)


# ---- the tokeniser ---------------------------------------------------------------------------------------


def test_identifiers_split_on_camel_and_snake_case_and_stay_whole():
    assert bm25_tokenize("parseJWTToken") == ["parsejwttoken", "pars", "jwt", "token"]
    assert bm25_tokenize("jwt_decode") == ["jwt_decode", "jwt", "decod"]
    assert bm25_tokenize("XMLHttpRequest") == ["xmlhttprequest", "xml", "http", "request"]
    # digits stay with their letters: an algorithm name or a hash is one exact term
    assert bm25_tokenize("HS256 sha256") == ["hs256", "sha256"]
    # an error code or a dotted path is kept whole beside its parts
    assert bm25_tokenize("LMN-401-05") == ["lmn-401-05", "lmn", "401", "05"]
    assert bm25_tokenize("os.path.join") == ["os.path.join", "os", "path", "join"]
    # a query in camelCase meets the same words written in snake_case
    assert {"requir", "scope"} <= set(bm25_tokenize("requireScopes")) & set(bm25_tokenize("require_scopes"))


def test_cjk_runs_become_overlapping_bigrams_and_lone_characters_stay():
    assert bm25_tokenize("用户鉴权") == ["用户", "户鉴", "鉴权"]
    assert bm25_tokenize("鉴") == ["鉴"]
    assert bm25_tokenize("共识，机制") == ["共识", "机制"]  # no bigram across punctuation
    assert bm25_tokenize("トークン") == ["トー", "ーク", "クン"]  # Katakana with its prolonged sound mark
    assert bm25_tokenize("검색 엔진") == ["검색", "엔진"]  # Hangul
    # full-width Latin (common in Chinese text) is folded to ASCII, as Lucene's CJKWidthFilter does
    assert bm25_tokenize("ＨＳ２５６") == ["hs256"]


def test_mixed_chinese_and_english_split_at_the_script_change():
    assert bm25_tokenize("如何实现基于JWT的用户鉴权？") == [
        "如何", "何实", "实现", "现基", "基于", "jwt", "的用", "用户", "户鉴", "鉴权",
    ]  # fmt: skip
    assert bm25_tokenize("调用jwt_decode校验Tokens") == [
        "调用",
        "jwt_decode",
        "jwt",
        "decod",
        "校验",
        "token",
    ]


def test_english_stop_words_and_stemming_apply_to_latin_script_only():
    assert bm25_tokenize("The tokens are refreshed at the end of the hour") == [
        "token",
        "refresh",
        "end",
        "hour",
    ]
    assert bm25_tokenize("a the of and") == []
    # other scripts are lowercased, never stemmed or stop-listed with the English rules
    assert bm25_tokenize("Токены обновлены") == ["токены", "обновлены"]
    # an identifier is never a stop word, even when a piece of it is
    assert "to_json" in bm25_tokenize("to_json")


# ---- the index against bm25s itself ----------------------------------------------------------------------


def _write_beir_from_sample(root: Path, sample) -> Path:
    """The sample's chunks as a BEIR set: corpus.jsonl (chunk ids), its queries, chunk-level qrels."""
    root.mkdir(parents=True)
    chunks = sample.corpus.chunks
    with open(root / "corpus.jsonl", "w", encoding="utf-8") as fh:
        for c in chunks:
            fh.write(json.dumps({"_id": c.id, "title": "", "text": c.text}, ensure_ascii=False) + "\n")
    with open(root / "queries.jsonl", "w", encoding="utf-8") as fh:
        for qid, text in sample.queries.items():
            fh.write(json.dumps({"_id": qid, "text": text}, ensure_ascii=False) + "\n")
    (root / "qrels").mkdir()
    rows = ["query-id\tcorpus-id\tscore"]
    for qid, judged in sample.qrels.items():
        rows += [f"{qid}\t{c.id}\t{g}" for c in chunks for src, g in judged.items() if c.source == src]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


@pytest.mark.parametrize("k", [10, 1000])
def test_ranked_lists_equal_a_reference_bm25s_run_with_the_same_tokens(tmp_path, sample, k):
    folder = _write_beir_from_sample(tmp_path / "lumen-chunks", sample)
    corpus, queries, _ = load_beir(folder)
    index = Bm25Index(corpus)

    # the reference: bm25s with its defaults, fed straight from corpus.jsonl in file order
    docs = [json.loads(line) for line in (folder / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    ids = [d["_id"] for d in docs]
    reference = bm25s.BM25()
    reference.index(
        [bm25_tokenize((d["title"] + " " + d["text"]).strip()) for d in docs], show_progress=False
    )

    results = index.search_many(list(queries.values()), SearchParams(k=k))
    assert len(results) == len(queries) == 58
    for (qid, text), got in zip(queries.items(), results, strict=True):
        found, scores = reference.retrieve([bm25_tokenize(text)], k=min(k, len(ids)), show_progress=False)
        # documents sharing no term score 0: not hits (the index leaves them out the same way)
        expected = [
            (ids[i], float(s)) for i, s in zip(found[0].tolist(), scores[0].tolist(), strict=True) if s > 0
        ]
        assert [(h.chunk_id, h.score) for h in got.hits] == expected, qid
        assert [h.rank for h in got.hits] == list(range(1, len(got.hits) + 1))
    assert sum(len(r.hits) for r in results) > (58 * 9 if k == 10 else 58 * 50)  # the lists are not empty


# ---- what a user sees on the sample corpus ---------------------------------------------------------------


def test_identifier_queries_find_every_chunk_that_names_them(sample, sample_bm25):
    naming = {c.id for c in sample.corpus.chunks if "hs256" in c.embed_text.lower()}
    hits = sample_bm25.search("HS256", SearchParams(k=50)).hits
    assert {h.chunk_id for h in hits} == naming
    assert {"api/auth_jwt.md", "code/config/lumen.yaml", "code/lumen/jwt_middleware.py"} <= {
        h.chunk_id.split("#")[0] for h in hits
    }
    assert (
        sample_bm25.search("bearer_token", SearchParams(k=3))
        .hits[0]
        .chunk_id.startswith("code/lumen/jwt_middleware.py#")
    )
    assert (
        sample_bm25.search("What does error code LMN-401-05 mean?")
        .hits[0]
        .chunk_id.startswith("api/error_codes.md#")
    )
    # the article's first query, in Chinese around an English acronym
    assert sample_bm25.search("如何实现基于 JWT 的用户鉴权？").hits[0].chunk_id.startswith("api/auth_jwt.md#")


def _file_run(index: Bm25Index, queries: dict[str, str]) -> dict[str, dict[str, float]]:
    """{qid: {file: best chunk score}}: the sample's judgments name files."""
    run: dict[str, dict[str, float]] = {}
    for qid, result in zip(
        queries, index.search_many(list(queries.values()), SearchParams(k=1000)), strict=True
    ):
        docs: dict[str, float] = {}
        for h in result.hits:
            src = index.corpus.chunks[h.chunk_index].source
            docs[src] = max(docs.get(src, 0.0), h.score)
        run[qid] = docs
    return run


def test_judged_sample_set_scores_and_identifier_queries_are_perfect(sample, sample_bm25):
    ev = evaluate(_file_run(sample_bm25, sample.queries), sample.qrels, ["ndcg@10", "mrr@10", "recall@100"])
    assert ev.queries == 58
    # measured 0.627 / 0.825 (tokeniser bm25-tok-1); bm25s's own tokeniser (\w\w+, a CJK run as one token)
    # gets 0.464 / 0.547 here (0.278 nDCG@10 on the Chinese queries): the bigrams are what this checks
    assert ev.mean["ndcg@10"] > 0.58
    assert ev.mean["mrr@10"] > 0.75
    # queries that name an identifier or an error code put a judged-relevant file first
    for qid in ("q01", "q03", "q13"):
        assert ev.per_query[qid]["mrr@10"] == 1.0, qid


# ---- edges -----------------------------------------------------------------------------------------------


def test_queries_without_a_known_term_return_no_hits_and_say_why(sample_bm25):
    unknown, stop_only, empty = sample_bm25.search_many(["zzyzx qwxkj", "the of and", ""])
    assert unknown.hits == () and "None of the query's terms occurs in the corpus" in unknown.extra["note"]
    assert stop_only.hits == () and "no searchable term" in stop_only.extra["note"]
    assert empty.hits == () and empty.extra["note"]
    partly = sample_bm25.search("zzyzx HS256")
    assert partly.hits and partly.extra["terms"] == ("hs256",) and "note" not in partly.extra


def test_k_above_the_corpus_size_and_bad_k(sample, sample_bm25):
    every = sample_bm25.search("the API", SearchParams(k=10_000)).hits
    assert 0 < len(every) <= len(sample.corpus.chunks)
    assert all(a.score >= b.score for a, b in pairwise(every))
    with pytest.raises(SearchError, match="k must be a positive integer"):
        sample_bm25.search("api", SearchParams(k=0))


def test_an_empty_or_textless_corpus_is_refused_by_name():
    with pytest.raises(SearchError, match="'?empty'?.*no chunks"):
        Bm25Index(Corpus(chunks=(), files=(), sha256="0", name="empty"))
    blank = Corpus(chunks=(Chunk(id="a", source="a.txt", text="—— !!"),), files=(), sha256="1", name="dashes")
    with pytest.raises(SearchError, match="dashes: no chunk of its 1 chunk has a searchable term"):
        Bm25Index(blank)


def test_a_system_with_costs_and_per_query_times(sample_bm25):
    assert isinstance(sample_bm25, System) and sample_bm25.kind == "bm25"
    assert sample_bm25.build_seconds > 0 and sample_bm25.index_bytes > 100_000
    r = sample_bm25.search("rate limit")
    assert r.embed_ms > 0 and r.search_ms > 0 and r.hits[0].score > r.hits[-1].score > 0


def test_concurrent_searches_equal_sequential_ones(sample, sample_bm25):
    queries = list(sample.queries.values()) * 4
    expected = [[(h.chunk_id, h.score) for h in r.hits] for r in sample_bm25.search_many(queries)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda q: [(h.chunk_id, h.score) for h in sample_bm25.search(q).hits], queries))
    assert got == expected
