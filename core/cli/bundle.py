"""``python -m core.cli bundle export|import``: one zip with a corpus, both models' vectors, labels and settings.

``export`` builds (from the store when the vectors are there) and writes the bundle, with the qrels of a judged
or BEIR folder; ``import`` validates a bundle, checks each model against the local one (fingerprint, and a few
texts embedded again) and puts its vectors into the store, so a later ``build`` or the app embeds nothing, and its
judgments and qrels into the judgment store. An endpoint model the bundle names is never called: its vectors stay
out of the store, unverified, unless ``--endpoint SLOT=endpoint:MODEL@URL`` names a server to check them with. A
model chosen by its local folder is 'local:<folder name>' in a bundle (no machine path): ``--local SLOT=FOLDER``
names the folder to check and install its vectors with.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path
from typing import Any

from core.build import plan_build
from core.bundle import (
    Bundle,
    ExportModel,
    Installed,
    endpoint_hosts,
    install,
    judgments_dump,
    load_judgments,
    read_bundle,
    summary,
    write_bundle,
)
from core.cli.common import (
    add_common,
    add_corpus_model,
    build_one,
    dumps,
    endpoint_notes,
    load_any_corpus,
    positive_int,
)
from core.datasets import is_judged_folder, load_beir, load_judged_folder
from core.errors import DashboardError
from core.ingest import ChunkOptions
from core.models import load_embedder, resolve_model
from core.models.endpoint import is_endpoint_name
from core.store import EmbeddingStore
from core.text import display_name
from core.types import Corpus


def add_parser(sub) -> argparse.ArgumentParser:
    """``bundle``: export or import a session bundle."""
    p = sub.add_parser(
        "bundle", help="export a corpus + both models' vectors + labels to one zip, or import one"
    )
    actions = p.add_subparsers(dest="bundle_action", required=True, metavar="ACTION")
    exp = actions.add_parser("export", help="build (from cache) and write a bundle")
    add_corpus_model(exp, many=True)
    exp.add_argument("--out", required=True, metavar="FILE", help="bundle file to write (.zip)")
    exp.add_argument(
        "-k", "--k", type=positive_int, default=10, help="results per query recorded in the settings"
    )
    exp.add_argument("--json", action="store_true", help="print what was written as JSON")
    imp = actions.add_parser("import", help="validate a bundle and load its vectors into the store")
    imp.add_argument("file", metavar="FILE", help="bundle file (.zip)")
    add_common(imp)
    imp.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="SLOT=endpoint:MODEL@URL",
        help="the server to use for the bundle's endpoint model in SLOT (A or B): it checks the bundle's vectors "
        "(a few texts embedded again) before they are installed. Without it an endpoint the bundle names is never "
        "called (your API key goes only to a host you name) and its vectors stay out of the store, unverified",
    )
    imp.add_argument(
        "--local",
        action="append",
        default=[],
        metavar="SLOT=FOLDER",
        help="the model folder to use for the bundle's model in SLOT (A or B) when the bundle names it "
        "'local:<folder name>' (a model chosen by its folder: a bundle carries no path of the machine that made it); "
        "its weights are checked against the bundle's before the vectors are installed",
    )
    imp.add_argument("--json", action="store_true", help="print what was loaded as JSON")
    return p


def _is_beir_folder(path: Path) -> bool:
    """A BEIR folder with judgments: corpus.jsonl and a qrels/ folder holding a .tsv."""
    qrels = path / "qrels"
    return (path / "corpus.jsonl").is_file() and qrels.is_dir() and any(qrels.glob("*.tsv"))


def _corpus_and_qrels(path: str) -> tuple[Corpus, dict[str, Any] | None]:
    """A judged folder (docs/ + queries.jsonl + qrels.tsv) or a BEIR folder gives its qrels too (they land in
    the importing machine's judgment store); anything else only a corpus."""
    p = Path(path).expanduser()
    if is_judged_folder(p):
        judged = load_judged_folder(p)
    elif _is_beir_folder(p):
        judged = load_beir(p)  # the same chunks (and sha256) as load_corpus gives a build of this folder
    else:
        return load_any_corpus(p), None
    return judged.corpus, {
        "queries": dict(judged.queries),
        "qrels": {q: dict(d) for q, d in judged.qrels.items()},
    }


def run_export(args: argparse.Namespace) -> int:
    if len(args.model) != 2:
        raise DashboardError(
            f"bundle export needs exactly two --model options (A and B), got {len(args.model)}."
        )
    corpus, qrels = _corpus_and_qrels(args.corpus)
    store = EmbeddingStore(args.store)
    models = []
    for slot, name in zip("AB", args.model, strict=True):
        mi = build_one(corpus, name, args, store, label=f"{slot} {name}")
        models.append(ExportModel(slot=slot, name=name, embedder=mi.embedder, vectors=mi.vectors))
    options = ChunkOptions()
    settings = {
        "chunking": {"unit": options.unit, "size": options.chunk_size, "overlap": options.chunk_overlap},
        "models": {"A": args.model[0], "B": args.model[1]},
        "max_tokens": {"A": args.max_tokens, "B": args.max_tokens},
        "index": {"M": args.M, "ef_construction": args.ef_construction},
        "k": args.k,
    }
    labels: dict[str, Any] = {}
    if qrels:
        labels["qrels"] = qrels
    if dump := judgments_dump(corpus.sha256, store.root):
        labels["judgments"] = dump
    out = Path(args.out).expanduser()
    # a stopped or failed export leaves no half-written bundle under the name asked for
    part = out.with_name(f".{out.name}.part")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_bundle(part, corpus, models, settings=settings, labels=labels, origin="cli")
        os.replace(part, out)
    except OSError as exc:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise DashboardError(
            f"Cannot write the bundle to {out}: {exc.strerror or exc}. Choose a writable path with room for it."
        ) from None
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
        raise
    info = {"out": str(out), "bytes": out.stat().st_size, **summary(read_bundle(out))}
    if args.json:
        print(dumps(info))
    else:
        print(
            f"wrote {out} ({info['bytes'] / 2**20:.1f} MiB): {len(corpus.chunks):,} chunks, "
            + ", ".join(f"{m.slot} {m.name} ({m.vectors.shape[1]} dims)" for m in models)
            + (f", labels: {', '.join(labels)}" if labels else "")
        )
    return 0


def _slot_option(value: str, flag: str, example: str) -> tuple[str, str]:
    """'A=VALUE' of a ``--endpoint`` / ``--local`` option as ('A', 'VALUE'); refused, with an example, otherwise."""
    slot, _, rest = value.partition("=")
    slot, rest = slot.strip().upper(), rest.strip()
    if slot not in ("A", "B") or not rest:
        raise DashboardError(f"{flag} {value!r}: give {example}.")
    return slot, rest


def _endpoints(values: list[str], bundle: Bundle) -> dict[str, str]:
    """``--endpoint SLOT=endpoint:MODEL@URL`` options as {slot: name}; each must name a server for an endpoint
    model of the bundle."""
    found: dict[str, str] = {}
    for value in values:
        example = (
            "SLOT=endpoint:MODEL@URL, e.g. --endpoint A=endpoint:Qwen3-Embedding-4B@http://127.0.0.1:8000/v1"
        )
        slot, name = _slot_option(value, "--endpoint", example)
        if not is_endpoint_name(name):
            raise DashboardError(f"--endpoint {value!r}: give {example}.")
        model = bundle.model(slot)
        if not model.is_endpoint:
            raise DashboardError(
                f"--endpoint {value!r}: model {slot} of this bundle is {model.name}, not an endpoint model; it is "
                "checked with the local model."
            )
        found[slot] = name
    return found


def _locals(values: list[str], bundle: Bundle) -> dict[str, str]:
    """``--local SLOT=FOLDER`` options as {slot: folder}, each for a 'local:<folder name>' model of the bundle; a
    local model of the bundle with no such option is refused, naming the option."""
    found: dict[str, str] = {}
    for value in values:
        slot, folder = _slot_option(value, "--local", "SLOT=FOLDER, e.g. --local A=~/models/my-model")
        model = bundle.model(slot)
        if not model.is_local_folder:
            raise DashboardError(
                f"--local {value!r}: model {slot} of this bundle is {model.name}, not a local folder model; it is "
                "loaded by that name."
            )
        found[slot] = folder
    for m in bundle.models:
        if m.is_local_folder and m.slot not in found:
            raise DashboardError(
                f"Model {m.slot} of this bundle is {m.name}: a model folder of the machine that made it (a bundle "
                f"carries no folder path). Pass --local {m.slot}=FOLDER with your copy of that folder; its weights "
                "are checked against the bundle's before anything is installed."
            )
    return found


def _installed_line(d: Installed) -> str:
    head = f"  model {d.slot} {display_name(d.name)}: {d.vectors:,} vectors x {d.dim} dims"
    if not d.verified:
        return (
            f"{head} unverified, not put in the store: an endpoint model cannot be checked without calling it, and "
            f"nothing (no API key) was sent to {display_name(endpoint_hosts(d.name)) or 'its host'}. To check them "
            f"against a server you trust and install them, pass --endpoint {d.slot}=endpoint:MODEL@URL."
        )
    checked = (
        f"; {d.checked} texts embedded here agree with them (lowest cosine {d.agreement:.4f})"
        if d.agreement is not None
        else ""
    )
    return f"{head} into the store ({d.written:,} new, {d.vectors - d.written:,} already there{checked})"


def run_import(args: argparse.Namespace) -> int:
    path = Path(args.file).expanduser()
    if not path.is_file():
        why = "a folder, not a file" if path.is_dir() else "no such file"
        raise DashboardError(f"Cannot read the bundle {path}: {why}. Check the path.")
    bundle = read_bundle(path)  # streamed from the file: the zip is never read into memory
    given = {**_endpoints(args.endpoint, bundle), **_locals(args.local, bundle)}
    store = EmbeddingStore(args.store)
    max_tokens: dict[str, Any] = bundle.settings.get("max_tokens") or {}
    embedders = {}
    for m in bundle.models:
        if m.is_endpoint and m.slot not in given:
            print(
                f"[{m.slot}] {m.name}: not called (an endpoint the bundle names)", file=sys.stderr, flush=True
            )
            continue
        name = given.get(m.slot, m.name)
        spec, tokens = resolve_model(name), args.max_tokens or max_tokens.get(m.slot) or None
        plan_build(
            bundle.corpus, spec, device=args.device, max_tokens=tokens
        )  # a model too large is refused here
        print(f"[{m.slot}] loading {name} ...", file=sys.stderr, flush=True)
        embedders[m.slot] = load_embedder(
            spec,
            device=args.device,
            max_tokens=tokens,
            timeout=args.timeout,
            on_note=endpoint_notes(m.slot),
        )
    done = install(
        bundle, embedders, store
    )  # every check (models, vectors, labels) before anything is written
    added = load_judgments(bundle, store.root)
    info = summary(bundle)
    info["installed"] = [vars(d) for d in done]
    info["judgments_added"] = added
    info["store"] = str(store.root)
    if args.json:
        print(dumps(info))
        return 0
    c = bundle.corpus
    print(
        f"bundle {display_name(path.name)}: corpus {display_name(c.name)!r}, {len(c.chunks):,} chunks from "
        f"{len(c.files)} files ({c.sha256[:12]})"
    )
    for d in done:
        print(_installed_line(d))
    if labels := info["labels"]:
        print(
            "  labels: " + ", ".join(f"{k} ({n})" for k, n in labels.items()) + f"; judgments added: {added}"
        )
    left = [d.slot for d in done if not d.verified]
    if left:
        print(
            f"store {store.root}: a build embeds model {' and '.join(left)} through the endpoint you choose"
        )
    else:
        print(f"store {store.root}: a build of this corpus with these models now embeds nothing")
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``bundle export`` / ``bundle import``."""
    return run_export(args) if args.bundle_action == "export" else run_import(args)
