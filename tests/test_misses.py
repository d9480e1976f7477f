"""Misses said out loud (issue 29): the languages a top k leaves out, ranks deeper than k, a pinned file's rank,
which side of a disagreement looked better. Core rules on constructed lists, then the sample corpus with the
real bundled all-MiniLM-L6-v2, then the Compare page through AppTest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.datasets import load_judged_folder
from core.models import load_embedder, resolve_model
from core.search import (
    Bm25Index,
    DeepList,
    build_model_index,
    deep_list,
    file_chunks,
    file_rank,
    leaning,
    side_languages,
)
from core.store import EmbeddingStore
from core.types import SearchParams
from tests.app_env import app, use_store

SAMPLE = Path(__file__).resolve().parents[1] / "sample_corpus"
JWT_QUERY = "如何实现基于 JWT 的用户鉴权？"
HALF = {"en": 51, "zh-cn": 49}


# -- languages of a top k ------------------------------------------------------------------------


def test_a_chinese_query_with_only_chinese_hits_misses_the_english_half_and_says_so():
    side = side_languages("A", ["zh-cn"] * 10, HALF, query_lang="zh-cn")
    assert side.flagged
    assert side.sentences() == ["A returns no English chunk in its top 10; 51% of the corpus is English."]
    assert side.missing[0].cross
    assert side.summary() == "A's top 10: 10 Chinese"


def test_an_english_query_that_finds_no_chinese_chunk_names_the_chinese_share():
    side = side_languages("B", ["en"] * 10, HALF, query_lang="en")
    assert side.sentences() == ["B returns no Chinese chunk in its top 10; 49% of the corpus is Chinese."]


def test_missing_the_querys_own_language_is_said_as_such():
    side = side_languages("A", ["en"] * 10, HALF, query_lang="zh-cn")
    assert side.sentences() == [
        "A returns no Chinese chunk for a Chinese query; 49% of the corpus is Chinese."
    ]
    assert not side.missing[0].cross


def test_one_hit_in_each_language_is_no_miss():
    assert not side_languages("A", ["en"] * 9 + ["zh-cn"], HALF, query_lang="en").flagged


def test_small_languages_and_short_lists_are_not_flagged():
    hist = {"en": 90, "zh-cn": 10, "unknown": 40}  # Chinese 7% of the chunks; 'unknown' is never a language
    assert not side_languages("A", ["en"] * 10, hist, query_lang="en").flagged
    # 49% Chinese, but a top 2 is not expected to hold one (share x k < 1)... a top 3 is
    assert not side_languages("A", ["en"] * 2, {"en": 51, "zh-cn": 49}, query_lang="en").flagged
    assert side_languages("A", ["en"] * 3, {"en": 51, "zh-cn": 49}, query_lang="en").flagged


def test_threshold_outside_zero_one_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="0.15 means 15%"):
        side_languages("A", ["en"], HALF, query_lang="en", threshold=15)


# -- deep ranks ----------------------------------------------------------------------------------


def test_deep_list_says_a_rank_beyond_k_and_is_honest_beyond_its_depth():
    ranked = DeepList(ids=tuple(f"c{i}" for i in range(1, 101)), depth=100, complete=False)
    assert ranked.where("c37") == "#37"
    assert ranked.where("c500") == "not in top 100"
    full = DeepList(ids=("c1", "c2"), depth=460, complete=True)
    assert full.where("c9") == "not returned"


def test_a_files_best_rank_is_its_best_chunk():
    ranked = DeepList(ids=("x", "f#2", "y", "f#1"), depth=4, complete=True)
    assert file_rank(ranked, ["f#1", "f#2"]) == (2, "f#2")
    assert file_rank(ranked, ["g#1"]) is None


# -- which side looked better --------------------------------------------------------------------


def test_labels_decide_which_side_looked_better():
    deep = DeepList(ids=(), depth=10, complete=False)
    lean = leaning(["a1", "a2"], ["b1", "b2"], deep, deep, {"a1": 1, "a2": 1, "b1": 0})
    assert lean.side == "A" and lean.by == "labels"
    assert "2 vs 0 relevant" in lean.text


def test_without_labels_the_side_whose_hits_the_other_ranks_lower_is_named():
    deep_a = DeepList(ids=("a1", "a2", "b1", "b2"), depth=4, complete=True)  # A ranks B's picks 3rd and 4th
    deep_b = DeepList(ids=("b1", "b2"), depth=50, complete=False)  # B does not rank A's picks in its top 50
    lean = leaning(["a1", "a2"], ["b1", "b2"], deep_a, deep_b)
    assert lean.side == "A" and lean.by == "ranks"
    assert lean.text == "no judged hit; B ranks A's top hits lower (median #51 vs #3.5)"


# -- the sample corpus with the real bundled MiniLM ----------------------------------------------


@pytest.fixture(scope="module")
def sample():
    return load_judged_folder(SAMPLE)


@pytest.fixture(scope="module")
def minilm_index(sample, shared_store_dir):
    emb = load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu")
    return build_model_index(sample.corpus, emb, store=EmbeddingStore(shared_store_dir))


def test_minilm_answers_the_chinese_jwt_question_from_chinese_chunks_only_and_the_miss_is_flagged(
    sample, minilm_index
):
    corpus = sample.corpus
    answer = minilm_index.answer(JWT_QUERY, SearchParams(k=10))
    langs = [corpus.chunks[h.chunk_index].lang for h in answer.result.hits]
    side = side_languages("A", langs, corpus.lang_histogram(), query_lang="zh-cn")
    assert side.flagged, side
    english = next(m for m in side.missing if m.lang == "en")
    assert english.cross and english.share > 0.5
    assert re.fullmatch(r"A returns no English chunk in its top 10; \d\d% of the corpus is English\.",
                        side.sentences()[0])  # fmt: skip


def test_deep_ranks_of_a_dense_model_cover_the_whole_corpus_and_agree_with_its_top_k(sample, minilm_index):
    params = SearchParams(k=10, exact=True)
    answer = minilm_index.answer(JWT_QUERY, params)
    deep = deep_list(minilm_index, JWT_QUERY, params, query_vector=answer.query_vector)
    assert deep.complete and len(deep.ids) == len(sample.corpus.chunks)
    assert list(deep.ids[:10]) == [h.chunk_id for h in answer.result.hits]
    # every file has a best rank somewhere in a whole-corpus ranking
    files = file_chunks(sample.corpus)
    ranks = {src: file_rank(deep, ids) for src, ids in files.items()}
    assert all(r is not None for r in ranks.values())
    assert sorted(r[0] for r in ranks.values() if r)[0] == 1


def test_bm25_deep_list_is_the_whole_corpus_and_absent_chunks_are_not_returned(sample):
    bm25 = Bm25Index(sample.corpus)
    deep = deep_list(bm25, "JWT", SearchParams(k=5))
    assert deep.complete and 0 < len(deep.ids) < len(sample.corpus.chunks)
    missing = next(c.id for c in sample.corpus.chunks if c.id not in deep.ids)
    assert deep.where(missing) == "not returned"


# -- the Compare page ----------------------------------------------------------------------------

SEEDED = ("corpus_key", "corpus_origin", "models_a", "models_b", "built_a", "built_b")


@pytest.fixture(scope="module")
def built_state(shared_store_dir):
    """The home page's quick start, once (vectors come from the shared store when it holds them)."""
    with use_store(shared_store_dir):
        at = app()
        at.run()
        at.button(key="home_quick").click().run()
        assert not at.exception, at.exception
        yield {key: at.session_state[key] for key in SEEDED}


