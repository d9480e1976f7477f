"""Test queries written from the corpus (core.queries): stratified sampling, the stated filters, provenance, the
JSONL + qrels files, and the ``queries`` CLI end to end with the real bundled LLM (slow)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from core.cli.common import load_data_corpus
from core.cli.main import main
from core.judging import query_id
from core.llm import CachedLlm, Cancelled, LlmCache
from core.queries import (
    FILTER_ORDER,
    PROMPT_VERSION,
    QUERY_TYPES,
    SOURCE_GRADE,
    GeneratedQuery,
    Provenance,
    QueryFileError,
    clean_answer,
    estimate,
    first_failure,
    generate_queries,
    plan_asks,
    qrels_path,
    read_queries,
    same_family_warning,
    sample_chunks,
    write_queries,
)
from core.types import Chunk, Corpus

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"

EN = (
    "To rotate an API key, create a new key first, deploy it, and revoke the old key once its last-used time "
    "stops changing. Keys never expire on their own, so rotate them every ninety days. Part {i}."
)
ZH = "共识机制决定了区块链网络中的节点如何就账本状态达成一致。工作量证明依靠算力竞争，权益证明依靠质押。第{i}部分。"


def _corpus() -> Corpus:
    """a.md: 10 English chunks; b.md: 2 Chinese chunks; c.md: 4 English chunks, one too short, one mostly symbols."""
    chunks = [Chunk(id=f"a.md#{i}", source="a.md", text=EN.format(i=i), lang="en") for i in range(10)]
    chunks += [Chunk(id=f"b.md#{i}", source="b.md", text=ZH.format(i=i + 50), lang="zh-cn") for i in range(2)]
    chunks += [Chunk(id=f"c.md#{i}", source="c.md", text=EN.format(i=i + 20), lang="en") for i in range(4)]
    chunks += [
        Chunk(id="c.md#short", source="c.md", text="## Keys\n\nSee below.", lang="en"),
        Chunk(id="c.md#code", source="c.md", text="{[(x=1;y=2)]} <> && || " * 6 + "ab", lang="en"),
    ]
    return Corpus(chunks=tuple(chunks), files=(), sha256="test-corpus", name="test")


class Scripted:
    """A stand-in LLM whose answer for a prompt is ``answer(prompt_text)``; it counts calls and can be cancelled."""

    name, model, host, family = "Scripted (test)", "scripted-1", "test", "qwen"

    def __init__(self, answer, *, cancel_after: int | None = None) -> None:
        self.answer, self.calls, self.cancel_after = answer, 0, cancel_after

    def complete(self, prompts, *, max_tokens, seed=0, progress=None, cancel=None):
        out = []
        for p in prompts:
            if self.cancel_after is not None and self.calls >= self.cancel_after:
                raise Cancelled("stopped")
            self.calls += 1
            out.append(self.answer(p[-1]["content"]))
        return out

    def grade(self, prompts, *, progress=None, cancel=None):
        raise NotImplementedError

    def seconds_estimate(self, prompt_chars, max_tokens):
        return 0.5

    def close(self) -> None:
        pass


def _good_answer(prompt: str) -> str:
    """A distinct, usable query in the language the prompt asks for, about the passage's number."""
    part = (
        prompt.split("Part ")[1].split(".")[0]
        if "Part " in prompt
        else prompt.split("第")[1].split("部分")[0]
    )
    if "in Chinese" in prompt:
        return f"问题：如何轮换第{part}号密钥？"
    return f'Question: "How often should I rotate key number {part}?"'


# ---- sampling ------------------------------------------------------------------------------------------------


def test_sample_is_stratified_by_file_and_language_and_reports_each_stratum():
    chunks, report = sample_chunks(_corpus(), 8, seed=3)
    per = Counter((c.source, c.lang) for c in chunks)
    assert sum(per.values()) == 8 and len({c.id for c in chunks}) == 8
    assert set(per) == {("a.md", "en"), ("b.md", "zh-cn"), ("c.md", "en")}  # every stratum gets one
    assert per[("a.md", "en")] > per[("c.md", "en")] >= per[("b.md", "zh-cn")]  # the rest by size
    assert {(s.file, s.lang): s.sampled for s in report.strata} == dict(per)
    assert report.skipped == {"too short": 1, "mostly symbols": 1}
    assert not {"c.md#short", "c.md#code"} & {c.id for c in chunks}
    assert any("a.md [en]" in line for line in report.lines())


