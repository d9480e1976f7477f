"""The chat-server LLM backend against a local server on 127.0.0.1 (tests.endpoint_servers.FaultServer): the
transport faults the embedding endpoint already survives, malformed answers, refusals, logprobs and pools."""

from __future__ import annotations

import math
import time

import pytest

from core.errors import EndpointError
from core.llm import Cancelled, open_llm, parse_llm_spec
from core.llm.chat import ChatLlm
from tests.endpoint_servers import FaultServer, Reply, free_port

KEY = "sk-llm-canary-7f3a9c"
PROMPT = [
    {"role": "user", "content": "Write a question this passage answers: Lumen keys rotate every 90 days."}
]
GRADE_PROMPT = [
    {"role": "user", "content": "Query: rotate key\nPassage: keys rotate every 90 days\nGrade 0-3:"}
]


def answer(text, logprobs=None, content_key="content"):
    message = {"role": "assistant", content_key: text}
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return {"id": "c1", "object": "chat.completion", "choices": [choice], "usage": {"completion_tokens": 4}}


def make(server_or_urls, **kw) -> ChatLlm:
    urls = server_or_urls if isinstance(server_or_urls, str | list) else server_or_urls.base_url
    kw.setdefault("retries", 1)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", 5)
    return ChatLlm("fault-model", urls, **kw)


def test_complete_sends_a_greedy_seeded_request_with_the_key_from_the_environment(monkeypatch):
    monkeypatch.setenv("LLM_API_KEY", KEY)
    with FaultServer(default=Reply(body=answer("  How often do Lumen keys rotate?\n"))) as srv:
        llm = make(srv)
        out = llm.complete([PROMPT, PROMPT, PROMPT], max_tokens=48, seed=7)
    assert out == ["How often do Lumen keys rotate?"] * 3
    req = srv.requests[0]
    assert req["path"] == "/v1/chat/completions"
    assert req["json"]["temperature"] == 0 and req["json"]["seed"] == 7 and req["json"]["max_tokens"] == 48
    assert req["json"]["messages"] == PROMPT and req["json"]["model"] == "fault-model"
    assert req["headers"]["Authorization"] == f"Bearer {KEY}"
    assert KEY not in repr(llm) and KEY not in llm.name


def test_a_redirect_is_not_followed_and_the_key_stays_out_of_the_message():
    with FaultServer() as elsewhere:
        target = f"{elsewhere.base_url}/chat/completions?api_key={KEY}"
        with FaultServer(default=Reply(status=307, body=b"", headers={"Location": target})) as srv:
            with pytest.raises(EndpointError) as exc:
                make(srv, api_key=KEY).complete([PROMPT], max_tokens=8)
    msg = str(exc.value)
    assert "not followed" in msg and srv.base_url in msg and KEY not in msg
    assert elsewhere.posts == 0 and elsewhere.gets == []


def test_a_huge_answer_is_cut_off_near_the_bound():
    with FaultServer(default=Reply(flood=256 << 20)) as srv:
        t0 = time.monotonic()
        with pytest.raises(EndpointError, match="kept sending past") as exc:
            make(srv).complete([PROMPT], max_tokens=16)
        elapsed = time.monotonic() - t0
        time.sleep(0.2)
    assert srv.base_url in str(exc.value)
    assert srv.sent_bytes < 32 << 20 and elapsed < 10


