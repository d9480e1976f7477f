"""Every page that starts a build runs it through ui.build's one panel: its button with a Cancel beside it, one
progress bar, estimate vs actual. A stopped build keeps the previous indexes, and what it embedded stays in the
store so the next run resumes. AppTest cannot click mid-run, so the stop itself is driven at the function level
(with a real model); the pages are checked for the Cancel and for going through the shared panel."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app_env import app, use_store

pytestmark = pytest.mark.slow  # real models

ROOT = Path(__file__).resolve().parent.parent
N_NOTES = 300  # more than one store segment (256 chunks), so a stop after the first segment keeps it


@pytest.fixture(scope="module", autouse=True)
def _fresh_store(tmp_path_factory):
    with use_store(tmp_path_factory.mktemp("build-cancel-store")):
        yield


def _job(step: str) -> None:
    """One build step on a corpus of 300 short notes with all-MiniLM-L6-v2 in both slots (AppTest script)."""
    import streamlit as st
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from core.store import SEGMENT_SIZE
    from ui import build, resources, state
    from ui.corpus import load_upload

    state.init()
    corpus = load_upload(
        [
            (f"note{i}.txt", f"Note {i}: invoice {i * 7} was paid on day {i % 28 + 1}.".encode())
            for i in range(300)
        ]
    )
    for slot in build.SLOTS:
        state.choose_model(slot, "all-MiniLM-L6-v2")

    def first_segment_kept(done: int, total: int) -> bool:
        return done > SEGMENT_SIZE  # at the first batch after segment 1 was written

    out: dict = {"before": (state.get("built_a"), state.get("built_b"))}
    out["before_ids"] = tuple(id(build.built_index(s)) for s in build.SLOTS)
    try:
        if step == "stop":
            build.build_all(corpus, stop=first_segment_kept)
        elif step == "resume":
            out["rows"] = build.build_all(corpus, estimates={"A": 3.0, "B": 3.0})
        elif step == "fresh-stop":
            build.build_all(corpus, fresh=True, label="Rebuild from scratch", stop=first_segment_kept)
        elif step == "fresh":
            out["rows"] = build.build_all(corpus, fresh=True, label="Rebuild from scratch")
        elif step == "interrupt":  # what a click during the run does: Streamlit stops the script at an update

            def stop_script(done: int, total: int) -> bool:
                if done > 64:
                    raise StopException()
                return False

            build.build_all(corpus, fresh=True, label="Rebuild from scratch", stop=stop_script)
    except build.BuildCancelled as exc:
        out["cancelled"] = exc.stopped
    model_key = resources.embedder("all-MiniLM-L6-v2", device="auto").cache_key
    out["after"] = (state.get("built_a"), state.get("built_b"))
    out["after_ids"] = tuple(id(build.built_index(s)) for s in build.SLOTS)
    out["stored"] = build.stored_vectors(resources.store(), model_key)
    out["scratch"] = build.stored_vectors(build.scratch_store(), model_key)
    out["embedded"] = [mi.stats.embedded if mi and mi.stats else None for mi in map(build.built_index, "AB")]
    st.session_state["_job_out"] = out


def plain(markdown: str) -> str:
    """Markdown as the user reads it (escaped by ui.text.escape_md; word joiners are invisible)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u2060", "")


def _run(at: AppTest, step: str) -> dict:
    at.session_state["_job_step"] = step
    at.run()
    assert not at.exception, at.exception
    return at.session_state["_job_out"]


def _script() -> None:
    import streamlit as st

    from tests.test_build_cancel import _job

    _job(st.session_state["_job_step"])