def test_sample_is_deterministic_for_a_seed_and_varies_with_it():
    ids = [[c.id for c in sample_chunks(_corpus(), 6, seed=s)[0]] for s in (1, 1, 2)]
    assert ids[0] == ids[1] and ids[0] != ids[2]


def test_fewer_chunks_than_strata_draws_distinct_strata_and_more_than_eligible_says_so():
    chunks, _ = sample_chunks(_corpus(), 2, seed=0)
    assert len({(c.source, c.lang) for c in chunks}) == 2
    chunks, report = sample_chunks(_corpus(), 100, seed=0)
    assert len(chunks) == 16 and any("only 16" in line for line in report.lines())
    zh, _ = sample_chunks(_corpus(), 5, seed=0, languages=["zh"])
    assert {c.source for c in zh} == {"b.md"}


# ---- prompts and clean-up ------------------------------------------------------------------------------------


def test_types_and_languages_rotate_through_every_combination():
    chunks, _ = sample_chunks(_corpus(), 12, seed=0)
    asks = plan_asks(chunks, languages=["en", "zh"])
    assert {(a.qtype, a.lang == a.source_lang) for a in asks} == {
        (t, s) for t in QUERY_TYPES for s in (True, False)
    }
    assert {a.pair for a in asks} >= {"en->en", "zh->en"}
    with pytest.raises(ValueError, match="choose from"):
        plan_asks(chunks, languages=["en"], types=("riddle",))


@pytest.mark.parametrize(
    "raw, expected",
    [
        (
            'Question: "How do I rotate an API key?"\nThis passage explains rotation.',
            "How do I rotate an API key?",
        ),
        ("1. **Query:** rotate API keys", "rotate API keys"),
        ("\n\n  “API key rotation schedule”  ", "API key rotation schedule"),
        ("问题：如何轮换密钥？", "如何轮换密钥？"),
        ("Search query:\nJWT refresh token lifetime", "JWT refresh token lifetime"),
        (
            'This passage answers the question "What is the JWT signing key?" in English.',
            "What is the JWT signing key?",
        ),
        (
            "Here is a question a user would type into a search box:\n\nWhat is Lumen's uptime?",
            "What is Lumen's uptime?",
        ),
        ("", ""),
    ],
)
def test_clean_answer_keeps_the_query_only(raw, expected):
    assert clean_answer(raw) == expected


# ---- filters -------------------------------------------------------------------------------------------------

CHUNK = EN.format(i=1)


@pytest.mark.parametrize(
    "query, lang, reason",
    [
        ("\u200b \u2060", "en", "empty"),
        ("rotation", "en", "length"),
        ("how " * 40, "en", "length"),
        ("说明：在文档中，在同一份文档中，在同一份文档中", "zh", "repeats"),
        ("how to rotate the keys, how to rotate the keys", "en", "repeats"),
        ("This passage answers how to rotate keys", "en", "meta"),
        ("What does the text say about keys?", "en", "meta"),
        ("Sure! How do I rotate keys?", "en", "meta"),
        ("create a new key first, deploy it, and revoke the old key", "en", "copy"),  # 58 copied characters
        ("rotate an API key", "en", "copy"),  # a question that is only a span of the chunk asks nothing
        ("Why rotate keys every ninety days?", "zh", "language"),  # English where Chinese was asked
        ("如何轮换 API 密钥？", "en", "language"),  # Chinese where English was asked
        ("How often should API keys be replaced?", "en", None),
        ("rotate API key schedule", "en", None),  # keyword queries share the docs' words and are kept
        ("如何定期更换访问凭证？", "zh", None),
    ],
)
def test_each_filter_drops_what_it_says(query, lang, reason):
    assert first_failure(query, chunk_text=CHUNK, lang=lang, seen=set()) == reason


def test_keyword_queries_may_copy_a_short_span_but_not_a_long_one():
    assert (
        first_failure("rotate an API key", chunk_text=CHUNK, lang="en", seen=set(), qtype="keyword") is None
    )
    long_copy = "create a new key first, deploy it, and revoke the old key"
    assert first_failure(long_copy, chunk_text=CHUNK, lang="en", seen=set(), qtype="keyword") == "copy"