def _compare(state: dict, **extra):
    at = app("pages/3_Compare.py")
    for key, value in {**state, **extra}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def _plain(markdown: str) -> str:
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


@pytest.mark.slow
def test_compare_warns_that_minilm_misses_the_english_half_and_follows_a_pinned_file(built_state):
    minilm = next(s for s in "ab" if "MiniLM" in built_state[f"models_{s}"]).upper()
    pinned = "api/auth_jwt.md"
    at = _compare(built_state, cmp_query=JWT_QUERY, cmp_k=10, cmp_pinned=pinned)
    warnings = [_plain(w.value) for w in at.warning]
    assert any(f"{minilm} returns no English chunk in its top 10" in w for w in warnings), warnings
    pins = [_plain(i.value) for i in at.info if pinned in _plain(i.value)]
    assert pins, [i.value for i in at.info]
    assert re.search(rf"{re.escape(pinned)}\*\*: A #\d+, B #\d+", pins[0]), pins[0]
    # the pin survives another query, and its ranks follow it
    at.session_state["cmp_query"] = "Explain the consensus mechanism in blockchain"
    at.run()
    assert not at.exception, at.exception
    again = [_plain(i.value) for i in at.info if pinned in _plain(i.value)]
    assert again and again[0] != pins[0], (pins, again)
    # cards say where the other column ranks a hit beyond k (dense models rank the whole corpus): no bare 'only A'
    cards = [_plain(m.value) for m in at.markdown if m.value.startswith("**#")]
    deeper = [int(r) for r in re.findall(r"[AB]: #(\d+) \(▼", "\n".join(cards))]
    assert any(r > 10 for r in deeper), cards
    assert not any("only A" in c or "only B" in c for c in cards), cards


@pytest.mark.slow
def test_the_disagreement_list_says_which_side_looked_better_and_by_what_rule(built_state):
    at = _compare(built_state, cmp_queryset="sample")
    at.button(key="_cmp_disagree_run").click().run()
    assert not at.exception, at.exception
    rows = [
        _plain(m.value) for m in at.markdown if re.search(r"\n:gray\[(no judged|even|[AB] better)", m.value)
    ]
    assert len(rows) >= 5, [m.value for m in at.markdown]
    assert any(
        re.search(r"no judged hit; [AB] ranks [AB]'s top hits lower \(median #[\d.]+ vs #[\d.]+\)", r)
        for r in rows
    )
    # the sample set's judgments decide where either top 10 holds a judged file
    assert any(re.search(r"[AB] better by labels: \d+ vs \d+ relevant \(A vs B\)", r) for r in rows), rows
    assert any("whose top hits the other model ranks lower" in c.value for c in at.caption)


def test_a_bm25_column_is_searched_once_deep_and_shows_its_top_k(sample):
    from ui.compare import search_system

    side = search_system("B", Bm25Index(sample.corpus), "JWT signing key rotation", 5, None)
    assert len(side.result.hits) == 5 and all(z != z for z in side.z_scores)  # no z-score for BM25: NaN
    assert side.deep is not None and side.deep.complete
    assert list(side.deep.ids[:5]) == [h.chunk_id for h in side.result.hits]
    assert len(side.deep.ids) > 5  # ranks beyond k come from the same search
