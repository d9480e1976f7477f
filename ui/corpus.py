"""Loading the sample corpus or uploads into the shared corpus registry; the Corpus page's chunk-length chart."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from core.datasets import judged_queries, read_qrels
from core.errors import IngestError
from core.evaluation import Qrels
from core.ingest import (
    DEFAULT_CHUNKING,
    ChunkOptions,
    IngestCache,
    Tokenizer,
    load_corpus,
    load_files,
    read_queries_jsonl,
)
from core.models import load_tokenizer
from core.report import charts
from core.text import count
from core.types import Corpus
from ui import last_session, resources, state

SAMPLE_DOCS = resources.SAMPLE_DIR / "docs"
SAMPLE_QUERIES = resources.SAMPLE_DIR / "queries.jsonl"
SAMPLE_QRELS = resources.SAMPLE_DIR / "qrels.tsv"


@functools.lru_cache(maxsize=1)
def sample_judgments() -> tuple[dict[str, str], Qrels]:
    """The sample corpus's queries and file-level qrels (read once per process; callers must not mutate)."""
    if not SAMPLE_QRELS.exists() or not SAMPLE_QUERIES.exists():
        return {}, {}
    with open(SAMPLE_QRELS, encoding="utf-8-sig") as fh:
        judgments = read_qrels(fh, label=str(SAMPLE_QRELS))
    with open(SAMPLE_QUERIES, encoding="utf-8-sig") as fh:
        all_queries = read_queries_jsonl(fh, name=str(SAMPLE_QUERIES))
    queries, qrels, _ = judged_queries(
        all_queries, judgments, queries_label=str(SAMPLE_QUERIES), qrels_label=str(SAMPLE_QRELS)
    )
    return queries, qrels


def chunk_options() -> ChunkOptions:
    """Chunking options chosen on the corpus page."""
    return ChunkOptions(
        unit=state.get("corpus_unit") or "chars",
        size=int(state.get("corpus_size")),
        overlap=int(state.get("corpus_overlap")),
    )


def unit_changed() -> None:
    """Switching chars <-> tokens resets size and overlap to that unit's defaults (800/100 chars, 256/32 tokens)."""
    size, overlap = DEFAULT_CHUNKING["tokens" if state.get("corpus_unit") == "tokens" else "chars"]
    state.put("corpus_size", size)
    state.put("corpus_overlap", overlap)


def tokenizer_for_chunking() -> tuple[Tokenizer | None, str]:
    """The first chosen model (A, then B, then the bundled MiniLM) whose tokenizer is available offline."""
    for name in (state.get("models_a"), state.get("models_b"), state.BUNDLED_PAIR[1]):
        if name:
            tok = load_tokenizer(resources.model_spec(name))  # cached in core.models.tokenizer
            if tok is not None and callable(tok):
                return tok, name
    return None, ""


def _tokenizer() -> Tokenizer | None:
    """Tokenizer for token-based chunking (None when chunking by characters)."""
    if state.get("corpus_unit") != "tokens":
        return None
    return tokenizer_for_chunking()[0]


def _register(corpus: Corpus, origin: str) -> Corpus:
    if not corpus.chunks:  # a corpus with nothing to search never becomes the current one
        raise IngestError(
            f"{corpus.name} has no chunks: none of its {count(len(corpus.files), 'file')} gave any text."
        )
    resources.corpora().put(corpus.sha256, corpus)
    if state.get("corpus_key") != corpus.sha256:
        state.put("built_a", None)
        state.put("built_b", None)
    state.put("corpus_key", corpus.sha256)
    state.put("corpus_origin", origin)
    last_session.sync()  # a reload right after an upload comes back to it (its files are gone from the page)
    return corpus


def _ingest_cache() -> IngestCache:
    """Each file's chunks kept by content under the store root: a reload or a second page does not re-read them."""
    return IngestCache(resources.store().root)


def load_sample() -> Corpus:
    """Load sample_corpus/docs with the current chunking options (cached by options)."""
    options = chunk_options()
    key = ("sample", options, tokenizer_for_chunking()[1] if options.unit == "tokens" else None)
    corpus = resources.corpora().get_or_create(
        key,
        lambda: load_corpus(
            SAMPLE_DOCS, options=options, tokenizer=_tokenizer(), name="sample corpus", cache=_ingest_cache()
        ),
    )
    return _register(corpus, "sample")


