"""Rerankers: a tiny random cross-encoder through the real loader, the Qwen3-Reranker recipe on a tiny random
Qwen3 causal LM, a served /rerank (and TEI, /score) on 127.0.0.1 with its faults, and rerank:X+R systems."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core.errors import EndpointError, ModelLoadError
from core.models import CrossEncoderReranker, QwenReranker, ServedReranker, load_reranker
from core.models.rerankers import QWEN_PREFIX, QWEN_SUFFIX, qwen_pair
from core.search import HybridSystem, Reranker, RerankSystem
from core.search.systems import System
from core.types import SearchParams
from tests.rerank_servers import ApiServer, build_tiny_cross_encoder, overlap_score
from tests.test_fusion import KeywordSystem, make_corpus

CANARY = "sk-rerank-canary-4242"
DOCS = [
    "Knead the bread dough for ten minutes.",
    "The server signs a JSON Web Token with its secret key.",
    "JWT tokens carry claims; verify the JWT signature with the secret key before trusting the token.",
]
QUERY = "how do I verify a JWT token signature"


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("tiny-ce") / "tiny-cross-encoder")


def test_cross_encoder_scores_are_the_models_own_logits(tiny_cross_encoder):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rr = load_reranker(str(tiny_cross_encoder), device="cpu")
    assert isinstance(rr, CrossEncoderReranker) and isinstance(rr, Reranker)
    assert rr.name == "tiny-cross-encoder"
    scores = rr.score(QUERY, DOCS)
    tok = AutoTokenizer.from_pretrained(str(tiny_cross_encoder))
    model = AutoModelForSequenceClassification.from_pretrained(str(tiny_cross_encoder)).eval()
    with torch.no_grad():
        logits = model(**tok([QUERY] * 3, DOCS, padding=True, return_tensors="pt")).logits[:, 0]
    expected = torch.sigmoid(logits).tolist()  # one label: sentence-transformers applies a sigmoid
    assert scores == pytest.approx(expected, abs=1e-5)
    assert len(set(scores)) == 3 and rr.score(QUERY, []) == []


def test_a_missing_hub_reranker_says_how_to_get_it():
    with pytest.raises(
        ModelLoadError, match="HF_HUB_OFFLINE.*huggingface-cli download BAAI/bge-reranker-base"
    ):
        load_reranker("BAAI/bge-reranker-base")
    with pytest.raises(ModelLoadError, match="HF_HUB_OFFLINE"):
        load_reranker("Qwen/Qwen3-Reranker-0.6B")  # the Qwen recipe, same offline rule


# -- Qwen3-Reranker recipe -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_qwen_reranker(tmp_path_factory) -> Path:
    """A random tiny Qwen3ForCausalLM whose word-level tokenizer has 'yes', 'no' and the chat markers."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    out = tmp_path_factory.mktemp("tiny-qwen-rr") / "tiny-qwen3-reranker"
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>", "[UNK]"]
    words = {w for text in (QWEN_PREFIX, QWEN_SUFFIX, qwen_pair(QUERY, " ".join(DOCS))) for w in text.split()}
    vocab = {t: i for i, t in enumerate(specials + sorted((words | {"yes", "no"}) - set(specials)))}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", pad_token="<|endoftext|>", eos_token="<|endoftext|>"
    )
    fast.add_special_tokens({"additional_special_tokens": specials[1:5]})
    fast.save_pretrained(str(out))
    config = Qwen3Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        pad_token_id=fast.pad_token_id,
        eos_token_id=fast.eos_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    Qwen3ForCausalLM(config).eval().save_pretrained(str(out))
    return out


def test_qwen_recipe_is_p_yes_at_the_last_token_whatever_the_padding(tiny_qwen_reranker):
    import torch
    from transformers import AutoModelForCausalLM

    rr = load_reranker(str(tiny_qwen_reranker), device="cpu")
    assert isinstance(rr, QwenReranker)
    scores = rr.score(QUERY, DOCS)  # one left-padded batch of three lengths
    model = AutoModelForCausalLM.from_pretrained(str(tiny_qwen_reranker)).eval()
    for doc, got in zip(DOCS, scores, strict=True):
        ids = (
            rr.prefix_ids
            + rr.tokenizer.encode(qwen_pair(QUERY, doc), add_special_tokens=False)
            + rr.suffix_ids
        )
        with torch.no_grad():
            last = model(input_ids=torch.tensor([ids])).logits[0, -1]
        expected = 1 / (1 + math.exp(-(last[rr.yes_id] - last[rr.no_id]).item()))  # softmax(no, yes)[yes]
        assert got == pytest.approx(expected, abs=1e-5)
    prompt = rr.tokenizer.decode(rr.prefix_ids)  # the card's system prompt, in its chat template
    assert (
        prompt.startswith("<|im_start|>")
        and "meets the requirements based on the Query and the Instruct" in prompt
    )


def test_qwen_recipe_refuses_a_checkpoint_that_is_not_a_causal_lm(tiny_cross_encoder):
    # a BERT whose vocabulary has 'yes' and 'no' would otherwise load with a random LM head
    with pytest.raises(ModelLoadError, match="BertForSequenceClassification, not a causal LM.*CrossEncoder"):
        QwenReranker(str(tiny_cross_encoder), device="cpu")


