"""What every CLI subcommand shares: progress lines, argument types, corpus loading, JSON output."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from core.build import build_index, build_system, load_model, plan_build
from core.datasets import is_judged_folder, load_beir_corpus
from core.dims import parse_dims
from core.errors import DashboardError, IngestError
from core.ingest import IngestCache, load_corpus
from core.models import load_reranker
from core.models.endpoint import DEFAULT_TIMEOUT as ENDPOINT_TIMEOUT
from core.search import (
    IndexParams,
    ModelIndex,
    QdrantBackend,
    QdrantError,
    QdrantTarget,
    Reranker,
    System,
    check_collection_name,
    parse_system,
)
from core.store import EmbeddingStore, default_root
from core.types import Corpus


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1, with a message that names the value."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a number > 0 (seconds, for example)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


class StderrProgress:
    """Progress lines on stderr: at most one per second, plus the final one."""

    def __init__(self, label: str, extra: Callable[[], str] | None = None) -> None:
        self.label, self.last, self.shown, self.extra = label, 0.0, (-1, -1), extra

    def __call__(self, done: int, total: int, rate: float) -> None:
        now = time.monotonic()
        if (done, total) != self.shown and (done >= total or now - self.last >= 1.0):
            self.last, self.shown = now, (done, total)
            more = self.extra() if self.extra else ""  # e.g. an endpoint pool's texts/s per server
            line = f"  {self.label}: {done}/{total} ({rate:.1f}/s)" + (f" · {more}" if more else "")
            print(line, file=sys.stderr, flush=True)


def endpoint_notes(label: str) -> Callable[[str], None]:
    """Print what an endpoint client adapted (a split batch, a smaller batch size) as a progress line."""
    return lambda message: print(f"  {label}: {message}", file=sys.stderr, flush=True)


def ingest_cache(store: str | Path | None = None) -> IngestCache:
    """The ingest cache under the store root (``--store``, else $RETRIEVAL_COMPARE_STORE or the user cache)."""
    return IngestCache(Path(store).expanduser() if store else default_root())


def load_any_corpus(path: str | Path, *, store: str | Path | None = None) -> Corpus:
    """Load a corpus with core.ingest, each file's chunks cached by content under the store root (a second
    command on the same files does not read, chunk and tag them again); a missing path is an IngestError naming it."""
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(f"Corpus path {str(p)!r} does not exist: give a folder, a file or a .zip.")
    return load_corpus(p, cache=ingest_cache(store))


def add_data_corpus(p: argparse.ArgumentParser) -> None:
    """``--corpus PATH`` as the commands that work on judged or generated queries take it (``load_data_corpus``)."""
    p.add_argument(
        "--corpus",
        required=True,
        metavar="PATH",
        help="folder, file or .zip; a judged folder (docs/) or a BEIR folder as evaluate reads them",
    )


def load_data_corpus(path: str | Path) -> Corpus:
    """The corpus as ``evaluate --beir PATH`` reads it: a judged folder's docs/, a BEIR set's corpus.jsonl, or
    any folder, file or .zip of documents (so chunk ids match between the two commands)."""
    p = Path(path).expanduser()
    if is_judged_folder(p):
        return replace(load_corpus(p / "docs"), name=p.name)
    if (p.is_dir() and (p / "corpus.jsonl").exists()) or (p.is_file() and p.suffix.lower() == ".zip"):
        try:
            return load_beir_corpus(p).corpus
        except IngestError:
            if p.is_dir():
                raise
    return load_any_corpus(p)


def add_common(p: argparse.ArgumentParser) -> None:
    """Options shared by commands that load models and the store."""
    p.add_argument(
        "--store",
        default=None,
        help="embedding store folder (default: $RETRIEVAL_COMPARE_STORE or user cache)",
    )
    p.add_argument(
        "--device", default="auto", help="torch device for sentence-transformers models (auto, cpu, cuda)"
    )
    p.add_argument("--batch-size", type=positive_int, default=32, help="document embedding batch size")
    p.add_argument(
        "--max-tokens", type=positive_int, default=None, help="override the model's max sequence length"
    )
    p.add_argument(
        "--timeout",
        type=positive_float,
        default=ENDPOINT_TIMEOUT,
        metavar="SECONDS",
        help=f"endpoint models: seconds for one whole request (default {ENDPOINT_TIMEOUT:g}; slow batches are split)",
    )
    add_index_backend(p)


def add_corpus_model(p: argparse.ArgumentParser, *, many: bool, systems: bool = False) -> None:
    """``--corpus``, ``--model`` (one, or repeatable with ``many``), the HNSW and common options; with ``systems``
    also ``--system`` (BM25, hybrid, rerank), and then ``--model`` is no longer required on its own."""
    p.add_argument("--corpus", required=True, metavar="PATH", help="folder, file or .zip to index")
    model_help = "preset, hub id, local folder or endpoint:URL"
    if many:
        p.add_argument("--model", action="append", required=not systems, default=[] if systems else None,
                       metavar="NAME", help=model_help + " (repeat for several)")  # fmt: skip
        if systems:
            add_systems(p)
    elif systems:
        one = p.add_mutually_exclusive_group(required=True)
        one.add_argument("--model", metavar="NAME", help=model_help)
        one.add_argument("--system", type=system_arg, metavar="SPEC", help=SYSTEM_HELP.split(" (repeat")[0])
        add_rerank_api(p)
    else:
        p.add_argument("--model", required=True, metavar="NAME", help=model_help)
    p.add_argument("--M", dest="M", type=positive_int, default=16, help="HNSW graph degree")
    p.add_argument("--ef-construction", type=positive_int, default=200, help="HNSW build beam")
    add_common(p)


SYSTEM_HELP = (
    "a retrieval system beside the models: bm25, hybrid:X+Y (reciprocal rank fusion), hybrid:X+Y@0.7 (convex, "
    "weight 0.7 on X), rerank:X+RERANKER[@N] (top N, default 50, re-scored by a cross-encoder: a hub id, a folder "
    "or endpoint:MODEL@URL); X and Y are bm25 or a model (repeat for several)"
)


def system_arg(text: str) -> str:
    """argparse type of ``--system``: a spec ``core.search.systems.parse_system`` accepts, else argparse's error."""
    try:
        return parse_system(text).text
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_systems(p: argparse.ArgumentParser) -> None:
    """``--system SPEC`` (repeatable): BM25, hybrid and reranked systems beside (or instead of) ``--model``."""
    p.add_argument("--system", action="append", default=[], type=system_arg, metavar="SPEC", help=SYSTEM_HELP)
    add_rerank_api(p)


