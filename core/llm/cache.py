"""The LLM answer cache: a re-run costs nothing. One SQLite file, ``<store root>/llm/cache.sqlite``.

Key: sha256 over (call kind, model, host, the backend's revision, the call's parameters, the full prompt messages as
JSON). The full prompt text stands in for the prompt version: a prompt whose wording changed is another key, so a
new prompt version never reads an old answer, and the same prompt written by two versions of the code shares its
answer. Kinds: ``complete`` (parameters: max_tokens, seed) and ``grade``. Values: the answer (a text, or a grade's
label, probabilities, raw text and mass) as JSON. Errors are never cached (a failed call stores nothing), nor is a
key: the API key is not part of a call's key or value. A grade whose label is None (a refusal) is an answer, and is
cached like any other.

``CachedLlm`` wraps any backend: cached prompts are answered without calling it, the rest are sent in chunks of
the backend's ``parallel`` prompts (8 by default) and stored as each chunk comes back, so Cancel keeps what was done.
Concurrency: WAL, one short connection per operation with a 30 s busy timeout (as the judgment store).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

from core.errors import StoreError
from core.llm.base import Grade, Llm, Progress, Prompt
from core.store import default_root

Kind = Literal["complete", "grade"]
BUSY_TIMEOUT_S = 30.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY, kind TEXT NOT NULL, model TEXT NOT NULL, host TEXT NOT NULL,
    answer TEXT NOT NULL, time REAL NOT NULL
);
"""


def call_key(kind: Kind, llm: Llm, prompt: Prompt, params: dict[str, Any]) -> str:
    """The cache key of one call (see the module docstring)."""
    body = {
        "kind": kind,
        "model": llm.model,
        "host": llm.host,
        "revision": str(getattr(llm, "revision", "")),
        "params": params,
        "messages": [{"role": m.get("role", ""), "content": m.get("content", "")} for m in prompt],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class LlmCache:
    """The SQLite file of cached answers (created on first use)."""

    def __init__(self, root: Path | None = None) -> None:
        base = Path(root) if root is not None else default_root()
        self.path = base / "llm" / "cache.sqlite"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"Cannot create the LLM cache folder {self.path.parent}: {e}") from None
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    def __repr__(self) -> str:
        return f"LlmCache({str(self.path)!r})"

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        try:
            with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S)) as con, con:
                yield con
        except sqlite3.DatabaseError as e:
            raise StoreError(
                f"Cannot use the LLM cache {self.path}: {e}. It only saves repeated calls: delete it to start afresh."
            ) from e
        except OSError as e:
            raise StoreError(f"Cannot use the LLM cache {self.path}: {e} (disk full or read-only?)") from e

    def get_many(self, keys: Sequence[str]) -> dict[str, Any]:
        """The cached answers among ``keys`` (decoded JSON), by key."""
        out: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._connect() as con:
            for k in range(0, len(unique), 500):
                part = unique[k : k + 500]
                marks = ",".join("?" * len(part))
                for key, answer in con.execute(
                    f"SELECT key, answer FROM answers WHERE key IN ({marks})", part
                ):
                    out[key] = json.loads(answer)
        return out

    def put_many(self, rows: Sequence[tuple[str, Kind, str, str, Any]]) -> None:
        """Store (key, kind, model, host, answer) rows; a key already present keeps its first answer."""
        now = time.time()
        with self._connect() as con:
            con.executemany(
                "INSERT OR IGNORE INTO answers (key, kind, model, host, answer, time) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (k, kind, model, host, json.dumps(a, ensure_ascii=False), now)
                    for k, kind, model, host, a in rows
                ],
            )

    def count(self) -> int:
        with self._connect() as con:
            return int(con.execute("SELECT COUNT(*) FROM answers").fetchone()[0])


def _grade_json(g: Grade) -> dict[str, Any]:
    return {
        "label": g.label,
        "probs": list(g.probs) if g.probs is not None else None,
        "raw": g.raw,
        "mass": g.mass,
    }


def _grade_from(d: dict[str, Any]) -> Grade:
    probs = d.get("probs")
    return Grade(
        label=d.get("label"),
        probs=tuple(probs) if probs is not None else None,
        raw=d.get("raw", ""),
        mass=d.get("mass"),
    )