# -- served rerankers -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "api"), [("", "rerank"), ("/v1", "rerank"), ("", "tei"), ("/v1", "score")]
)
def test_served_reranker_puts_scores_back_in_document_order(prefix, api):
    with ApiServer(prefix) as srv:
        rr = load_reranker(f"endpoint:bge-reranker-base@{srv.base_url}", api=api, api_key=CANARY)
        assert isinstance(rr, ServedReranker) and rr.url == srv.base_url + (
            "/score" if api == "score" else "/rerank"
        )
        assert rr.score(QUERY, DOCS) == pytest.approx([overlap_score(QUERY, d) for d in DOCS])
        sent = srv.requests[-1]
        assert sent["path"] == prefix + ("/score" if api == "score" else "/rerank")
        assert sent["headers"]["Authorization"] == f"Bearer {CANARY}"
        if api == "tei":
            assert sent["json"]["texts"] == DOCS and "model" not in sent["json"]
        elif api == "score":
            assert sent["json"]["text_1"] == QUERY and sent["json"]["text_2"] == DOCS
        else:
            assert sent["json"]["documents"] == DOCS and sent["json"]["model"] == "bge-reranker-base"


def test_served_reranker_batches_and_halves_a_refused_batch():
    docs = [f"doc {i} jwt" for i in range(7)]
    with ApiServer("/v1", fault="status413", fault_times=1) as srv:
        rr = ServedReranker("m", srv.base_url, batch_size=4)
        assert rr.score("jwt", docs) == pytest.approx([overlap_score("jwt", d) for d in docs])
        assert rr.batch_size == 2 and [len(r["json"]["documents"]) for r in srv.requests] == [4, 2, 2, 2, 1]


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ("redirect", "redirect"),
        ("huge", "kept sending past|announced"),
        ("malformed", "malformed JSON"),
        ("count", "returned 2 scores for 3 documents"),
        ("index", "index 8 for 3 documents"),
        ("nan", "not a finite number"),
    ],
)
def test_served_reranker_faults_are_errors_that_name_the_url(fault, words):
    with ApiServer("/v1", fault=fault) as srv:
        rr = ServedReranker("m", srv.base_url, api_key=CANARY, retries=0)
        with pytest.raises(EndpointError, match=words) as exc:
            rr.score(QUERY, DOCS)
        assert f"127.0.0.1:{srv.port}" in str(exc.value) and CANARY not in str(exc.value)
        if fault == "redirect":
            assert all(r["path"] != "/elsewhere" for r in srv.requests)  # not followed: the key stayed here


def test_served_reranker_at_the_wrong_path_says_to_add_or_drop_v1():
    with ApiServer("/v1") as srv:
        with pytest.raises(EndpointError, match=r"try adding /v1 \(http://127\.0\.0\.1:\d+/v1\)"):
            ServedReranker("m", srv.root, retries=0).score(QUERY, DOCS)
    with ApiServer("") as srv:
        with pytest.raises(EndpointError, match="without /v1.*Infinity"):
            ServedReranker("m", srv.root + "/v1", retries=0).score(QUERY, DOCS)


# -- rerank:X+R systems -----------------------------------------------------------------------------------------


class WordOverlapReranker:
    """A reranker stand-in that prefers documents naming the query's words."""

    name = "overlap"

    def score(self, query, documents):
        return [overlap_score(query, d) for d in documents]


def test_rerank_system_reorders_the_top_depth_and_times_it():
    corpus = make_corpus()
    first = KeywordSystem(corpus)
    system = RerankSystem(first, WordOverlapReranker(), depth=3)
    assert isinstance(system, System) and system.kind == "rerank"
    assert system.name == "rerank:words+overlap@3" and RerankSystem(first, WordOverlapReranker()).name == (
        "rerank:words+overlap"
    )
    assert system.index_bytes == first.index_bytes
    q = "the token signature with the key"
    (base,) = first.search_many([q], SearchParams(k=5))
    (res,) = system.search_many([q], SearchParams(k=5))
    head = {h.chunk_id for h in base.hits[:3]}
    assert {h.chunk_id for h in res.hits[:3]} == head  # only the top 3 re-scored, nothing new enters
    assert [h.chunk_id for h in res.hits[3:]] == [
        h.chunk_id for h in base.hits[3:5]
    ]  # the tail keeps its order
    texts = {c.id: c.text for c in corpus.chunks}
    top = [overlap_score(q, texts[h.chunk_id]) for h in res.hits[:3]]
    assert top == sorted(top, reverse=True)
    assert res.extra["rerank_ms"] > 0 and res.embed_ms == first.embed_ms and res.extra["reranked"] == 3


def test_rerank_of_a_hybrid_with_the_tiny_cross_encoder_keeps_every_stage_time(tiny_cross_encoder, tmp_path):
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search import build_model_index
    from core.store import EmbeddingStore

    corpus = make_corpus()
    dense = build_model_index(
        corpus, load_embedder(resolve_model("all-MiniLM-L6-v2"), device="cpu"), store=EmbeddingStore(tmp_path)
    )
    hybrid = HybridSystem(dense, KeywordSystem(corpus))
    system = RerankSystem(hybrid, load_reranker(str(tiny_cross_encoder), device="cpu"), depth=4)
    results = system.search_many(["JWT secret key", "bread dough"], SearchParams(k=3))
    for res in results:
        assert len(res.hits) == 3 and res.embed_ms > 0 and res.search_ms > 0
        assert res.extra["fusion_ms"] > 0 and res.extra["rerank_ms"] > 0
    assert json.dumps({k: v for k, v in results[0].extra.items() if k.endswith("_ms")})  # plain numbers
