"""An OpenAI-compatible chat server as an LLM backend: ``POST {base}/chat/completions`` (vLLM, Ollama, llama.cpp
server, LM Studio, OpenAI), over the embedding endpoints' hardened transport (``core.models.endpoint.JsonHttp``:
no redirects, a bounded body, one deadline per request, retries with backoff), or over a pool of servers of the same
model (``llm:MODEL@URL1,URL2``).

- The key: the argument, else ``$LLM_API_KEY``, else ``$OPENAI_API_KEY``; held as a ``Secret``, sent only to the
  base URLs, never written to a file, cache or message (server text in messages is scrubbed of it).
- ``complete``: temperature 0, the ``seed``, ``max_tokens``. ``grade``: a few tokens, with ``logprobs`` and
  ``top_logprobs`` asked for; where the answer carries them, the probabilities of the digit tokens "0"-"3" at the
  position the answer's digit was written become ``Grade.probs`` (renormalised; ``mass`` is their share). The label
  is always the strict parse of the text (``core.llm.grades.parse_grade``): a refusal or prose is None. A server that
  refuses ``logprobs`` (HTTP 400/422) is asked again without, and not asked for them again.
- An answer must be a JSON object with a non-empty ``choices`` list whose first item has a ``message`` whose
  ``content`` is a string (an OpenAI refusal, ``content: null`` with a ``refusal`` text, is read as that text);
  anything else is an ``EndpointError`` naming the URL and what was wrong.
- A pool: each server has up to ``concurrency`` requests in flight; a server that gives no usable answer (refused,
  unreachable, dropped, a 5xx/429 that persisted, a timeout) rests for 2 s, doubling per failure in a row (at most
  60 s), and its prompt goes to another server; a prompt that failed ``retries`` + number-of-servers times is an
  error. One server: its transport retries, and what still fails is the error.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from core.errors import EndpointError
from core.llm.base import GRADES, Cancelled, Grade, Progress, Prompt
from core.llm.grades import parse_grade
from core.llm.spec import family_of
from core.models.endpoint import (
    HttpStatusError,
    JsonHttp,
    Secret,
    ServerUnavailable,
    TransientAnswerError,
    error_message,
    path_hint,
    server_identity,
    split_base_urls,
)

KEY_ENV_VARS = ("LLM_API_KEY", "OPENAI_API_KEY")
CHAT_PATH = "/chat/completions"
DEFAULT_TIMEOUT = 120.0
CONCURRENCY = 4  # requests in flight per server
GRADE_MAX_TOKENS = 8  # room for "Grade: 2" and a stop token, not for an essay
TOP_LOGPROBS = 10
ANSWER_FLOOR = 1 << 20  # 1 MiB: ids, usage, a long system fingerprint
BYTES_PER_TOKEN = 2048  # one answer token with its top-10 logprobs in JSON, generously
RAW_LIMIT = 200  # characters of a grade answer kept in Grade.raw
BACKOFF_FIRST, BACKOFF_MAX = 2.0, 60.0
# Rates assumed before the first answer (a 7B model on one GPU): prompt tokens/s and answer tokens/s per request
DEFAULT_PREFILL_TPS, DEFAULT_DECODE_TPS, CHARS_PER_TOKEN = 2000.0, 30.0, 3.5
_DIGITS = tuple(str(g) for g in GRADES)


def resolve_llm_key(api_key: str | None = None) -> str:
    """The key to send: the argument, else $LLM_API_KEY, else $OPENAI_API_KEY, else ''."""
    if api_key:
        return api_key
    return next((os.environ[v] for v in KEY_ENV_VARS if os.environ.get(v)), "")


def answer_limit(max_tokens: int) -> int:
    """Most bytes a well-formed answer of ``max_tokens`` tokens (with logprobs) can need."""
    return ANSWER_FLOOR + BYTES_PER_TOKEN * max(1, int(max_tokens))


class _Refused(EndpointError):
    """HTTP 400/422: the server rejected the request's fields (e.g. logprobs)."""


