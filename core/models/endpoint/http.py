"""JSON over HTTP for the endpoint backend, on httpx: one total deadline per request, bounded bodies,
no redirects, bounded retries with backoff and Retry-After, and every transport failure mapped to an
``EndpointError`` that names the URL (no httpx or http.client exception escapes).

The deadline is enforced below httpx, on every socket read and write (a wrapped httpcore network
backend), so a server that trickles a byte every few seconds, in its headers or its body, is cut off
at ``timeout`` seconds after the request started rather than after ``timeout`` seconds of silence.
"""

from __future__ import annotations

import email.utils
import functools
import json
import random
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, cast

import httpcore
import httpx

from core.errors import EndpointError

RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ERROR_BODY_LIMIT = 64 * 1024  # bytes of an error answer kept for the message
MAX_SLEEP = 20.0
_deadline = threading.local()  # .at: time.monotonic() by which the current thread's request must end


class Secret:
    """Holds the API key; prints as '***' and refuses to be pickled with its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the key replaced by '***'."""
        return text.replace(self._value, "***") if self._value else text

    def __repr__(self) -> str:
        return "***" if self._value else "''"

    __str__ = __repr__

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:  # a pickled copy never carries the key
        return (Secret, ("",))


class TransientAnswerError(EndpointError):
    """The request timed out, or its answer was cut short or malformed: retry smaller, not as is."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # short: "timed out after 60 s", "came back cut short"


class ServerUnavailable(EndpointError):
    """The server gave no usable answer (refused, unreachable, dropped, 5xx/429 that persisted): a pool
    moves the batch to another server; with one server it is the error the user sees."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # short: "connection refused", "HTTP 503"