class CachedLlm:
    """An Llm answering from the cache where it can and storing every new answer as its chunk comes back."""

    def __init__(self, llm: Llm, cache: LlmCache) -> None:
        self.llm, self.cache = llm, cache
        self.name, self.model, self.host, self.family = llm.name, llm.model, llm.host, llm.family
        self.note = str(getattr(llm, "note", ""))
        self.chunk = max(1, int(getattr(llm, "parallel", 8)))
        self.backend_calls = 0  # prompts sent to the backend by this wrapper (cache misses)

    def __repr__(self) -> str:
        return f"CachedLlm({self.llm!r}, {self.cache!r})"

    def close(self) -> None:
        self.llm.close()

    @staticmethod
    def _params(kind: Kind, max_tokens: int, seed: int) -> dict[str, Any]:
        return {"max_tokens": int(max_tokens), "seed": int(seed)} if kind == "complete" else {}

    def keys(self, prompts: Sequence[Prompt], *, kind: Kind, max_tokens: int = 0, seed: int = 0) -> list[str]:
        params = self._params(kind, max_tokens, seed)
        return [call_key(kind, self.llm, p, params) for p in prompts]

    def missing(self, prompts: Sequence[Prompt], *, kind: Kind, max_tokens: int = 0, seed: int = 0) -> int:
        """How many distinct prompts a call would send to the backend (for the time and cost estimate)."""
        keys = self.keys(prompts, kind=kind, max_tokens=max_tokens, seed=seed)
        return len(set(keys) - set(self.cache.get_many(keys)))

    def _answer(
        self,
        kind: Kind,
        prompts: Sequence[Prompt],
        call: Callable[[list[Prompt], Progress | None], list[Any]],
        encode: Callable[[Any], Any],
        *,
        max_tokens: int,
        seed: int,
        progress: Progress | None,
        cancel: Callable[[], bool] | None,
    ) -> list[Any]:
        keys = self.keys(prompts, kind=kind, max_tokens=max_tokens, seed=seed)
        found = self.cache.get_many(keys)
        todo: dict[str, Prompt] = {}
        for key, prompt in zip(keys, prompts, strict=True):
            if key not in found:
                todo.setdefault(key, prompt)
        total, cached = len(keys), sum(1 for k in keys if k in found)
        if progress is not None and cached:
            progress(cached, total)
        waiting = list(todo.items())
        for k in range(0, len(waiting), self.chunk):
            part = waiting[k : k + self.chunk]
            base = sum(1 for key in keys if key in found)  # answers in hand before this chunk

            def sub(done: int, _n: int, base: int = base) -> None:
                if progress is not None:
                    progress(min(total, base + done), total)

            answers = call([p for _, p in part], sub)
            self.backend_calls += len(part)
            rows = [
                (key, kind, self.model, self.host, encode(a))
                for (key, _), a in zip(part, answers, strict=True)
            ]
            self.cache.put_many(rows)
            found.update({key: encode(a) for (key, _), a in zip(part, answers, strict=True)})
            if progress is not None:
                progress(sum(1 for key in keys if key in found), total)
        return [found[k] for k in keys]

    def complete(
        self,
        prompts: Sequence[Prompt],
        *,
        max_tokens: int,
        seed: int = 0,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[str]:
        def call(part: list[Prompt], sub: Progress | None) -> list[Any]:
            return self.llm.complete(part, max_tokens=max_tokens, seed=seed, progress=sub, cancel=cancel)

        out = self._answer(
            "complete",
            prompts,
            call,
            lambda a: {"text": a},
            max_tokens=max_tokens,
            seed=seed,
            progress=progress,
            cancel=cancel,
        )
        return [str(a["text"]) for a in out]

    def grade(
        self,
        prompts: Sequence[Prompt],
        *,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grade]:
        def call(part: list[Prompt], sub: Progress | None) -> list[Any]:
            return self.llm.grade(part, progress=sub, cancel=cancel)

        out = self._answer(
            "grade", prompts, call, _grade_json, max_tokens=0, seed=0, progress=progress, cancel=cancel
        )
        return [_grade_from(a) for a in out]

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float:
        return self.llm.seconds_estimate(prompt_chars, max_tokens)
