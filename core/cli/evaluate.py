"""``python -m core.cli evaluate``: judged evaluation of one or two models on a BEIR set or the sample corpus.

Prints nDCG@10, MRR@10 and Recall@100 per model, with judged@10 (share of the top 10 that has a judgment)
and condensed nDCG@10 beside them (and the paired test for two models) on stdout, progress on stderr, and
optionally writes JSON ``{"models": {...}, "paired": {...}}`` (each model's metrics include ``"judged@10"``
and ``"ndcg_condensed@10"``) and TREC run files.

``--qrels FILE`` evaluates against graded TREC qrels (``qid 0 docid grade``, e.g. exported from the Judge
page) instead of the set's own judgments; ``--beir`` then only supplies the corpus (a BEIR folder, a judged
folder, or any folder of documents) and the queries come from its queries.jsonl or from ``--queries FILE``
(queries.jsonl, or plain text with one query a line whose id is ``core.judging.store.query_id(line)``).

LLM labels: when the ``--qrels`` file was written by ``core.cli judge`` (its ``FILE.provenance.json`` says origin
"llm"), or ``--judgments STORE`` holds LLM grades, their calibration against the people's labels at hand is
printed (core.judging.calibrate: weighted kappa, shared pairs, the rule's outcome): the set's own qrels (listing
only relevant documents, so a graded document absent from a judged query's qrels counts as a human 0) and the
store's human judgments.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from core.cli.common import (
    StderrProgress,
    add_common,
    add_systems,
    build_one,
    build_systems,
    ingest_cache,
    positive_int,
    run_command,
)
from core.datasets import (
    BeirDataset,
    QrelsFile,
    format_trec_qrels,
    format_trec_run,
    is_judged_folder,
    judged_queries,
    load_beir_corpus,
    load_eval_set,
    parse_trec_qrels,
)
from core.errors import IngestError
from core.evaluation import (
    IDENTICAL_ID_TASKS,
    EvaluationError,
    by_text,
    check_llm,
    choose_doc_key,
    compare,
    doc_key,
    evaluate,
    metric_key,
    parse_metric,
    rank_systems,
    run_retrieval,
)
from core.ingest import QueriesFile, load_corpus, read_queries_jsonl
from core.judging import (
    ABSENT_IS_ZERO_NOTE,
    LIFTED_NOTE,
    TRUST_RULE,
    JudgmentStore,
    query_id,
)
from core.store import EmbeddingStore
from core.types import Corpus

HEADLINE = ("ndcg@10", "mrr@10", "recall@100")
PROVENANCE_SUFFIX = (
    ".provenance.json"  # beside a qrels file core.cli judge wrote: {"origin": "llm", "rater", ...}
)


# hub ids whose weights ship with the project: use the bundled preset (same weights, the model's own 256 tokens)
def add_parser(subparsers) -> argparse.ArgumentParser:
    """Register the ``evaluate`` subcommand on an argparse subparsers object."""
    p = subparsers.add_parser(
        "evaluate",
        help="nDCG@10 / MRR@10 / Recall@100 of one or two models on judged queries (BEIR or sample corpus)",
        description="Evaluate models on a BEIR folder/zip (corpus.jsonl, queries.jsonl, qrels/<split>.tsv) or a "
        "judged folder (docs/, queries.jsonl, qrels.tsv), following MTEB's conventions.",
    )
    configure(p)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    """Add the evaluate options to a parser."""
    p.add_argument(
        "--beir",
        "--data",
        dest="beir",
        required=True,
        metavar="PATH",
        help="BEIR folder or .zip, or a judged folder such as sample_corpus",
    )
    p.add_argument("--split", default=None, help="qrels split (default: test, or the only one)")
    p.add_argument(
        "--qrels",
        default=None,
        metavar="FILE",
        help="graded TREC qrels (qid 0 docid grade) to evaluate against instead of the set's own judgments",
    )
    p.add_argument(
        "--queries",
        default=None,
        metavar="FILE",
        help="with --qrels: queries.jsonl or a text file with one query a line (default: the folder's queries.jsonl)",
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="preset, hub id, local folder or endpoint:URL; repeat to compare",
    )
    add_systems(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--exact", dest="exact", action="store_true", default=True, help="exact search (default)"
    )
    mode.add_argument("--hnsw", dest="exact", action="store_false", help="search the HNSW index")
    p.add_argument("--dims", type=positive_int, default=None, help="Matryoshka dimension (default: full)")
    p.add_argument(
        "--ef", type=positive_int, default=None, help="HNSW search beam (default: max(4 * fetched, 400))"
    )
    p.add_argument(
        "--top-k", type=positive_int, default=None, help="documents retrieved per query (default: 100)"
    )
    p.add_argument(
        "--metrics", default=",".join(HEADLINE), help="comma-separated, e.g. ndcg@10,map@100,precision@5"
    )
    p.add_argument(
        "--ignore-identical-ids",
        choices=("auto", "yes", "no"),
        default="auto",
        help="drop the doc whose id equals the query id (MTEB: on for ArguAna, Quora; auto = by name)",
    )
    p.add_argument(
        "--judgments",
        default=None,
        metavar="STORE",
        help="judgment store (.sqlite file or store root folder): its people's labels calibrate LLM labels, and "
        "its LLM grades are calibrated",
    )
    p.add_argument("--json", dest="json_out", default=None, metavar="OUT", help="write results as JSON")
    p.add_argument("--run-dir", default=None, help="write TREC run files (and qrels) into this folder")
    add_common(p)
    p.add_argument("--resamples", type=positive_int, default=10_000, help="paired test resamples")
    p.add_argument("--seed", type=int, default=0, help="paired test seed")


def _ms(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _format_leaderboard(board: dict) -> str:
    """The leaderboard's test column, latency and size per system, then the top group and the verdict."""
    rows = board["rows"]
    width = max(12, *(len(r["system"]) for r in rows)) + 2
    metric = board["metric"]
    lines = [
        f"leaderboard on {metric}: {board['correction']}",
        f"{'system':<{width}}{'kind':>8}{metric:>10}{'vs best':>9}{'p (Holm)':>10}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'index MB':>10}  top group",
    ]
    for r in rows:
        p = "–" if r["p_holm"] is None else f"{r['p_holm']:.4f}"
        lines.append(
            f"{r['system']:<{width}}{r['kind']:>8}{r[metric]:10.4f}{r[f'diff_vs_best_{metric}']:+9.4f}{p:>10}"
            f"{_ms(r['latency_p50_ms']):>9}{_ms(r['latency_p95_ms']):>9}{(r['index_bytes'] or 0) / 2**20:10.2f}"
            f"  {'yes' if r['top_group'] else ''}"
        )
    lines.append(f"top group: {', '.join(board['top_group'])}")
    lines.append(f"verdict: {board['verdict']['sentence']}")
    lines += [f"warning: {w}" for w in board["verdict"]["warnings"]]
    return "\n".join(lines)