def load_upload(files: list[tuple[str, bytes]]) -> Corpus:
    """Load uploaded files (zip members expand) with the current chunking options.

    An upload that gives no chunks at all (every file bad or empty) is returned with its file statuses but
    not made current: the previous corpus, or none, stays loaded.
    """
    corpus = load_files(
        files, options=chunk_options(), tokenizer=_tokenizer(), name="upload", cache=_ingest_cache()
    )
    return _register(corpus, "upload") if corpus.chunks else corpus


def not_loaded_rows(corpus: Corpus) -> list[dict[str, str]]:
    """File and reason of every file that did not load (small: kept in page state to explain an empty upload)."""
    return [
        {
            "file": f.source,
            "status": f.status,
            "reason": own_reason(f.source, f.reason) or "no text in this file",
        }
        for f in sorted(corpus.files, key=lambda f: f.source)
        if f.status != "loaded" or not f.chunks
    ]


def own_reason(source: str, reason: str) -> str:
    """The reason without the file's path in front ('a.zip/x.pdf: cannot be read …' -> 'cannot be read …'): the
    file column beside it names the file already."""
    return reason.removeprefix(f"{source}: ")


@functools.lru_cache(maxsize=1)
def _sample_queries() -> tuple[tuple[str, str], ...]:
    if not SAMPLE_QUERIES.exists():
        return ()
    with open(SAMPLE_QUERIES, encoding="utf-8-sig") as fh:
        return tuple(read_queries_jsonl(fh, name=str(SAMPLE_QUERIES)).queries.items())


def sample_queries() -> list[dict[str, str]]:
    """The sample set's queries as [{'_id', 'text'}] (core.ingest.jsonl's queries reader; read once per process)."""
    return [{"_id": qid, "text": text} for qid, text in _sample_queries()]


# ---- chunk length vs model window ----------------------------------------------------------------------


def token_rows(model: str, counts: Sequence[int]) -> list[dict[str, object]]:
    """A model's tokens-per-chunk as chart rows: one per distinct token count, with how many chunks have it.

    The chart bins these weighted by ``chunks``, so it draws the histogram one row per chunk drew, from at most
    one row per distinct length (a few hundred, bounded by the chunk size, not by the corpus): a 100k-chunk corpus
    no longer sends 100k rows per model to the browser."""
    values, chunks = np.unique(np.asarray(counts, dtype=np.int64), return_counts=True)
    return [{"model": model, "tokens": int(v), "chunks": int(n)} for v, n in zip(values, chunks, strict=True)]


def window_chart(rows: Sequence[dict[str, object]]) -> alt.Chart:
    """Chunks per token-count bin (40 at most), one step line per model (``token_rows``' rows, summed per bin)."""
    models = list(dict.fromkeys(str(r["model"]) for r in rows))
    # the palette of every chart (core.report.charts): A blue, B orange, then the headline pair
    palette = [charts.MODEL_COLOURS[i % len(charts.MODEL_COLOURS)] for i in range(len(models))]
    legend = alt.Legend(orient="bottom", title=None, symbolType="stroke", labelLimit=320, columns=2)
    return (
        alt.Chart(pd.DataFrame(list(rows)))
        # step lines, not overlapping translucent bars: where two models' counts coincide, blended bars
        # showed a colour no legend entry has
        .mark_line(interpolate="step-after", strokeWidth=2, point=True)
        .encode(
            x=alt.X("tokens:Q", bin=alt.Bin(maxbins=40), title="tokens per chunk"),
            y=alt.Y("sum(chunks):Q", title="chunks", stack=None),
            color=alt.Color("model:N", scale=alt.Scale(domain=models, range=palette), legend=legend),
            strokeDash=alt.StrokeDash(  # same field and legend as the colour: one legend of dashed strokes
                "model:N",
                scale=alt.Scale(domain=models, range=[[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]][: len(models)]),
                legend=legend,
            ),
        )
    )
