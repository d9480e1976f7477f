"""LLM spec strings and model families: the forms a user types, and the errors that name the spec and the fix."""

from __future__ import annotations

import pytest

from core.errors import EndpointError
from core.llm import BUNDLED_SPEC, family_of, parse_llm_spec


def test_bundled_and_served_specs():
    assert (
        parse_llm_spec(" LLM:Bundled ").kind == "bundled"
        and parse_llm_spec(BUNDLED_SPEC).text == BUNDLED_SPEC
    )
    s = parse_llm_spec("llm:qwen2.5:7b@http://127.0.0.1:11434/v1")
    assert (s.kind, s.model, s.base_urls, s.hosts) == (
        "served",
        "qwen2.5:7b",
        ("http://127.0.0.1:11434/v1",),
        ("127.0.0.1:11434",),
    )
    pool = parse_llm_spec("llm:m@http://gpu1:8000/v1/chat/completions, http://gpu2:8000/v1/")
    assert pool.base_urls == (
        "http://gpu1:8000/v1",
        "http://gpu2:8000/v1",
    )  # used as given, the API path trimmed
    assert parse_llm_spec(pool.text) == pool


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("bundled", "not understood"),
        ("llm:", "not understood"),
        ("llm:qwen", "not understood"),
        ("llm:m@ftp://h/v1", "not understood"),
        ("endpoint:m@http://h:8000/v1", "not understood"),
        ("llm:m@http://a:8000/v1,,http://b:8000/v1", "empty entry"),
        ("llm:m@http://a:8000/v1,http://a:8000/v1", "listed twice"),
        ("llm:m@http://h:8000/v1?key=1", "query or fragment"),
    ],
)
def test_bad_specs_name_the_spec_and_the_forms(spec, words):
    with pytest.raises(EndpointError) as exc:
        parse_llm_spec(spec)
    assert words in str(exc.value)
    if words == "not understood":
        assert repr(spec) in str(exc.value) and "llm:bundled" in str(exc.value)


def test_credentials_in_a_url_are_refused_without_echoing_them():
    with pytest.raises(EndpointError, match="LLM_API_KEY") as exc:
        parse_llm_spec("llm:m@http://user:hunter2@h:8000/v1")
    assert "hunter2" not in str(exc.value)
    with pytest.raises(EndpointError) as exc:
        parse_llm_spec("llm:http://user:hunter2@h")
    assert "hunter2" not in str(exc.value)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("Qwen/Qwen3-Embedding-0.6B", "qwen"),
        ("qwen2.5:7b", "qwen"),
        ("SmolLM2-135M-Instruct", "smollm"),
        ("llama3.2:1b", "llama"),
        ("meta-llama/Llama-3.1-8B-Instruct", "llama"),
        ("mistral-small", "mistral"),
        ("gemma2:2b", "gemma"),
        ("phi3:mini", "phi"),
        ("gpt-4o-mini", "gpt"),
        ("multilingual-e5-small", "e5"),
        ("BAAI/bge-m3", "bge"),
        ("all-MiniLM-L6-v2", "minilm"),
        ("wordllama-l2-supercat", "wordllama"),
        ("my-own-model", ""),
    ],
)
def test_family_of(model, family):
    assert family_of(model) == family