def _identical_ids(choice: str, dataset_name: str, path: str) -> bool:
    if choice != "auto":
        return choice == "yes"
    name = f"{dataset_name} {Path(path).name}".lower()
    return any(t in name for t in IDENTICAL_ID_TASKS)


def _format_table(results: dict[str, dict], metrics: list[str]) -> str:
    width = max(12, *(len(n) for n in results)) + 2
    cols = [(m, max(12, len(m) + 2)) for m in metrics]
    head = "model".ljust(width) + "".join(m.rjust(w) for m, w in cols) + "queries".rjust(9)
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        lines.append(name.ljust(width) + "".join(f"{r[m]:{w}.4f}" for m, w in cols) + f"{r['queries']:9d}")
    return "\n".join(lines)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise IngestError(f"{what} file {path} does not exist.") from exc
    except UnicodeDecodeError as exc:
        raise IngestError(f"{path}: not UTF-8 ({exc}); re-save the file as UTF-8.") from exc
    except OSError as exc:
        raise IngestError(f"Cannot read {what} file {path}: {exc.strerror or exc}.") from exc


def read_queries_file(path: Path) -> QueriesFile:
    """queries.jsonl (BEIR), or plain text with one query a line (id = ``query_id(line)``)."""
    text = _read_text(path, "queries")
    if path.suffix.lower() in (".jsonl", ".json"):
        return read_queries_jsonl(text.splitlines(), name=str(path))
    out = QueriesFile()
    for line in text.splitlines():
        if line.strip():
            out.queries.setdefault(query_id(line), line.strip())
    if not out.queries:
        raise IngestError(f"{path} holds no queries; write one query a line (or give a queries.jsonl).")
    return out