def add_rerank_api(p: argparse.ArgumentParser) -> None:
    """``--rerank-api``: which protocol a served reranker speaks."""
    p.add_argument("--rerank-api", choices=("rerank", "tei", "score"), default="rerank",
                   help="served rerankers (endpoint:MODEL@URL): /rerank (Infinity, vLLM, Cohere-style), "
                   "TEI's /rerank, or vLLM's /score")  # fmt: skip


def build_systems(
    corpus: Corpus,
    args: argparse.Namespace,
    store: EmbeddingStore,
    *,
    models: Sequence[str] = (),
    specs: Sequence[str] = (),
    built: dict[str, ModelIndex] | None = None,
) -> dict[str, System]:
    """``models`` and the systems ``specs`` describe, built on ``corpus``, by name (models first).

    A model named inside a system (``hybrid:MODEL+bm25``) is built once and shared with ``models``;
    ``built`` passes models the command has already built (by the name given on the command line).
    """
    have: dict[str, ModelIndex] = dict(built or {})

    def dense(name: str) -> System:
        if name not in have:
            have[name] = build_one(corpus, name, args, store)
        return have[name]

    def reranker(name: str) -> Reranker:
        print(f"[{name}] loading reranker ...", file=sys.stderr, flush=True)
        return load_reranker(name, device=args.device, api=args.rerank_api, timeout=args.timeout)

    out: dict[str, System] = {}
    for name in models:
        out.setdefault(dense(name).name, have[name])
    cache: dict[str, System] = {}
    for spec in specs:
        system = build_system(spec, corpus, dense=dense, reranker=reranker, cache=cache)
        out.setdefault(system.name, system)
    if not out:
        raise DashboardError("Name at least one --model or --system to search with.")
    return out


