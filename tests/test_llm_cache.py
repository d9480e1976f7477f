"""The LLM answer cache: a re-run costs no backend call, Cancel keeps what was answered, errors and keys are never
stored."""

from __future__ import annotations

import pytest

from core.llm import CachedLlm, Cancelled, Grade, LlmCache, open_llm
from tests.endpoint_servers import FaultServer, Reply

KEY = "sk-cache-canary-51d2e0"


class CountingLlm:
    """A backend that answers from the prompt's text and counts what it was asked."""

    name, model, host, family = "counting", "counting-model", "local", ""
    parallel = 2

    def __init__(self, *, fail_after: int | None = None, cancel_after: int | None = None) -> None:
        self.asked: list[str] = []
        self.fail_after, self.cancel_after = fail_after, cancel_after

    def _ask(self, prompts):
        for p in prompts:
            if self.cancel_after is not None and len(self.asked) >= self.cancel_after:
                raise Cancelled("cancelled")
            if self.fail_after is not None and len(self.asked) >= self.fail_after:
                raise RuntimeError("server fell over")
            self.asked.append(p[-1]["content"])

    def complete(self, prompts, *, max_tokens, seed=0, progress=None, cancel=None):
        self._ask(prompts)
        return [f"q({p[-1]['content']},{max_tokens},{seed})" for p in prompts]

    def grade(self, prompts, *, progress=None, cancel=None):
        self._ask(prompts)
        return [
            Grade(label=len(p[-1]["content"]) % 4, probs=(0.1, 0.2, 0.3, 0.4), raw="x", mass=0.5)
            for p in prompts
        ]

    def seconds_estimate(self, prompt_chars, max_tokens):
        return 1.0

    def close(self):
        pass


def prompts(*texts):
    return [[{"role": "user", "content": t}] for t in texts]


def test_a_second_call_costs_no_backend_call(tmp_path):
    backend = CountingLlm()
    llm = CachedLlm(backend, LlmCache(tmp_path))
    first = llm.complete(prompts("a", "b", "c"), max_tokens=16)
    assert backend.asked == ["a", "b", "c"]
    again = CachedLlm(backend, LlmCache(tmp_path)).complete(prompts("c", "a", "b"), max_tokens=16)
    assert backend.asked == ["a", "b", "c"] and again == [first[2], first[0], first[1]]
    assert llm.missing(prompts("a", "z"), kind="complete", max_tokens=16) == 1
    # another max_tokens or seed is another call; a grade is another kind
    llm.complete(prompts("a"), max_tokens=32)
    llm.complete(prompts("a"), max_tokens=16, seed=1)
    assert backend.asked == ["a", "b", "c", "a", "a"]


def test_grades_round_trip_through_the_cache(tmp_path):
    backend = CountingLlm()
    llm = CachedLlm(backend, LlmCache(tmp_path))
    first = llm.grade(prompts("ab", "abc"))
    again = llm.grade(prompts("ab", "abc", "ab"))
    assert again[:2] == first and again[2] == first[0] and backend.asked == ["ab", "abc"]
    assert again[0] == Grade(label=2, probs=(0.1, 0.2, 0.3, 0.4), raw="x", mass=0.5)


def test_duplicates_in_one_call_are_asked_once_and_progress_reaches_the_total(tmp_path):
    backend, seen = CountingLlm(), []
    llm = CachedLlm(backend, LlmCache(tmp_path))
    llm.complete(prompts("a"), max_tokens=8)
    llm.complete(prompts("a", "b", "b", "c"), max_tokens=8, progress=lambda d, n: seen.append((d, n)))
    assert backend.asked == ["a", "b", "c"] and seen[-1] == (4, 4) and seen[0] == (1, 4)


def test_cancel_keeps_the_answers_of_finished_chunks(tmp_path):
    backend = CountingLlm(cancel_after=2)  # chunks of 2: the first chunk comes back, the second is cancelled
    llm = CachedLlm(backend, LlmCache(tmp_path))
    with pytest.raises(Cancelled):
        llm.complete(prompts("a", "b", "c", "d"), max_tokens=8)
    assert llm.missing(prompts("a", "b", "c", "d"), kind="complete", max_tokens=8) == 2


def test_an_error_is_not_cached(tmp_path):
    llm = CachedLlm(CountingLlm(fail_after=0), LlmCache(tmp_path))
    with pytest.raises(RuntimeError):
        llm.complete(prompts("a"), max_tokens=8)
    assert LlmCache(tmp_path).count() == 0


def test_the_key_is_never_stored(tmp_path):
    body = {"choices": [{"message": {"role": "assistant", "content": "Grade: 2"}}]}
    with FaultServer(default=Reply(body=body)) as srv:
        llm = open_llm(f"llm:fault-model@{srv.base_url}", api_key=KEY, root=tmp_path)
        assert llm.grade(prompts("query and passage"))[0].label == 2
        assert llm.complete(prompts("write a query"), max_tokens=8) == ["Grade: 2"]
        llm.close()
    assert srv.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"  # it was sent ...
    files = list((tmp_path / "llm").iterdir())
    assert any(f.name == "cache.sqlite" for f in files) and LlmCache(tmp_path).count() == 2
    for f in files:  # ... and is in no file of the cache (the database, its WAL and shared memory)
        assert KEY.encode() not in f.read_bytes(), f.name