def load_with_qrels(data_path: str, qrels_path: str, queries_path: str | None) -> BeirDataset:
    """The corpus of ``data_path`` (BEIR folder/zip, judged folder, or a folder of documents) judged by the
    graded TREC qrels in ``qrels_path``; queries from ``queries_path`` or the corpus' queries.jsonl."""
    path = Path(data_path)
    notes: tuple[str, ...] = ()
    default_queries: Path | None = None
    if path.is_dir() and not (path / "corpus.jsonl").exists():
        corpus = load_corpus(path / "docs" if is_judged_folder(path) else path, cache=ingest_cache())
        if not corpus.chunks:
            raise IngestError(f"{path}: no file with text to embed, so the set cannot be evaluated.")
        corpus = replace(corpus, name=path.name)
        default_queries = path / "queries.jsonl"
        queries_file: QueriesFile | None = None
    else:
        parts = load_beir_corpus(path)
        corpus, notes, queries_file = parts.corpus, parts.notes, parts.queries
    if queries_path is not None:
        queries_file, queries_label = read_queries_file(Path(queries_path)), str(queries_path)
    elif queries_file is not None:
        queries_label = str(path / "queries.jsonl")
    elif default_queries is not None and default_queries.is_file():
        queries_file, queries_label = read_queries_file(default_queries), str(default_queries)
    else:
        raise IngestError(f"{path} has no queries.jsonl: give the queries with --queries FILE.")
    qrels = parse_trec_qrels(_read_text(Path(qrels_path), "qrels"), str(qrels_path))
    queries, judged, warnings = judged_queries(
        queries_file, QrelsFile(qrels), queries_label=queries_label, qrels_label=str(qrels_path)
    )
    return BeirDataset(
        corpus=corpus,
        queries=queries,
        qrels=judged,
        name=corpus.name or path.name,
        split=Path(qrels_path).name,
        warnings=(*notes, *warnings),
    )


def provenance_path(qrels_path: str | Path) -> Path:
    """Where the provenance of a qrels file is written: ``FILE.provenance.json`` beside it."""
    p = Path(qrels_path)
    return p.with_name(p.name + PROVENANCE_SUFFIX)