class _Server:
    """One base URL: its connections, health and counts."""

    def __init__(self, base: str, host: str, http: JsonHttp) -> None:
        self.base, self.host, self.http = base, host, http
        self.url = base + CHAT_PATH
        self.rest_until = 0.0
        self.strikes = self.calls = self.failures = self.in_flight = 0
        self.last_error = ""
        self.logprobs = True  # False once the server refused them

    def resting(self, now: float) -> bool:
        return now < self.rest_until

    def rest(self, now: float) -> None:
        if self.resting(now):
            return
        self.strikes += 1
        self.rest_until = now + min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self.strikes - 1))


def _message(answer: Any, url: str) -> tuple[str, list[Any] | None, int | None]:
    """(text, logprob entries or None, completion tokens or None) of a validated answer; EndpointError otherwise."""
    hint = "check that the base URL points at an OpenAI-compatible chat API (scheme://host:port/v1)"
    choices = answer.get("choices") if isinstance(answer, dict) else None
    if not isinstance(choices, list) or not choices:
        raise EndpointError(f"The LLM server {url} answered without a non-empty 'choices' list: {hint}.")
    first = choices[0]
    message = first.get("message") if isinstance(first, dict) else None
    if not isinstance(message, dict):
        raise EndpointError(f"The LLM server {url} answered a choice without a 'message' object: {hint}.")
    content = message.get("content")
    if content is None and isinstance(message.get("refusal"), str):
        content = message["refusal"]  # OpenAI's refusal: the text says why; a grade reads it as no grade
    if not isinstance(content, str):
        raise EndpointError(
            f"The LLM server {url} answered a message whose 'content' is {type(content).__name__}, not text: {hint}."
        )
    lp = first.get("logprobs")
    entries = lp.get("content") if isinstance(lp, dict) else None
    usage = answer.get("usage")
    tokens = usage.get("completion_tokens") if isinstance(usage, dict) else None
    return content, entries if isinstance(entries, list) else None, tokens if type(tokens) is int else None


def _logprob(item: Any) -> float | None:
    value = item.get("logprob") if isinstance(item, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) and value <= 0 else None


def digit_probs(entries: list[Any]) -> tuple[tuple[float, ...], float] | None:
    """At the first answer position whose token is a digit 0-3: the probabilities of "0".."3" among its top
    logprobs, renormalised over the four, and the share they held; None when no position wrote a digit."""
    for entry in entries[:GRADE_MAX_TOKENS]:
        token = entry.get("token") if isinstance(entry, dict) else None
        if not isinstance(token, str) or token.strip(" *_`\"'[(") not in _DIGITS:
            continue
        p = dict.fromkeys(_DIGITS, 0.0)
        tops = entry.get("top_logprobs")
        for item in [*(tops if isinstance(tops, list) else []), entry]:
            tok, value = item.get("token") if isinstance(item, dict) else None, _logprob(item)
            if isinstance(tok, str) and value is not None and tok.strip() in p:
                p[tok.strip()] = max(
                    p[tok.strip()], math.exp(value)
                )  # " 2" and "2" are one answer: keep the larger
        mass = sum(p.values())
        if mass <= 0:
            return None
        return tuple(p[d] / mass for d in _DIGITS), min(1.0, mass)
    return None