def _dims_list(text: str) -> tuple[int, ...]:
    try:
        return parse_dims(text, field="--qdrant-dims")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def collection_name_arg(text: str) -> str:
    """argparse type of ``--qdrant-collection``: a name Qdrant accepts ("" = the default), refused with argparse's
    own ``error: argument --qdrant-collection: ...`` line (exit 2) before anything is loaded."""
    if text == "":
        return text
    try:
        return check_collection_name(text, field="")
    except QdrantError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_index_backend(p: argparse.ArgumentParser) -> None:
    """``--index hnswlib|qdrant`` and where Qdrant is (its key comes from $QDRANT_API_KEY only)."""
    g = p.add_argument_group("index backend")
    g.add_argument("--index", choices=("hnswlib", "qdrant"), default="hnswlib",
                   help="hnswlib in process (default) or a Qdrant server/cluster or local folder")  # fmt: skip
    where = g.add_mutually_exclusive_group()
    where.add_argument(
        "--qdrant-url", default=None, metavar="URL", help="Qdrant server, e.g. http://localhost:6333"
    )
    where.add_argument("--qdrant-path", default=None, metavar="DIR", help="Qdrant local mode folder")
    g.add_argument("--qdrant-collection", default="", type=collection_name_arg, metavar="NAME",
                   help="collection name (default: rc-<corpus sha256 prefix>, one per corpus)")  # fmt: skip
    g.add_argument("--qdrant-dims", type=_dims_list, default=(), metavar="D,D",
                   help="Matryoshka dims to upload as extra named vectors (searched by prefetch + full rescore)")  # fmt: skip


def index_backend(args: argparse.Namespace) -> QdrantBackend | None:
    """The backend the flags ask for: None for hnswlib, a QdrantBackend for ``--index qdrant``."""
    url, path = getattr(args, "qdrant_url", None), getattr(args, "qdrant_path", None)
    if getattr(args, "index", "hnswlib") != "qdrant":
        if url or path:
            raise DashboardError("--qdrant-url / --qdrant-path need --index qdrant")
        return None
    target = QdrantTarget(
        url=url or "", path=path or "", collection=args.qdrant_collection, mrl_dims=tuple(args.qdrant_dims)
    )
    return QdrantBackend(target)


def build_one(
    corpus: Corpus, name: str, args: argparse.Namespace, store: EmbeddingStore, *, label: str | None = None
) -> ModelIndex:
    """Load one model and build (or load from the store) its index, with progress on stderr.

    HNSW options come from ``args`` where the command has them (``--M``, ``--ef-construction``, ``--ef``).
    """
    default = IndexParams()
    params = IndexParams(
        M=getattr(args, "M", None) or default.M,
        ef_construction=getattr(args, "ef_construction", None) or default.ef_construction,
        ef_search=getattr(args, "ef", None) or default.ef_search,
    )
    # a Qdrant index holds the vectors and graph outside this process; the plan refuses an OOM kill up front
    plan = plan_build(
        corpus,
        name,
        device=args.device,
        max_tokens=args.max_tokens,
        params=params,
        backend=index_backend(args),
    )
    label = label or plan.spec.name
    print(f"[{label}] loading {plan.spec.model_id} ...", file=sys.stderr, flush=True)
    embedder = load_model(plan, timeout=args.timeout, on_note=endpoint_notes(label))
    return build_index(
        plan,
        corpus,
        embedder,
        store=store,
        batch_size=args.batch_size,
        progress=StderrProgress(f"[{label}] embedding", embedder.pool_summary),
        index_progress=StderrProgress(f"[{label}] indexing"),
    )


def run_command(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run one subcommand: expected errors print 'error: ...' and exit 2; Ctrl-C exits 130."""
    try:
        return int(func(args) or 0)
    except DashboardError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted (completed embedding segments are kept in the store)", file=sys.stderr)
        return 130


def dumps(obj: object) -> str:
    """JSON for stdout (UTF-8 text kept readable)."""
    return json.dumps(obj, ensure_ascii=False, indent=2)
