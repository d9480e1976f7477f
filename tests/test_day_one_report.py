"""The report's day-one section: generated-query and LLM evidence kept apart from people's, each verdict saying what
it rests on, the LLM's check against people with its confusion table, every user text escaped."""

from __future__ import annotations

import re

import pytest

from core.evaluation import check_llm, leaderboard, leaderboard_verdict
from core.evaluation.run import evaluate
from core.ingest import ChunkOptions
from core.report import DayOne, EvidenceRun, ReportData, build_report, render_html, render_markdown
from core.types import Chunk, Corpus

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def files() -> tuple[str, str]:
    chunks = tuple(Chunk(id=f"d{i}.md#0", source=f"d{i}.md", text=f"text {i}", lang="en") for i in range(30))
    corpus = Corpus(chunks, (), "2" * 64, "synthetic")
    qrels = {f"q{i}": {chunks[i].id: 2} for i in range(12)}
    strong = {
        q: {c.id: 1.0 - 0.01 * j for j, c in enumerate([chunks[i], *chunks[20:25]])}
        for i, q in enumerate(qrels)
    }
    weak = {
        q: {c.id: 1.0 - 0.01 * j for j, c in enumerate([*chunks[20:25], chunks[i]])}
        for i, q in enumerate(qrels)
    }
    board = leaderboard(
        {"model-a": evaluate(strong, qrels), "model-b": evaluate(weak, qrels)}, n_resamples=2000
    )
    gen_said = leaderboard_verdict(board, source="generated", evidence="generated")
    human = {f"q{i}": {chunks[i].id: 2, chunks[20].id: 0} for i in range(12)}
    llm = {f"q{i}": {chunks[i].id: 0, chunks[20].id: 0} for i in range(12)}
    check = check_llm(corpus, human, llm, name=f"people {HOSTILE}", absent_is_zero=False)
    assert check is not None and not check.trusted
    llm_said = leaderboard_verdict(
        board, source="llm", evidence="llm", llm_trust=(check.trusted, check.reason)
    )
    day = DayOne(
        (
            EvidenceRun("Generated queries", (f"12 queries written by {HOSTILE}",), board, gen_said),
            EvidenceRun("LLM judgments", ("12 queries whose pools an LLM graded",), board, llm_said),
        ),
        (check,),
        (check.trusted, check.reason),
        24,
    )
    data = ReportData(corpus, "synthetic", ChunkOptions(), [], {}, "no judged queries", day_one=day)
    report = build_report(data)
    return render_html(report), render_markdown(report)


def _section(html: str) -> str:
    found = re.search(r'<section id="day_one">(.*?)</section>', html, re.S)
    assert found, "no day-one section"
    return found.group(1)


def test_generated_and_llm_evidence_have_their_own_section_with_verdicts_that_name_it(files):
    html, md = files
    part = _section(html)
    assert "Evidence without people&#x27;s labels" in html or "Evidence without people's labels" in html
    assert "generated queries judged by the chunk each was written from" in part
    assert "favours lexical matching" in part  # the bias, stated beside the verdict
    assert "an LLM&#x27;s labels" in part or "an LLM's labels" in part
    assert "not trusted" in part  # kappa 0 over 12 pairs: the LLM verdict names no top group
    assert "Not enough to name a top group" in part
    assert "weighted kappa" in part and "person 2" in part  # the calibration and its confusion table
    assert "Evidence without people's labels" in md and "weighted kappa" in md


def test_user_text_in_the_section_is_escaped(files):
    html, md = files
    assert HOSTILE not in html
    assert "&lt;script&gt;" in _section(html)
    assert "<script>" not in md
