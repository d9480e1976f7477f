"""What every LLM backend answers: the bundled tiny model and OpenAI-compatible chat servers alike.

A backend turns *chat prompts* (lists of ``{"role": ..., "content": ...}`` messages) into either free text
(``complete``: used to write test queries) or a grade distribution (``grade``: used by the judge). Callers never
parse a backend's raw answer themselves: ``grade`` returns ``Grade`` objects whose ``label`` is None when the
backend gave no usable grade (a refusal, prose, an empty answer), which callers count and report, never guess.

Identity: ``name`` (shown to users, e.g. "SmolLM2-135M-Instruct (bundled)" or "qwen2.5:7b @ gpu1:8000"), ``model``
(the model id sent to a server or the bundled model's id), ``host`` ("local" for the bundled model) and ``family``
(a lower-case family word such as "qwen", "smollm", "llama", used to warn when the generator is of the same family as
an embedding model under test). The cache key of a call is (prompt version, model, host, input): see core.llm.cache.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": text}
Prompt = list[Message]
Progress = Callable[[int, int], None]  # (done, total), called from the worker thread
GRADES = (0, 1, 2, 3)  # the judge's scale (UMBRELA); mapped onto the store's 0/1/2 by core.judging.llm_judge


@dataclass(frozen=True)
class Grade:
    label: int | None  # 0..3, or None when the backend gave no usable grade
    probs: tuple[float, ...] | None = (
        None  # P("0".."3") renormalised over the four digits, where the backend exposes it
    )
    raw: str = ""  # the answer's text (bounded), kept for the disagreement list and for refusals
    mass: float | None = (
        None  # the share of all next-token probability the four digits held (where exposed): a
    )
    # low mass means the model wanted to say something else, so its digit is a weak answer


class Cancelled(Exception):
    """Raised by a backend or a caller's loop when the user pressed Cancel; work done so far is kept (cached)."""


class Llm(Protocol):
    name: str
    model: str
    host: str
    family: str

    def complete(
        self,
        prompts: Sequence[Prompt],
        *,
        max_tokens: int,
        seed: int = 0,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[str]:
        """One answer per prompt (greedy / temperature 0 with ``seed``), in order; raises Cancelled when cancel()."""
        ...

    def grade(
        self,
        prompts: Sequence[Prompt],
        *,
        progress: Progress | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> list[Grade]:
        """One Grade per prompt, in order; the prompt asks for a single digit 0-3."""
        ...

    def seconds_estimate(self, prompt_chars: int, max_tokens: int) -> float:
        """A rough seconds-per-call figure for the time estimate shown before a run (stated as an estimate)."""
        ...

    def close(self) -> None: ...
