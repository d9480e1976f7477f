"""``python -m core.cli`` end to end on a small folder with the real bundled all-MiniLM-L6-v2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
MODEL = "all-MiniLM-L6-v2"
DOCS = {
    "guide/auth.md": "# Authentication\n\nJWT authentication: after login the server signs a JSON Web Token with "
    "its secret key. The client sends it in the Authorization Bearer header and the server verifies it.\n",
    "guide/consensus.md": "# Consensus\n\nBlockchain consensus mechanisms such as proof of work and proof of stake "
    "let nodes agree on the order of blocks without trusting each other.\n",
    "recipes/bread.txt": "Knead the bread dough for ten minutes, then let it rise in a warm place for an hour.\n",
    "photo.png": "\x89PNG\r\n\x1a\n\x00\x00 binary",
}


@pytest.fixture()
def corpus(tmp_path) -> Path:
    root = tmp_path / "kb"
    for rel, text in DOCS.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


@pytest.mark.slow  # two builds and a fresh process that loads torch and the model again
def test_build_reports_files_and_costs_then_search_json_in_a_fresh_process(corpus, store_dir, capsys):
    assert main(["build", "--corpus", str(corpus), "--model", MODEL, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "loaded    guide/auth.md" in out
    assert "skipped   photo.png" in out and ".png" in out.split("skipped   photo.png", 1)[1].splitlines()[0]
    assert f"model {MODEL}: 3 chunks (3 embedded, 0 cached)" in out and "model calls" in out

    assert main(["build", "--corpus", str(corpus), "--model", MODEL, "--device", "cpu", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    (m,) = report["models"]
    assert (m["chunks"], m["embedded"], m["model_calls"]) == (3, 0, 0), "a second build must hit the cache"
    assert m["index_bytes"] > 0 and {f["status"] for f in report["files"]} == {"loaded", "skipped"}

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RETRIEVAL_COMPARE_STORE": str(store_dir)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "core.cli",
            "search",
            "--corpus",
            str(corpus),
            "--model",
            MODEL,
            "--device",
            "cpu",
            "--query",
            "How do I authenticate users with JWT?",
            "-k",
            "2",
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    hits = json.loads(proc.stdout)  # stdout is pure JSON; progress went to stderr
    assert [h["rank"] for h in hits] == [1, 2]
    assert set(hits[0]) == {"rank", "score", "chunk_id", "source", "text"}
    assert hits[0]["source"] == "guide/auth.md" and "JSON Web Token" in hits[0]["text"]
    assert hits[0]["score"] > hits[1]["score"]
    assert "embed" in proc.stderr


def test_search_text_output_and_exact_mode(corpus, store_dir, capsys):
    code = main(
        [
            "search",
            "--corpus",
            str(corpus),
            "--model",
            MODEL,
            "--device",
            "cpu",
            "--exact",
            "--dims",
            "128",
            "--query",
            "how long should the dough rise",
            "-k",
            "1",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "@ 128 dims (exact)" in out and "recipes/bread.txt" in out


def test_models_lists_presets_with_availability(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "Qwen3-Embedding-4B" in out and "2560" in out and "32..2560" in out
    assert any(line.startswith(MODEL) and line.rstrip().endswith("bundled") for line in out.splitlines())


def test_a_missing_corpus_is_an_error_naming_the_path(tmp_path, capsys):
    missing = tmp_path / "nope"
    assert main(["build", "--corpus", str(missing), "--model", MODEL]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and str(missing) in err


def test_an_unknown_model_is_an_error_listing_presets(corpus, store_dir, capsys):
    assert main(["search", "--corpus", str(corpus), "--model", "qwen-nope", "--query", "x"]) == 2
    assert "Valid presets" in capsys.readouterr().err


def test_subcommands_are_registered(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    help_text = capsys.readouterr().out
    for name in ("models", "build", "search", "evaluate"):
        assert name in help_text


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["build", "--corpus", ".", "--model", MODEL, "--batch-size", "0"], "--batch-size"),
        (["search", "--corpus", ".", "--model", MODEL, "--query", "q", "-k", "0"], "-k/--k"),
        (["search", "--corpus", ".", "--model", MODEL, "--query", "q", "--dims", "-3"], "--dims"),
        (["evaluate", "--beir", ".", "--model", MODEL, "--resamples", "0"], "--resamples"),
        (["evaluate", "--beir", ".", "--model", MODEL, "--resamples", "-1"], "--resamples"),
        (["evaluate", "--beir", ".", "--model", MODEL, "--top-k", "0"], "--top-k"),
        (["build", "--corpus", ".", "--model", MODEL, "--batch-size", "many"], "--batch-size"),
    ],
)
def test_bad_numbers_are_refused_by_name_before_any_work(argv, flag, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and ("at least 1" in err or "not a whole number" in err)
    assert "Traceback" not in err


def test_build_output_neutralises_bidi_controls_in_file_names(tmp_path, store_dir, capsys):
    root = tmp_path / "kb"
    root.mkdir()
    (root / "invoice\u202efdp.md").write_text("The invoice is due thirty days after delivery.\n", encoding="utf-8")
    assert main(["build", "--corpus", str(root), "--model", MODEL, "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "\u202e" not in out, "an RLO in a file name must not reach the terminal (it reverses the line)"
    assert "invoice\ufffdfdp.md" in out


def test_timeout_option_reaches_the_endpoint_client():
    from core.models.embedders import load_embedder
    from core.models.endpoint.spec import endpoint_spec

    args = build_parser().parse_args(
        ["search", "--corpus", ".", "--model", "endpoint:m@http://127.0.0.1:9/v1", "--query", "q", "--timeout", "7.5"]
    )
    assert args.timeout == 7.5
    emb = load_embedder(endpoint_spec(args.model), timeout=args.timeout)
    assert emb.timeout == 7.5


def test_dims_command_prints_the_same_curve_the_dimensions_page_uses(corpus, store_dir, capsys):
    """`dims` runs core.search.matryoshka.truncation_curve: recall 1.0 at full dimension, a figure per stop, JSON shape."""
    import numpy as np

    from core.search.matryoshka import truncation_curve

    assert main(["dims", "--corpus", str(corpus), "--model", MODEL, "--device", "cpu", "-k", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    rows = {r["dims"]: r for r in report["dims"]}
    assert report["model"] == MODEL and report["queries"] == 3 and rows[384]["recall@k"] == 1.0
    assert set(rows) == {32, 64, 128, 256, 384} and all(0 <= r["recall@k"] <= 1 for r in rows.values())
    from core.cli.common import load_any_corpus
    from core.models.embedders import load_embedder
    from core.models.resolve import resolve_model
    from core.search.engine import build_model_index
    from core.store import EmbeddingStore

    mi = build_model_index(
        load_any_corpus(corpus), load_embedder(resolve_model(MODEL), device="cpu"), store=EmbeddingStore(store_dir)
    )
    rows_idx = np.arange(3)  # 3 chunks: every chunk is a pseudo-query
    want = truncation_curve(mi.vectors, mi.vectors[rows_idx], dims=sorted(rows), k=2, exclude=rows_idx)
    assert {d: round(v, 4) for d, v in want.recall.items()} == {d: r["recall@k"] for d, r in rows.items()}