def test_a_trickling_server_is_cut_off_at_the_deadline():
    with FaultServer(default=Reply(body=answer("2"), trickle=0.2)) as srv:
        t0 = time.monotonic()
        with pytest.raises(EndpointError, match="did not answer within 1 s") as exc:
            make(srv, timeout=1.0).grade([GRADE_PROMPT])
        elapsed = time.monotonic() - t0
    assert elapsed < 3 and srv.base_url in str(exc.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"choices": [{"message": {"content": "2"', "malformed JSON"),
        (b"<html>proxy login</html>", "not JSON"),
        ({"choices": []}, "non-empty 'choices'"),
        ({"object": "list", "data": []}, "non-empty 'choices'"),
        ({"choices": ["2"]}, "without a 'message'"),
        ({"choices": [{"message": {"content": 2}}]}, "'content' is int"),
        ({"choices": [{"message": {"content": None}}]}, "'content' is NoneType"),
    ],
)
def test_a_malformed_answer_is_an_error_naming_the_url(body, words):
    with FaultServer(default=Reply(body=body)) as srv:
        with pytest.raises(EndpointError) as exc:
            make(srv, retries=0).complete([PROMPT], max_tokens=8)
    assert words in str(exc.value) and srv.base_url in str(exc.value)


def test_a_refusal_or_prose_instead_of_a_grade_is_label_none():
    replies = [
        Reply(body=answer("I'm sorry, but I can't judge the relevance of this passage.")),
        Reply(body=answer("The passage is not")),
        Reply(
            body=answer("I can't help with that.", content_key="refusal")
        ),  # OpenAI: content null + refusal
        Reply(body=answer("**Grade:** 2")),
    ]
    with FaultServer(script=replies) as srv:
        grades = make(srv, concurrency=1).grade([GRADE_PROMPT] * 4)
    assert [g.label for g in grades] == [None, None, None, 2]
    assert grades[0].raw.startswith("I'm sorry") and grades[2].raw == "I can't help with that."
    assert all(g.probs is None for g in grades[:3])


def test_grade_probabilities_come_from_the_digit_logprobs():
    tops = [
        {"token": "2", "logprob": math.log(0.6)},
        {"token": "3", "logprob": math.log(0.2)},
        {"token": "The", "logprob": math.log(0.1)},
        {"token": "1", "logprob": math.log(0.05)},
    ]
    entries = [{"token": "2", "logprob": math.log(0.6), "top_logprobs": tops}]
    with FaultServer(default=Reply(body=answer("2", logprobs=entries))) as srv:
        (g,) = make(srv).grade([GRADE_PROMPT])
    assert srv.requests[0]["json"]["logprobs"] is True and srv.requests[0]["json"]["top_logprobs"] == 10
    assert g.label == 2 and g.probs is not None
    assert sum(g.probs) == pytest.approx(1.0) and g.probs[2] == pytest.approx(0.6 / 0.85)
    assert g.mass == pytest.approx(0.85) and g.probs[0] == 0.0


def test_a_server_that_refuses_logprobs_is_asked_again_without_them():
    refused = Reply(status=400, body={"error": {"message": "logprobs is not supported"}})
    with FaultServer(script=[refused], default=Reply(body=answer("Grade: 1"))) as srv:
        llm = make(srv, concurrency=1)
        first = llm.grade([GRADE_PROMPT])
        second = llm.grade([GRADE_PROMPT])
    assert [g.label for g in first + second] == [1, 1] and first[0].probs is None
    sent = [r["json"] for r in srv.requests]
    assert "logprobs" in sent[0] and all("logprobs" not in s for s in sent[1:]) and len(sent) == 3


def test_a_refused_key_names_the_variables_not_the_key():
    with FaultServer(default=Reply(status=401, body={"error": {"message": f"bad key {KEY}"}})) as srv:
        with pytest.raises(EndpointError) as exc:
            make(srv, api_key=KEY).complete([PROMPT], max_tokens=8)
    msg = str(exc.value)
    assert "HTTP 401" in msg and "LLM_API_KEY" in msg and KEY not in msg


def test_a_pool_with_a_dead_server_fails_over_and_answers_everything():
    dead = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    with FaultServer(default=Reply(body=answer("How do keys rotate?"))) as live:
        llm = make([dead, live.base_url], retries=0, concurrency=2)
        out = llm.complete([PROMPT] * 6, max_tokens=16)
    assert out == ["How do keys rotate?"] * 6 and live.posts == 6
    dead_srv = next(s for s in llm.servers if s.base == dead)
    assert dead_srv.failures >= 1 and "connection refused" in dead_srv.last_error


def test_a_pool_moves_prompts_off_a_server_answering_503():
    with (
        FaultServer(default=Reply(status=503, body={"error": {"message": "overloaded"}})) as sick,
        FaultServer(default=Reply(body=answer("3"))) as well,
    ):
        llm = make([sick.base_url, well.base_url], retries=0, concurrency=1)
        grades = llm.grade([GRADE_PROMPT] * 4)
    assert [g.label for g in grades] == [3] * 4 and well.posts == 4 and sick.posts >= 1


def test_one_dead_server_alone_is_a_clear_error():
    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(EndpointError, match="Could not connect") as exc:
        make(dead, retries=0).complete([PROMPT], max_tokens=8)
    assert dead in str(exc.value)


def test_cancel_stops_the_run():
    with FaultServer(default=Reply(body=answer("q?"), delay=0.2)) as srv:
        llm = make(srv, concurrency=1)
        with pytest.raises(Cancelled):
            llm.complete([PROMPT] * 20, max_tokens=8, cancel=lambda: srv.posts >= 2)
    assert srv.posts < 20


def test_open_llm_takes_a_pool_spec_and_caches(tmp_path, monkeypatch):
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with (
        FaultServer(default=Reply(body=answer("Grade: 2"))) as a,
        FaultServer(default=Reply(body=answer("2"))) as b,
    ):
        spec = f"llm:fault-model@{a.base_url}/chat/completions,{b.base_url}"
        assert parse_llm_spec(spec).base_urls == (a.base_url, b.base_url)
        llm = open_llm(spec, root=tmp_path)
        first = llm.grade([GRADE_PROMPT])
        again = llm.grade([GRADE_PROMPT])
        llm.close()
    assert first[0].label == again[0].label == 2 and a.posts + b.posts == 1
    assert all(
        "Authorization" not in r["headers"] for r in a.requests + b.requests
    )  # no key anywhere: none sent