def test_duplicate_is_the_same_text_up_to_case_width_spacing_and_punctuation():
    seen = {"howoftenshouldapikeysbereplaced"}
    assert first_failure(
        "HOW often should API keys be replaced ？", chunk_text=CHUNK, lang="en", seen=seen
    ) == ("duplicate")


# ---- generation, provenance, cancel, estimate ----------------------------------------------------------------


def test_generated_queries_carry_complete_provenance_and_source_chunk_qrels():
    llm = Scripted(_good_answer)
    result = generate_queries(llm, _corpus(), 8, languages=["en", "zh"], seed=5)
    assert result.asked == 8 and len(result.queries) == 8, [d.reason for d in result.dropped]
    chunks = {c.id: c for c in _corpus().chunks}
    for q in result.queries:
        p = q.provenance
        assert q.id == query_id(q.text) and not q.text.startswith(("Question", "问题"))
        assert p.source_chunk in chunks and p.source_file == chunks[p.source_chunk].source
        assert p.pair == f"{p.query_lang}->{p.source_lang}" and p.source_lang in ("en", "zh")
        assert (p.type, p.generator, p.model, p.host) == (p.type, "Scripted (test)", "scripted-1", "test")
        assert p.type in QUERY_TYPES and p.prompt_version == PROMPT_VERSION and p.seed == 5
    pairs = result.pair_counts()
    assert sum(pairs.values()) == 8 and any(p.split("->")[0] != p.split("->")[1] for p in pairs)
    assert sum(q.cross_lingual for q in result.queries) == sum(n for p, n in pairs.items() if p[:2] != p[-2:])


def test_dropped_answers_are_counted_under_the_filter_that_dropped_them():
    answers = iter(
        ["", "Query: keys", "The passage is about keys.", "How do I rotate keys?", "how do I rotate KEYS"]
    )
    result = generate_queries(Scripted(lambda _p: next(answers)), _corpus(), 5, languages=["en"], seed=0)
    counts = result.filter_counts()
    assert list(counts) == list(FILTER_ORDER)
    assert {k: v for k, v in counts.items() if v} == {"empty": 1, "length": 1, "meta": 1, "duplicate": 1}
    assert [q.text for q in result.queries] == [
        "How do I rotate keys?"
    ] and result.keep_rate == pytest.approx(0.2)


def test_cancel_keeps_the_queries_written_before_it():
    llm = Scripted(_good_answer, cancel_after=9)  # the second batch of 8 stops after its first answer
    result = generate_queries(llm, _corpus(), 16, languages=["en"], seed=0)
    assert result.cancelled and result.asked == 8 and len(result.queries) == 8


def test_estimate_counts_only_prompts_the_cache_does_not_hold(tmp_path):
    scripted = Scripted(_good_answer)
    llm = CachedLlm(scripted, LlmCache(tmp_path))
    assert estimate(llm, _corpus(), 6, seed=1) == pytest.approx(3.0)
    first = generate_queries(llm, _corpus(), 6, seed=1)
    assert estimate(llm, _corpus(), 6, seed=1) == 0.0  # a re-run costs nothing
    again = generate_queries(llm, _corpus(), 6, seed=1)
    assert scripted.calls == 6 and [q.text for q in again.queries] == [q.text for q in first.queries]


def test_same_family_warning_names_the_model_under_test():
    warning = same_family_warning("qwen", ["Qwen/Qwen3-Embedding-0.6B", "bge-base-en-v1.5"])
    assert warning and "Qwen/Qwen3-Embedding-0.6B" in warning and "bge" not in warning
    assert same_family_warning("smollm", ["Qwen3-Embedding-4B", "multilingual-e5-small"]) is None


# ---- files ---------------------------------------------------------------------------------------------------


def _query(text: str, chunk: str = "a.md#1", source: str = "a.md", lang: str = "en", src: str = "zh"):
    prov = Provenance(
        chunk, source, src, lang, f"{lang}->{src}", "question", "gen", "m", "local", PROMPT_VERSION, 0
    )
    return GeneratedQuery(id=query_id(text), text=text, provenance=prov)


