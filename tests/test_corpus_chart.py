"""The Corpus page's chunk-length chart sends the browser one row per model and distinct token count, not one per
chunk: bounded at 100k chunks, and the same picture as the per-chunk chart it replaced on the sample corpus."""

from __future__ import annotations

import random
import re
from pathlib import Path

import altair as alt
import pandas as pd
import pytest

from core.ingest import load_corpus, token_counts
from core.types import Chunk, Corpus
from ui.corpus import token_rows, window_chart

ROOT = Path(__file__).resolve().parent.parent


def _values(chart: alt.Chart) -> list[dict]:
    spec = chart.to_dict()
    return next(iter(spec["datasets"].values()))


def test_a_100k_chunk_corpus_sends_a_bounded_number_of_rows():
    rng = random.Random(0)
    words = "index query vector model token search ranking chunk corpus embedding latency cache".split()
    chunks = tuple(
        Chunk(id=f"f{i // 100}.md#{i % 100}", source=f"f{i // 100}.md", text=" ".join(rng.choices(words, k=rng.randint(16, 60))))
        for i in range(100_000)
    )  # fmt: skip
    corpus = Corpus(chunks=chunks, files=(), sha256="0" * 64, name="synthetic 100k")
    counts = token_counts(corpus)  # the character estimate (no tokenizer): one count per chunk
    assert len(counts) == 100_000
    rows = token_rows("A · model-a", counts) + token_rows("B · model-b", [c + 3 for c in counts])
    values = _values(window_chart(rows))
    assert len(values) == len(rows) <= 2 * (max(counts) - min(counts) + 1) < 2_000, len(values)  # was 200,000
    assert sum(v["chunks"] for v in values) == 200_000  # every chunk counted once per model


def _marks(chart: alt.Chart) -> list[str]:
    """The chart's SVG as its elements, sorted: the same marks at the same places, whatever order they are drawn in
    (the summed rows put a model's points in the order of its first rows, not of its first chunks)."""
    vl_convert = pytest.importorskip("vl_convert")
    return sorted(re.split(r"(?=<)", vl_convert.vegalite_to_svg(chart.to_dict(), allowed_base_urls=[])))


def test_the_sample_corpus_picture_is_the_per_chunk_charts():
    corpus = load_corpus(ROOT / "sample_corpus" / "docs")
    counts = token_counts(corpus)
    long = [c * 3 + 7 for c in counts]  # a second model with another spread of lengths
    rows = token_rows("A · multilingual-e5-small", counts) + token_rows("B · all-MiniLM-L6-v2", long)
    new = window_chart(rows)
    # the chart as it was: one row per chunk per model, counted by the chart
    per_chunk = [{"model": "A · multilingual-e5-small", "tokens": t} for t in counts]
    per_chunk += [{"model": "B · all-MiniLM-L6-v2", "tokens": t} for t in long]
    old = new.properties(data=pd.DataFrame(per_chunk)).encode(
        y=alt.Y("count():Q", title="chunks", stack=None)
    )
    assert len(_values(new)) < len(per_chunk)
    assert _marks(new) == _marks(old)