def read_provenance(qrels_path: str | Path) -> dict | None:
    """The provenance written beside a qrels file (None when there is none or it is not readable JSON)."""
    try:
        found = json.loads(provenance_path(qrels_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _open_judgments(path: str, corpus: Corpus) -> JudgmentStore:
    p = Path(path).expanduser()
    if not p.exists():
        raise IngestError(
            f"Judgment store {str(p)!r} does not exist: give the .sqlite file the Judge page or the judge command "
            "wrote, or the store root folder that holds judgments/<corpus sha256>.sqlite."
        )
    return JudgmentStore.for_corpus(corpus.sha256, root=p) if p.is_dir() else JudgmentStore(p, corpus.sha256)


def llm_calibration(args: argparse.Namespace, data: BeirDataset, qrels_file: str | None) -> dict | None:
    """The LLM labels at hand (the --qrels file when core.cli judge wrote it, else the store's LLM grades)
    against each source of people's labels: the set's own qrels (absent = 0) and the store's human judgments."""
    found = read_provenance(qrels_file) if qrels_file else None
    store = _open_judgments(args.judgments, data.corpus) if getattr(args, "judgments", None) else None
    llm_file = found if found is not None and found.get("origin") == "llm" else None
    if llm_file is not None:
        llm, source = (
            by_text(data.queries, data.qrels),
            f"{qrels_file} ({llm_file.get('rater') or 'an LLM'})",
        )
    elif store is not None:
        llm, source = by_text(*store.qrels("llm")), f"{store.path} (LLM grades)"
    else:
        return None
    if not llm:
        return None
    humans: list[tuple[str, dict[str, dict[str, int]], bool]] = []
    if qrels_file is None:
        humans.append((f"{data.name} qrels", by_text(data.queries, data.qrels), True))
    elif llm_file is None:  # --qrels holds people's labels; an absence there is not read as a 0
        humans.append((str(qrels_file), by_text(data.queries, data.qrels), False))
    if qrels_file is not None:
        try:
            own = load_eval_set(args.beir, split=args.split)
        except IngestError:  # a plain folder of documents has no qrels of its own
            own = None
        if own is not None:
            humans.append((f"{own.name} qrels", by_text(own.queries, own.qrels), True))
    if store is not None:
        humans.append((f"{store.path} (people)", by_text(*store.qrels("human")), False))
    rows = []
    for name, human, absent_zero in humans:
        try:
            found_check = check_llm(data.corpus, human, llm, name=name, absent_is_zero=absent_zero)
        except ValueError as exc:
            raise EvaluationError(f"{source}: {exc} (an LLM judge's qrels grade 0, 1 or 2).") from exc
        if found_check is None:
            continue
        cal = found_check.calibration
        rows.append(
            {
                "human": name,
                "kappa": cal.kappa,
                "shared_pairs": cal.shared_pairs,
                "queries": cal.queries,
                "absent_is_zero": absent_zero,
                "absent_zeros": cal.absent_zeros,
                "lifted_to_files": found_check.lifted,
                "confusion": [list(r) for r in cal.confusion],
                "disagreements": len(cal.disagreements),
                "trusted": found_check.trusted,
                "reason": found_check.reason,
                "sentence": cal.sentence(),
            }
        )
    return {"llm": source, "rule": TRUST_RULE, "against": rows}


def _format_calibration(cal: dict) -> str:
    lines = [f"LLM labels {cal['llm']} against people's labels (calibration):"]
    if not cal["against"]:
        lines.append("  no people's labels here to compare with (give --judgments STORE, or a judged set)")
    for r in cal["against"]:
        m = r["confusion"]
        table = " | ".join(" ".join(str(v) for v in row) for row in m)
        lines.append(f"  {r['human']}: {r['sentence']}")
        lines.append(f"    confusion (rows: person 0/1/2, columns: LLM 0/1/2): {table}")
        if r["absent_is_zero"]:
            lines.append(f"    {ABSENT_IS_ZERO_NOTE}")
        if r["lifted_to_files"]:
            lines.append(f"    {LIFTED_NOTE}")
    lines.append(f"  rule: {TRUST_RULE}")
    return "\n".join(lines)


def _format_paired(paired: dict, a: str, b: str) -> str:
    w = max(14, *(len(m) + 2 for m in paired))
    lines = [
        f"paired test: A = {a}, B = {b} (randomisation p, bootstrap 95% CI of A - B)",
        f"{'metric':<{w}}{'A - B':>9}{'95% CI':>22}{'p':>9}  win/tie/loss",
    ]
    for m, p in paired.items():
        ci = f"[{p['ci_low']:+.4f}, {p['ci_high']:+.4f}]"
        lines.append(
            f"{m:<{w}}{p['diff']:+9.4f}{ci:>22}{p['p_value']:9.4f}  {p['wins']}/{p['ties']}/{p['losses']}"
            + ("  *" if p["significant"] else "")
        )
    return "\n".join(lines)


def _unique_names(names: list[str]) -> list[str]:
    out: list[str] = []
    for n in names:
        out.append(n if n not in out else f"{n} ({len(out) + 1})")
    return out


def evaluate_models(args: argparse.Namespace) -> dict:
    """Do the work of ``run`` and return the JSON-ready result (raises DashboardError on bad input)."""
    metrics = list(dict.fromkeys(metric_key(m) for m in args.metrics.split(",") if m.strip()))
    if not metrics:
        raise EvaluationError("--metrics is empty: give e.g. ndcg@10,mrr@10,recall@100.")
    if not args.model and not args.system:
        raise EvaluationError("Name at least one --model or --system to evaluate.")
    top_k = args.top_k or max(100, *(parse_metric(m)[1] for m in metrics))
    t0 = time.perf_counter()
    print(f"loading {args.beir} ...", file=sys.stderr, flush=True)
    qrels_file = getattr(args, "qrels", None)
    if qrels_file:
        data = load_with_qrels(args.beir, qrels_file, getattr(args, "queries", None))
    else:
        if getattr(args, "queries", None):
            raise EvaluationError(
                "--queries goes with --qrels (the set's own judgments bring their queries)."
            )
        data = load_eval_set(args.beir, split=args.split)
    for w in data.warnings:
        print(f"warning: {w}", file=sys.stderr)
    for n in data.notes:
        print(f"note: {n}", file=sys.stderr)
    rule = choose_doc_key(data.corpus, data.qrels)  # BEIR: chunk id; judged folders: file path
    key = doc_key(rule)
    ignore_ids = _identical_ids(args.ignore_identical_ids, data.name, args.beir)
    print(
        f"  {len(data.corpus.chunks)} chunks, {len(data.queries)} judged queries, split {data.split}"
        f"{', ignoring identical query/doc ids' if ignore_ids else ''}",
        file=sys.stderr,
        flush=True,
    )
    store = EmbeddingStore(args.store)
    if args.system or len(args.model) > 2:
        return _leaderboard(args, data, metrics, top_k, rule, ignore_ids, store, t0)
    names = _unique_names(args.model)
    runs, results = {}, {}
    for name, raw in zip(names, args.model, strict=True):
        mi = build_one(data.corpus, raw, args, store, label=name)
        runs[name] = run_retrieval(
            mi,
            data.queries,
            k=top_k,
            exact=args.exact,
            dims=args.dims,
            doc_id=rule,
            ef=args.ef,
            ignore_identical_ids=ignore_ids,
            progress=StderrProgress(f"[{name}] searching"),
        )
        ev = evaluate(runs[name], data.qrels, metrics, ignore_identical_ids=ignore_ids)
        results[name] = {**ev.mean, **ev.coverage_mean, "queries": ev.queries}
    paired: dict = {}
    if len(names) == 2:
        cmp = compare(
            runs[names[0]],
            runs[names[1]],
            data.qrels,
            metrics=metrics,
            names=(names[0], names[1]),
            ignore_identical_ids=ignore_ids,
            n_resamples=args.resamples,
            seed=args.seed,
        )
        paired = {"a": names[0], "b": names[1], **{m: p.to_dict() for m, p in cmp.paired.items()}}
        if cmp.paired_condensed is not None:
            paired.setdefault(cmp.paired_condensed.metric, cmp.paired_condensed.to_dict())
    if args.run_dir:
        out = Path(args.run_dir)
        out.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            (out / f"run_{i + 1}.trec").write_text(
                format_trec_run(runs[name], tag=f"model{i + 1}"), encoding="utf-8"
            )
        (out / "qrels.trec").write_text(format_trec_qrels(data.qrels), encoding="utf-8")
    return {
        "dataset": _dataset_json(data, args, key, qrels_file),
        "settings": _settings_json(args, top_k, ignore_ids, t0),
        "models": results,
        "paired": paired,
        "calibration": llm_calibration(args, data, qrels_file),
    }


def _dataset_json(data: BeirDataset, args: argparse.Namespace, key, qrels_file: str | None) -> dict:
    return {
        "name": data.name,
        "path": str(args.beir),
        "split": data.split,
        "documents": len({key(c) for c in data.corpus.chunks}),
        "chunks": len(data.corpus.chunks),
        "queries": len(data.queries),
        "qrels": str(qrels_file) if qrels_file else None,
    }


def _settings_json(args: argparse.Namespace, top_k: int, ignore_ids: bool, t0: float) -> dict:
    return {
        "search": "exact" if args.exact else "hnsw",
        "dims": args.dims,
        "top_k": top_k,
        "ef": args.ef,
        "ignore_identical_ids": ignore_ids,
        "seconds": round(time.perf_counter() - t0, 2),
    }


def _leaderboard(
    args, data: BeirDataset, metrics: list[str], top_k: int, rule, ignore_ids: bool, store, t0
) -> dict:
    """Every --model and --system on the same judged queries: one leaderboard, Holm-corrected, the top group."""
    systems = build_systems(data.corpus, args, store, models=args.model, specs=args.system)
    ranking = rank_systems(
        systems,
        data.queries,
        data.qrels,
        exact=args.exact,
        dims=args.dims,
        ef=args.ef,
        k=top_k,
        metrics=tuple(metrics),
        ignore_identical_ids=ignore_ids,
        evidence="human",
        n_resamples=args.resamples,
        seed=args.seed,
        progress=lambda name: StderrProgress(f"[{name}] searching"),
    )
    board, verdict, runs = ranking.board, ranking.verdict, ranking.runs
    results = {
        r.system: {
            **{m: r.means.get(m) for m in metrics},
            "judged@10": r.means.get("judged@10"),
            "queries": board.queries,
        }
        for r in board.rows
    }
    if args.run_dir:
        out = Path(args.run_dir)
        out.mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(runs):
            (out / f"run_{i + 1}.trec").write_text(
                format_trec_run(runs[name].run, tag=f"system{i + 1}"), encoding="utf-8"
            )
        (out / "qrels.trec").write_text(format_trec_qrels(data.qrels), encoding="utf-8")
    return {
        "dataset": _dataset_json(data, args, doc_key(rule), getattr(args, "qrels", None)),
        "settings": _settings_json(args, top_k, ignore_ids, t0),
        "models": results,
        "paired": {},
        "calibration": llm_calibration(args, data, getattr(args, "qrels", None)),
        "leaderboard": {
            "metric": board.metric,
            "best": board.best,
            "top_group": list(board.top_group),
            "correction": board.correction,
            "queries": board.queries,
            "rows": board.table(),
            "by_group": board.group_table(),
            "verdict": {
                "sentence": verdict.sentence,
                "top_group": list(verdict.top_group) if verdict.top_group is not None else None,
                "winner": verdict.winner,
                "warnings": verdict.warnings,
                "rests_on": verdict.rests_on,
            },
        },
    }


def run(args: argparse.Namespace) -> int:
    """Print (and write) the evaluation; expected errors are reported by cli_common.run_command."""
    result = evaluate_models(args)
    metrics = [m for m in next(iter(result["models"].values())) if m != "queries"]
    d, s = result["dataset"], result["settings"]
    print(
        f"{d['name']} ({d['split']}): {d['queries']} queries, {d['documents']} documents "
        f"({d['chunks']} chunks); {s['search']} search, "
        f"dims {s['dims'] or 'full'}, top {s['top_k']}"
    )
    print(_format_table(result["models"], metrics))
    if result["paired"]:
        p = result["paired"]
        print()
        print(_format_paired({m: p[m] for m in metrics if m in p}, p["a"], p["b"]))
    if result.get("leaderboard"):
        print()
        print(_format_leaderboard(result["leaderboard"]))
    if result.get("calibration"):
        print()
        print(_format_calibration(result["calibration"]))
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        print(f"wrote {args.json_out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry (``python -m core.cli.evaluate ...``) with the same options."""
    parser = argparse.ArgumentParser(prog="python -m core.cli.evaluate", description=__doc__)
    configure(parser)
    return run_command(run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
