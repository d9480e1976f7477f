"""Token counts of chunks and how many exceed a model's window (bge truncates silently at 512)."""

from __future__ import annotations

from core.ingest.chunking import Tokenizer
from core.types import Corpus


def estimate_tokens(text: str) -> int:
    """Rough token count without a tokenizer: one per CJK character, one per ~4 other characters."""
    cjk = sum(
        1
        for ch in text
        if "\u3040" <= ch <= "\u30ff" or "\u3400" <= ch <= "\u9fff" or "\uac00" <= ch <= "\ud7af"
    )
    return cjk + max(0, len(text) - cjk + 3) // 4


def token_counts(corpus: Corpus, tokenizer: Tokenizer | None = None, *, batch_size: int = 256) -> list[int]:
    """Tokens per chunk (of ``embed_text``, without special tokens); estimated from characters if tokenizer is None."""
    texts = [c.embed_text for c in corpus.chunks]
    if tokenizer is None:
        return [estimate_tokens(t) for t in texts]
    counts: list[int] = []
    for i in range(0, len(texts), batch_size):
        batch = texts[i : i + batch_size]
        try:
            enc = tokenizer(batch, add_special_tokens=False, verbose=False)
        except TypeError:
            enc = tokenizer(batch, add_special_tokens=False)
        counts.extend(len(ids) for ids in enc["input_ids"])
    return counts


def count_over_window(corpus: Corpus, *, tokenizer: Tokenizer | None = None, max_tokens: int) -> int:
    """Number of chunks longer than ``max_tokens`` (the model truncates them); estimated when tokenizer is None."""
    return sum(1 for n in token_counts(corpus, tokenizer) if n > max_tokens)


def over_window_note(
    corpus: Corpus, *, tokenizer: Tokenizer | None = None, max_tokens: int, model: str = "the model"
) -> str:
    """One sentence for the UI: how many chunks exceed the window, and whether the count is an estimate."""
    over = count_over_window(corpus, tokenizer=tokenizer, max_tokens=max_tokens)
    how = (
        "counted with its tokenizer"
        if tokenizer is not None
        else "estimated from characters: no tokenizer loaded"
    )
    total = len(corpus.chunks)
    if not over:
        return f"All {total} chunks fit in {model}'s {max_tokens}-token window ({how})."
    return (
        f"{over} of {total} chunks exceed {model}'s {max_tokens}-token window and will be truncated ({how}); "
        "lower the chunk size to keep their ends searchable."
    )