class HttpStatusError(Exception):
    """A non-2xx, non-3xx answer that was not (or no longer) retried; the caller maps it to a message."""

    def __init__(self, status: int, body: bytes, attempts: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body, self.attempts = status, body, attempts


class _ConnectionFailure(Exception):
    """No answer at all (refused, reset, dropped): retried; ``permanent`` for DNS and TLS errors."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent = reason, permanent


def _clamp(timeout: float | None, *, connect: bool = False) -> float | None:
    """The socket timeout for the next operation: the smaller of httpx's and what is left of the deadline."""
    end: float | None = getattr(_deadline, "at", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise (httpcore.ConnectTimeout if connect else httpcore.ReadTimeout)("request deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(
            host, port, _clamp(timeout, connect=True), local_address, socket_options
        )
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._inner.connect_unix_socket(path, _clamp(timeout, connect=True), socket_options)
        )

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's own transport with the deadline-enforcing network backend underneath."""

    def __init__(self, max_connections: int, *, tls: bool) -> None:
        # Loading the CA bundle costs ~0.1-0.3 s: once per process, and only for https base URLs
        # (a plain-http client never needs it: redirects are not followed).
        verify = _tls_context() if tls else ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        super().__init__(verify=verify, limits=httpx.Limits(max_connections=max_connections), retries=0)
        pool = self._pool
        if isinstance(pool, httpcore.ConnectionPool):
            pool._network_backend = _DeadlineBackend(pool._network_backend)


class JsonHttp:
    """POST/GET JSON against one base URL; thread-safe (one httpx.Client, pooled connections)."""

    def __init__(
        self,
        base: str,
        key: Secret,
        *,
        timeout: float,
        retries: int,
        backoff: float,
        max_connections: int = 16,
        on_post: Callable[[], None] | None = None,
    ) -> None:
        self.base, self._key = base.rstrip("/"), key
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self._on_post = on_post
        self._client = httpx.Client(
            transport=_DeadlineTransport(max_connections, tls=self.base.startswith("https:")),
            follow_redirects=False,  # a redirect is reported, never followed: the key stays with us
            trust_env=False,  # no .netrc credentials, no proxy variables: we talk to the base URL only
            timeout=httpx.Timeout(timeout),
        )

    def __repr__(self) -> str:
        return f"JsonHttp({self.base!r})"

    def close(self) -> None:
        self._client.close()

    def _headers(self, *, body: bool) -> dict[str, str]:
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        if body:
            headers["Content-Type"] = "application/json"
        if self._key.get():
            headers["Authorization"] = "Bearer " + self._key.get()
        return headers

    def post(self, path: str, payload: Mapping[str, Any], *, max_bytes: int) -> dict[str, Any]:
        """POST ``payload`` to base+path and return the JSON object it answers (retrying what is transient)."""
        return cast(dict[str, Any], self.post_json(path, payload, max_bytes=max_bytes))

    def post_json(
        self, path: str, payload: Mapping[str, Any], *, max_bytes: int, array_ok: bool = False
    ) -> dict[str, Any] | list[Any]:
        """``post``; with ``array_ok`` a JSON array answer is accepted too (TEI's /rerank answers one)."""
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        url, attempt, start = self.base + path, 0, time.monotonic()
        while True:
            if self._on_post is not None:
                self._on_post()
            retry_after: str | None = None
            try:
                status, headers, raw = self._once("POST", url, body, max_bytes, self.timeout)
            except _ConnectionFailure as e:
                if e.permanent or attempt >= self.retries:
                    took = time.monotonic() - start
                    raise ServerUnavailable(
                        _connection_message(url, e, attempt + 1, took), e.reason
                    ) from None
            else:
                if status < 300:
                    return self._json(url, raw, array_ok=array_ok)
                if status < 400:
                    raise EndpointError(
                        _redirect_message(url, status, self._key.scrub(headers.get("location", "")))
                    )
                if status not in RETRY_STATUS or attempt >= self.retries:
                    raise HttpStatusError(status, raw, attempt + 1)
                retry_after = headers.get("retry-after")
            time.sleep(self.delay(attempt, retry_after))
            attempt += 1

    def get(self, path: str, *, max_bytes: int, timeout: float) -> dict[str, Any] | None:
        """GET base+path once; the JSON object, or None for anything but a 2xx JSON object."""
        try:
            status, _, raw = self._once("GET", self.base + path, None, max_bytes, timeout)
            return self._json(self.base + path, raw) if status < 300 else None
        except (EndpointError, _ConnectionFailure):
            return None

    def _once(
        self, method: str, url: str, body: bytes | None, max_bytes: int, timeout: float
    ) -> tuple[int, httpx.Headers, bytes]:
        """One request under one total deadline; the body read with a byte budget."""
        _deadline.at = time.monotonic() + timeout
        answered = False
        try:
            with self._client.stream(
                method, url, content=body, headers=self._headers(body=body is not None), timeout=timeout
            ) as resp:
                answered = True
                ok = 200 <= resp.status_code < 300
                limit = max_bytes if ok else ERROR_BODY_LIMIT
                declared = resp.headers.get("content-length", "")
                if ok and declared.isdigit() and int(declared) > limit:
                    raise EndpointError(_too_large_message(url, f"announced {int(declared):,} bytes", limit))
                parts, size = [], 0
                for part in resp.iter_bytes():
                    size += len(part)
                    if size > limit:
                        if ok:
                            raise EndpointError(
                                _too_large_message(url, f"kept sending past {limit:,} bytes", limit)
                            )
                        break  # an error page: its start is enough for the message
                    parts.append(part)
                return resp.status_code, resp.headers, b"".join(parts)
        except httpx.ConnectTimeout:
            raise _ConnectionFailure(f"no connection within {timeout:g} s") from None
        except httpx.TimeoutException:
            raise TransientAnswerError(
                f"The endpoint {url} did not answer within {timeout:g} s: raise the timeout "
                "(--timeout SECONDS in the CLI, the timeout setting elsewhere) or check that the server "
                "is not overloaded.",
                f"timed out after {timeout:g} s",
            ) from None
        except httpx.ConnectError as e:
            raise _connect_failure(e) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as e:
            if not answered:
                raise _ConnectionFailure(f"dropped the connection ({type(e).__name__})") from None
            raise TransientAnswerError(
                f"The endpoint {url} closed the connection before the whole answer arrived ({_short(e)}): "
                "the server or a proxy in between cut it short; check its logs (crash, restart, size limit).",
                "came back cut short",
            ) from None
        except httpx.DecodingError as e:
            raise TransientAnswerError(
                f"The endpoint {url} sent a corrupt compressed answer ({_short(e)}).", "came back corrupt"
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise EndpointError(f"The request to the endpoint {url} failed: {_short(e)}.") from None
        finally:
            _deadline.at = None

    def _json(self, url: str, raw: bytes, *, array_ok: bool = False) -> Any:
        text = raw.decode("utf-8", "replace")
        try:
            obj = json.loads(text)
        except RecursionError:  # thousands of nested [ or {: the parser runs out of stack
            raise EndpointError(
                f"The endpoint {url} answered JSON nested too deeply to read ({self.snippet(text, 40)!r}): an "
                "embeddings answer is a few levels deep; check that the base URL points at an OpenAI-compatible "
                "/v1/embeddings endpoint and not at something else answering JSON."
            ) from None
        except json.JSONDecodeError:
            if text.lstrip()[:1] in ("{", "["):
                raise TransientAnswerError(
                    f"The endpoint {url} answered malformed JSON ({self.snippet(text)!r}): the answer was cut "
                    "short or corrupted on the way; check the server and any proxy in between.",
                    "came back as malformed JSON",
                ) from None
            raise EndpointError(
                f"The endpoint {url} answered with something that is not JSON ({self.snippet(text)!r}): "
                "check that the base URL points at an OpenAI-compatible API (scheme://host:port/v1 for vLLM, TEI, "
                "Ollama and llama.cpp; the server's root for Infinity), not at a web page or proxy login."
            ) from None
        except ValueError as exc:  # an integer of more digits than Python converts (int_max_str_digits)
            raise EndpointError(
                f"The endpoint {url} answered JSON holding a number too long to read ({_short(exc)}): no "
                "embeddings answer holds such a number; check that the base URL points at an OpenAI-compatible "
                "/v1/embeddings endpoint and that the server is not corrupting its answers."
            ) from None
        if not isinstance(obj, dict) and not (array_ok and isinstance(obj, list)):
            raise EndpointError(
                f"The endpoint {url} answered JSON of type {type(obj).__name__}, not an object: "
                "check that it is an OpenAI-compatible /v1/embeddings endpoint."
            )
        return obj

    def snippet(self, raw: bytes | str, limit: int = 160) -> str:
        """A short, key-scrubbed, one-line excerpt of a server answer for error messages."""
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        text = " ".join(self._key.scrub(text).split())
        return text[:limit] + ("..." if len(text) > limit else "")

    def delay(self, attempt: int, retry_after: str | None) -> float:
        """Exponential backoff with equal jitter, bounded; honours Retry-After (seconds or an HTTP date)."""
        if retry_after:
            try:
                return max(0.0, min(float(retry_after), MAX_SLEEP))
            except ValueError:
                when = email.utils.parsedate_tz(retry_after)
                if when is not None:
                    return max(0.0, min(email.utils.mktime_tz(when) - time.time(), MAX_SLEEP))
        d = min(self.backoff * (2**attempt), MAX_SLEEP)
        return d / 2 + random.uniform(0, d / 2)


def seconds_text(seconds: float) -> str:
    """'241 s', '2.4 s': how long something took, for a message."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def _short(e: BaseException) -> str:
    return re.sub(r"\s+", " ", str(e) or type(e).__name__)[:120]


def _connect_failure(e: httpx.ConnectError) -> _ConnectionFailure:
    cause: BaseException | None = e
    while cause is not None and not isinstance(cause, OSError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ConnectionRefusedError):
        return _ConnectionFailure("connection refused")
    if isinstance(cause, socket.gaierror):
        return _ConnectionFailure("host name not found", permanent=True)
    if isinstance(cause, ssl.SSLError):
        return _ConnectionFailure(
            f"TLS error: {getattr(cause, 'reason', None) or _short(cause)}", permanent=True
        )
    return _ConnectionFailure(_short(e))


def _connection_message(url: str, e: _ConnectionFailure, attempts: int, seconds: float = 0.0) -> str:
    """The message for a connection that failed ``attempts`` times; with several, how long they took in all
    (a reason such as "no connection within 60 s" bounds one attempt, not the call)."""
    took = f" over {seconds_text(seconds)} in all" if attempts > 1 else ""
    if e.reason.startswith("dropped"):
        return (
            f"The endpoint {url} {e.reason} {attempts} time(s){took}: check the server logs (crash, out of "
            "memory, proxy limit)."
        )
    return (
        f"Could not connect to the endpoint {url} ({e.reason}) after {attempts} attempt(s){took}: check "
        "that the server is running and the host/port in the base URL are right."
    )


def _redirect_message(url: str, status: int, location: str) -> str:
    where = " ".join(location.split())[:200] or "(no Location header)"
    return (
        f"The endpoint {url} answered HTTP {status}, a redirect to {where!r}. Redirects are not followed "
        "(the request and the API key would go to another address): put the address the server wants "
        "into the base URL yourself if you trust it (often https:// instead of http://, or a missing /v1)."
    )


def _too_large_message(url: str, what: str, limit: int) -> str:
    return (
        f"The endpoint {url} {what} for one batch, more than the {limit:,} an embeddings answer of that "
        "size can need: reading stopped. Check that the base URL and model are right (the server "
        "may return far larger vectors than expected, or something that is not an embeddings answer)."
    )