def test_write_then_read_round_trips_with_qrels_beside(tmp_path):
    queries = [_query("How does PoW differ from PoS?"), _query("共识机制", "b.md#0", "b.md", "zh", "zh")]
    out = tmp_path / "gen.jsonl"
    qrels = write_queries(out, queries)
    assert qrels == qrels_path(out) == tmp_path / "gen.qrels.tsv"
    assert read_queries(out) == queries
    line = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert (line["_id"], line["lang"], line["cross_lingual"]) == (queries[0].id, "en", True)
    rows = qrels.read_text(encoding="utf-8").splitlines()
    assert rows == ["query-id\tcorpus-id\tscore", f"{queries[0].id}\ta.md#1\t{SOURCE_GRADE}",
                    f"{queries[1].id}\tb.md#0\t{SOURCE_GRADE}"]  # fmt: skip
    about = json.loads((tmp_path / "gen.qrels.tsv.provenance.json").read_text(encoding="utf-8"))
    assert about["origin"] == "generated" and about["generators"][0]["prompt_version"] == PROMPT_VERSION
    write_queries(out, queries, level="file")
    assert qrels.read_text(encoding="utf-8").splitlines()[1] == f"{queries[0].id}\ta.md\t{SOURCE_GRADE}"


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["provenance"].pop("seed"), r"line 2: field 'provenance' lacks \['seed'\]"),
        (
            lambda d: d["provenance"].update(seed="7"),
            "line 2: field 'provenance.seed' must be a whole number",
        ),
        (lambda d: d["provenance"].update(pair="zh->en"), "line 2: field 'provenance.pair'"),
        (lambda d: d["provenance"].update(type="riddle"), "line 2: field 'provenance.type'"),
        (lambda d: d.update(cross_lingual=False), "line 2: field 'cross_lingual'"),
        (lambda d: d.update(text="edited"), "line 2: field '_id'"),
        (lambda d: d.update(text=" "), "line 2: field 'text' must be a non-empty string"),
    ],
)
def test_a_bad_line_is_named_by_number_and_field(tmp_path, edit, message):
    out = tmp_path / "gen.jsonl"
    write_queries(out, [_query("first query here"), _query("second query here")])
    lines = out.read_text(encoding="utf-8").splitlines()
    bad = json.loads(lines[1])
    edit(bad)
    out.write_text(lines[0] + "\n" + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(QueryFileError, match=message):
        read_queries(out)


def test_a_line_that_is_not_json_is_named(tmp_path):
    out = tmp_path / "gen.jsonl"
    out.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(QueryFileError, match="gen.jsonl line 1: not JSON"):
        read_queries(out)


# ---- the CLI with the real bundled LLM -----------------------------------------------------------------------


@pytest.mark.slow
def test_queries_cli_writes_filtered_queries_and_source_chunk_qrels_with_the_bundled_llm(
    shared_store_dir, tmp_path, capsys
):
    out = tmp_path / "queries.jsonl"
    rc = main(["queries", "--corpus", str(SAMPLE), "--llm", "llm:bundled", "-n", "4", "--seed", "0",
               "--out", str(out), "--store", str(shared_store_dir)])  # fmt: skip
    said = capsys.readouterr()
    assert rc == 0, said.err
    assert "estimate:" in said.err and "strata:" in said.out and "filters" in said.out and "Bias:" in said.out
    assert "tiny model" in said.out
    queries = read_queries(out)
    assert queries, said.out  # at least one of the four answers survives the filters
    chunks = {c.id: c for c in load_data_corpus(SAMPLE).chunks}
    for q in queries:
        chunk = chunks[q.provenance.source_chunk]
        assert q.provenance.source_file == chunk.source and q.provenance.model
        kept = first_failure(
            q.text, chunk_text=chunk.embed_text, lang=q.lang, seen=set(), qtype=q.provenance.type
        )
        assert kept is None
    rows = [r.split("\t") for r in qrels_path(out).read_text(encoding="utf-8").splitlines()[1:]]
    assert [(r[0], r[1], r[2]) for r in rows] == [(q.id, q.provenance.source_chunk, "2") for q in queries]
