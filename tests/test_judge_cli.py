"""``judge`` then ``evaluate --qrels`` on the sample corpus with the real bundled LLM and both bundled embedding
models: the LLM's qrels are written with their provenance, and evaluate prints their calibration against the
sample's own (relevant-only) qrels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.judging import ABSENT_IS_ZERO_NOTE, PROMPT_VERSION, JudgmentStore

pytestmark = (
    pytest.mark.slow
)  # embeds the sample corpus with two models, then the bundled LLM grades ~10 pairs

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"
MODELS = ["--model", "all-MiniLM-L6-v2", "--model", "multilingual-e5-small"]


def test_judge_writes_llm_qrels_and_evaluate_prints_their_calibration(shared_store_dir, tmp_path, capsys):
    lines = (SAMPLE / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    chosen = [line for line in lines if json.loads(line)["_id"] in ("q03", "q05")]
    queries = tmp_path / "queries.jsonl"
    queries.write_text("\n".join(chosen) + "\n", encoding="utf-8")
    out, store = tmp_path / "judged.qrels", tmp_path / "judgments.sqlite"
    common = ["--store", str(shared_store_dir)]
    rc = main(
        [
            "judge",
            "--corpus",
            str(SAMPLE),
            "--queries",
            str(queries),
            *MODELS,
            "--llm",
            "llm:bundled",
            "-k",
            "3",
        ]
        + ["--out", str(out), "--judgments", str(store), *common]
    )
    said = capsys.readouterr()
    assert rc == 0, said.err
    assert "to grade" in said.err and "(an estimate)" in said.err  # the estimate came before the run
    assert "judgments/min" in said.out and "not a judge" in said.out
    rows = [line.split("\t") for line in out.read_text(encoding="utf-8").splitlines()[1:]]
    assert 3 <= len(rows) <= 12 and {r[0] for r in rows} <= {"q03", "q05"}
    assert {r[2] for r in rows} <= {"0", "1", "2"}
    provenance = json.loads(out.with_name(out.name + ".provenance.json").read_text(encoding="utf-8"))
    assert (
        provenance["origin"] == "llm"
        and provenance["prompt_version"] == PROMPT_VERSION
        and provenance["k"] == 3
    )
    stored = JudgmentStore(store).judgments(origin="llm")
    assert len(stored) == len(rows) and {j.rater for j in stored} == {provenance["rater"]}

    rc = main(
        ["evaluate", "--beir", str(SAMPLE), "--qrels", str(out), *MODELS, *common, "--resamples", "200"]
    )
    said = capsys.readouterr()
    assert rc == 0, said.err
    assert "against people's labels (calibration)" in said.out
    line = next(s for s in said.out.splitlines() if "weighted kappa" in s)
    assert "sample_corpus qrels" in line and "shared pairs (2 queries)" in line
    assert "LLM labels not trusted alone: only" in line  # ~10 shared pairs, the rule needs 30
    assert ABSENT_IS_ZERO_NOTE in said.out and "lifted to files" in said.out
