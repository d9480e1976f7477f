"""Shared caches keyed by where their data came from (review of hardening round 3, the cache-key class of issue 28
#4): the app's registries are shared by every session of the process, so a key that leaves out what decides the
value serves one session's data, or a stale result, to another."""

from __future__ import annotations

import copy
import json
import uuid
from types import SimpleNamespace

import pytest

from core.datasets import load_eval_set
from core.frontier import ScaleInputs
from core.ingest import ChunkOptions
from core.judging import JudgmentStore
from tests.test_beir import write_beir
from ui import evaluate as ev
from ui import report as report_ui
from ui import resources, state


class _Session:
    """One browser session's state (what ``ui.state.get``/``put`` read and write in the app)."""

    def __init__(self) -> None:
        self.values: dict = {}

    def get(self, key: str):
        return self.values.setdefault(key, copy.deepcopy(state.DEFAULTS[key]))

    def put(self, key: str, value) -> None:
        assert key in state.DEFAULTS, key
        self.values[key] = value


def _as(monkeypatch, session: _Session) -> None:
    monkeypatch.setattr(state, "get", session.get)
    monkeypatch.setattr(state, "put", session.put)


def test_a_second_beir_upload_of_the_same_corpus_with_other_qrels_is_scored_against_its_own(tmp_path, monkeypatch):
    """register_beir kept the judgments under the corpus sha alone, with get_or_create across sessions: a second
    upload with the same corpus.jsonl but other qrels was silently scored against the first one's."""
    first = load_eval_set(write_beir(tmp_path / "first"))
    second = load_eval_set(write_beir(tmp_path / "second", qrels="query-id\tcorpus-id\tscore\nq1\td3\t1\n"))
    assert first.corpus.sha256 == second.corpus.sha256 and first.qrels != second.qrels

    alice, bob, carol = _Session(), _Session(), _Session()
    _as(monkeypatch, alice)
    corpus = ev.register_beir(first)
    _as(monkeypatch, bob)
    assert ev.register_beir(second).sha256 == corpus.sha256
    assert ev.beir_judgments(corpus) == (second.queries, second.qrels)  # was: the first upload's
    _as(monkeypatch, alice)
    assert ev.beir_judgments(corpus) == (first.queries, first.qrels)  # each session keeps the set it uploaded
    _as(monkeypatch, carol)
    assert ev.beir_judgments(corpus) == ({}, {})  # a session that uploaded nothing gets nobody's


def _inputs(store: JudgmentStore) -> report_ui.Inputs:
    corpus = SimpleNamespace(sha256="c" * 64)
    index = SimpleNamespace(vectors_sha="v" * 64, embedder=SimpleNamespace(cache_key="local|model"))
    return report_ui.Inputs(
        corpus=corpus,  # type: ignore[arg-type]
        indexes=(index, index),  # type: ignore[arg-type]
        instructions=(None, None),
        queries={"q1": "a query"},
        qrels={"q1": {"c1": 1}},
        source="the judgment store",
        chunking=ChunkOptions(),
        scale=ScaleInputs(),
        label="corpus",
        store=store,
    )


def test_the_report_key_changes_when_a_result_is_relabelled_or_a_vote_replaced(tmp_path):
    """The report key held only the number of judgments and votes: relabelling a result kept the stale report."""
    store = JudgmentStore(tmp_path / "j.sqlite")
    store.record(query="a query", chunk_id="c1", label=2, rater="ann", origin="pooled", pool_depth=10)
    store.record_vote(query="a query", model_a="A", model_b="B", left="A", winner="left", rater="ann", k=5)
    before = _inputs(store).key()
    assert _inputs(store).key() == before  # nothing changed: the same report
    store.record(query="a query", chunk_id="c1", label=0, rater="ann", origin="pooled", pool_depth=10)
    relabelled = _inputs(store).key()
    assert len(store.judgments()) == 1 and relabelled != before
    store.undo_vote("ann")
    store.record_vote(query="a query", model_a="A", model_b="B", left="A", winner="right", rater="ann", k=5)
    assert len(store.votes()) == 1 and _inputs(store).key() != relabelled
    json.dumps(_inputs(store).key())  # plain values only: a registry key, never a live object


def test_a_calibration_is_not_shared_between_trusting_remote_code_and_not(monkeypatch):
    """The calibration key left trust_remote_code out, though the embedder's key has it: a model loaded with
    remote code (other code, other speed) reused the measurement of the one loaded without, and back."""
    name, made = f"calibration-test-{uuid.uuid4().hex}", []
    loaded = {flag: SimpleNamespace(device="cpu", trust=flag) for flag in (False, True)}

    def loaded_embedder(name_, *, device, max_tokens, trust_remote_code):
        return loaded[trust_remote_code]

    def calibrate(emb, texts, *, device):
        made.append(emb.trust)
        return f"measured with trust_remote_code={emb.trust}"

    monkeypatch.setattr(resources, "loaded_embedder", loaded_embedder)
    monkeypatch.setattr(resources, "calibrate", calibrate)
    for flag in (False, True, False, True):
        got = resources.calibration(name, device="cpu", max_tokens=None, trust_remote_code=flag, texts=["t"])
        assert got == f"measured with trust_remote_code={flag}"
    assert made == [False, True]  # once per key, then from the registry


@pytest.fixture(autouse=True)
def _quiet_bare_streamlit(monkeypatch):
    """ui.resources' registries are st.cache_resource: outside a script run they warn; that is all."""
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