class ChatLlm:
    """An LLM behind one or several OpenAI-compatible ``/chat/completions`` servers (see the module docstring)."""

    def __init__(
        self,
        model: str,
        base_urls: Sequence[str] | str,
        *,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.5,
        concurrency: int = CONCURRENCY,
    ) -> None:
        urls = base_urls if isinstance(base_urls, str) else ",".join(base_urls)
        if not timeout > 0 or retries < 0 or backoff < 0 or int(concurrency) < 1:
            raise EndpointError(
                f"timeout={timeout}, retries={retries}, backoff={backoff}, concurrency={concurrency} are invalid for "
                f"the LLM at {urls}: use timeout > 0 s, retries >= 0, backoff >= 0, concurrency >= 1."
            )
        self.model = (model or "").strip()
        if not self.model:
            raise EndpointError(
                f"No model name given for the LLM at {urls!r}: use the name the server serves."
            )
        key = resolve_llm_key(api_key)
        self._key, self._key_sent = Secret(key), bool(key)
        self.retries, self.backoff, self.concurrency = int(retries), float(backoff), int(concurrency)
        self.servers = [
            _Server(
                u,
                h,
                JsonHttp(
                    u,
                    self._key,
                    timeout=timeout,
                    retries=retries,
                    backoff=backoff,
                    max_connections=self.concurrency,
                ),
            )
            for u, h in split_base_urls(urls)
        ]
        hosts = [s.host for s in self.servers]
        label = ", ".join(hosts) if len(hosts) <= 3 else f"{hosts[0]} and {len(hosts) - 1} more servers"
        self.name = f"{self.model} @ {label}"
        self.host = ",".join(sorted({server_identity(s.base) for s in self.servers}))
        self.family = family_of(self.model)
        self.parallel = self.concurrency * len(self.servers)  # prompts worth handing over at once
        self.decode_tps = DEFAULT_DECODE_TPS
        self.measured = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ChatLlm(model={self.model!r}, urls={[s.url for s in self.servers]!r})"

    def close(self) -> None:
        for s in self.servers:
            s.http.close()

    # -- one request --------------------------------------------------------------------------------------------

    def _status_error(self, srv: _Server, e: HttpStatusError) -> EndpointError:
        said = srv.http.snippet(error_message(e.body))
        low, where = said.lower(), f"The LLM server {srv.url}"
        if e.status in (401, 403):
            sent = "a key was sent" if self._key_sent else "no key was sent"
            return EndpointError(
                f"{where} refused the request (HTTP {e.status}, {sent}): check the key in LLM_API_KEY / "
                f"OPENAI_API_KEY or the key field. Server said: {said!r}"
            )
        if "model" in low and any(
            w in low for w in ("not found", "does not exist", "unknown", "no such", "invalid model")
        ):
            return EndpointError(
                f"{where} does not serve the model {self.model!r} (HTTP {e.status}): use the exact name the server "
                f"serves (GET {srv.base}/models lists them; Ollama: ollama list). Server said: {said!r}"
            )
        if e.status == 404:
            return EndpointError(f"{where} does not exist (HTTP 404): {path_hint(srv.base)}")
        if e.status in (400, 422):
            return _Refused(f"{where} rejected the request (HTTP {e.status}): {said!r}.")
        tail = f" after {e.attempts} attempts" if e.attempts > 1 else ""
        text = f"{where} failed with HTTP {e.status}{tail}: {said!r}. Check the server logs; retry later."
        if e.status in (408, 425, 429, 500, 502, 503, 504):
            return ServerUnavailable(text, f"HTTP {e.status}")
        return EndpointError(text)

    def _post(self, srv: _Server, payload: dict[str, Any], max_tokens: int) -> tuple[str, list[Any] | None]:
        start = time.perf_counter()
        try:
            answer = srv.http.post(CHAT_PATH, payload, max_bytes=answer_limit(max_tokens))
        except HttpStatusError as e:
            raise self._status_error(srv, e) from None
        text, entries, tokens = _message(answer, srv.url)
        seconds = time.perf_counter() - start
        generated = tokens if tokens is not None else max(1, round(len(text) / CHARS_PER_TOKEN))
        if seconds > 0 and generated > 1:
            with self._lock:
                self.decode_tps, self.measured = generated / seconds, True
        return text, entries

    def _complete_one(self, srv: _Server, prompt: Prompt, max_tokens: int, seed: int) -> str:
        payload = {
            "model": self.model,
            "messages": list(prompt),
            "temperature": 0,
            "seed": int(seed),
            "max_tokens": int(max_tokens),
            "stream": False,
        }
        return self._post(srv, payload, max_tokens)[0].strip()

    def _grade_one(self, srv: _Server, prompt: Prompt) -> Grade:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": list(prompt),
            "temperature": 0,
            "seed": 0,
            "max_tokens": GRADE_MAX_TOKENS,
            "stream": False,
        }
        entries = None
        if srv.logprobs:
            try:
                text, entries = self._post(
                    srv, {**payload, "logprobs": True, "top_logprobs": TOP_LOGPROBS}, GRADE_MAX_TOKENS
                )
            except _Refused:
                srv.logprobs = False  # this server does not do logprobs: plain text from now on
        if not srv.logprobs:
            text, entries = self._post(srv, payload, GRADE_MAX_TOKENS)
        label = parse_grade(text)
        found = digit_probs(entries) if entries and label is not None else None
        probs, mass = found if found is not None else (None, None)
        return Grade(label=label, probs=probs, raw=text.strip()[:RAW_LIMIT], mass=mass)

    # -- many requests over the servers -------------------------------------------------------------------------

    def _run(
        self,
        count: int,
        call: Callable[[_Server, int], Any],
        progress: Progress | None,
        cancel: Callable[[], bool] | None,
    ) -> list[Any]:
        results: list[Any] = [None] * count
        queue: deque[tuple[int, int]] = deque((i, 0) for i in range(count))  # (prompt index, failed tries)
        pending: dict[Future[Any], tuple[int, int, _Server]] = {}
        pooled, servers = len(self.servers) > 1, self.servers
        max_tries = self.retries + len(servers)
        done = turn = outage = 0
        pool = ThreadPoolExecutor(max_workers=self.parallel)
        try:
            while queue or pending:
                if cancel is not None and cancel():
                    raise Cancelled(f"cancelled after {done} of {count} answers")
                now = time.monotonic()
                for _ in range(len(queue)):
                    free = [
                        s
                        for s in (servers[(turn + k) % len(servers)] for k in range(len(servers)))
                        if not s.resting(now) and s.in_flight < self.concurrency
                    ]
                    if not free:
                        break
                    srv, (i, tries) = free[0], queue.popleft()
                    srv.in_flight += 1
                    pending[pool.submit(call, srv, i)] = (i, tries, srv)
                    turn = (servers.index(srv) + 1) % len(servers)
                if not pending:  # every server rests: probe the first to come back on the backoff schedule
                    time.sleep(
                        min(
                            max(0.01, min(s.rest_until for s in servers) - now), self.backoff * 2**outage, 0.5
                        )
                    )
                    outage += 1
                    first = min(servers, key=lambda s: s.rest_until)
                    first.rest_until = min(first.rest_until, time.monotonic())
                    continue
                finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                for fut in finished:
                    i, tries, srv = pending.pop(fut)
                    srv.in_flight -= 1
                    try:
                        results[i] = fut.result()
                    except (ServerUnavailable, TransientAnswerError) as e:
                        srv.failures += 1
                        srv.last_error = e.reason
                        if not pooled:
                            raise
                        if tries + 1 >= max_tries:
                            raise EndpointError(
                                f"No server of the pool {', '.join(s.host for s in servers)} answered prompt #{i} "
                                f"({tries + 1} failed attempts): check that they are running. Last error: {e}"
                            ) from None
                        srv.rest(time.monotonic())
                        queue.appendleft((i, tries + 1))
                        continue
                    srv.calls += 1
                    srv.strikes = outage = 0
                    done += 1
                    if progress is not None:
                        progress(done, count)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        return results

    # -- the protocol -------------------------------------------------------------------------------------------

    def complete(
        self,
        prompts: Sequence[Prompt],
        *,
        max_tokens: int,
        seed: int = 0,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[str]:
        items = list(prompts)
        return self._run(
            len(items), lambda s, i: self._complete_one(s, items[i], max_tokens, seed), progress, cancel
        )

    def grade(
        self,
        prompts: Sequence[Prompt],
        *,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grade]:
        items = list(prompts)
        return self._run(len(items), lambda s, i: self._grade_one(s, items[i]), progress, cancel)

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float:
        """Seconds per call with the pool's requests in flight: the prompt at an assumed prefill rate plus
        ``max_tokens`` at the answer rate measured on the last answer (an assumed 30 tokens/s before any)."""
        one = (prompt_chars / CHARS_PER_TOKEN) / DEFAULT_PREFILL_TPS + max(1, max_tokens) / self.decode_tps
        return one / self.parallel