def test_a_cancelled_build_keeps_the_previous_state_and_the_next_run_resumes():
    at = AppTest.from_function(_script, default_timeout=600)
    out = _run(at, "stop")
    stopped = out["cancelled"]
    assert out["after"] == out["before"] == (None, None)  # nothing half-built became the session's index
    assert out["stored"] == 288  # every finished batch reached the store (issue 29: saved on stop)
    assert stopped.done == 288 and stopped.total == 2 * N_NOTES and stopped.saved == 288
    text = plain(stopped.message())
    assert "Cancelled after 288 of 600 chunks, while A · all-MiniLM-L6-v2 was running" in text, text
    assert (
        "the previous indexes are kept" in text and "288 newly embedded chunks are saved in the store" in text
    )
    assert at.session_state["build_stopped"] == stopped  # what the next run's Cancel shows

    out = _run(at, "resume")
    assert out["embedded"] == [N_NOTES - 288, N_NOTES - 288]  # B: same model, the same index reused
    assert out["stored"] == N_NOTES and at.session_state["build_stopped"] is None
    row = out["rows"][0]
    assert row["estimated"] == "3 s" and row["what ran"] == "embedded 12 chunks (288 were stored)"
    assert row["model"] == "A · all-MiniLM-L6-v2"

    # Rebuild from scratch embeds again beside the store; a stop keeps the indexes the session had.
    out = _run(at, "fresh-stop")
    assert out["cancelled"].saved == 288 and out["scratch"] == 288 and out["stored"] == N_NOTES
    assert out["after"] == out["before"] and out["after_ids"] == out["before_ids"]
    out = _run(at, "fresh")
    assert out["after_ids"] != out["before_ids"]  # the rebuilt index replaced the precomputed one
    assert out["scratch"] == 0  # finished: the next rebuild starts from scratch again
    what = out["rows"][0]["what ran"]
    assert what.startswith("embedded 12 chunks (288 kept from a stopped rebuild); lowest cosine"), what
    assert float(what.rsplit(" ", 1)[1]) >= 0.999

    # A click during the run (Streamlit ends the script at a progress update): recorded, not called cancelled.
    at.session_state["_job_step"] = "interrupt"
    at.run()
    assert not at.exception, at.exception
    stopped = at.session_state["build_stopped"]
    assert stopped is not None and not stopped.cancelled and stopped.label == "Rebuild from scratch"
    text = plain(stopped.message())
    assert "Stopped (the page was used while it ran) after 96 of 600 chunks" in text, text
    assert "96 newly embedded chunks are saved in the store" in text, text


# ---- the pages ------------------------------------------------------------------------------------------


def shown(at: AppTest) -> str:
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "warning", "success", "error")
        for e in getattr(at, kind)
    ]
    parts += [e.proto.text for e in at.get("progress")]
    return plain("\n".join(str(p) for p in parts))


def test_the_corpus_page_loads_the_sample_from_the_bundle_with_nothing_embedded():
    at = app("pages/1_Corpus.py")
    at.run()
    next(b for b in at.button if b.label == "Load the sample corpus").click().run()
    assert not at.exception, at.exception
    text = shown(at)
    # issue 29: said the way it is true, not "460 chunks, 0 chunks embedded … none embedded"
    assert "460 chunks, every vector precomputed in sample_bundle.zip" in text, text
    assert "nothing was embedded here" in text and "chunks embedded" not in text, text
    side = [c.value for c in at.sidebar.caption]
    assert sum(":material/check_circle:" in c for c in side) == 2, side  # both indexes, in the sidebar too
    assert at.button(key="_corpus_build").label == "Rebuild from scratch"
    assert at.button(key="_corpus_cancel").label == "Cancel build"
    # issue 29: with nothing running the Cancel is disabled (it is enabled by the run that starts a build)
    assert at.button(key="_corpus_cancel").disabled


def test_the_home_rebuild_has_a_cancel_and_reports_estimate_vs_actual():
    at = app()
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    assert at.button(key="_home_cancel").label == "Cancel build"
    assert at.button(key="home_rebuild").label == "Rebuild from scratch"


def _beir_zip() -> bytes:
    docs = ["JWT tokens are signed with RS256 keys", "Raft elects a leader", "Pagination uses cursors"]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(
            "mini/corpus.jsonl",
            "\n".join(json.dumps({"_id": f"d{i}", "text": t}) for i, t in enumerate(docs)),
        )
        z.writestr("mini/queries.jsonl", json.dumps({"_id": "q0", "text": "how are JWT tokens signed"}))
        z.writestr("mini/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq0\td0\t1\n")
    return buf.getvalue()


def test_the_evaluate_page_builds_an_uploaded_beir_set_with_cancel_and_report():
    at = app("pages/5_Evaluate.py")
    at.session_state["eval_source"] = "upload qrels or a BEIR zip"
    at.session_state["models_a"] = "all-MiniLM-L6-v2"
    at.session_state["models_b"] = "all-MiniLM-L6-v2"
    at.run()
    at.file_uploader(key="_eval_beir_upload").set_value(("mini.zip", _beir_zip(), "application/zip")).run()
    assert not at.exception, at.exception
    assert "build both indexes below" in shown(at)
    assert at.button(key="_eval_cancel").label == "Cancel build"
    at.button(key="_eval_build").click().run()
    assert not at.exception, at.exception
    report = at.dataframe[0].value
    assert list(report.columns) == ["model", "estimated", "took", "what ran"], report
    assert report["estimated"].str.endswith("s").all() and report["took"].str.endswith("s").all()
    at.button(key="_eval_run").click().run()
    assert not at.exception, at.exception
    assert "score the same on nDCG@10" in shown(at)  # the same model in both slots
