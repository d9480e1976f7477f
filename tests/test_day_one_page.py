"""The Day-one verdict page through AppTest on the sample corpus with both bundled models and a served LLM on
127.0.0.1 (tests.chat_server): from no labels to a verdict that says what it rests on."""

from __future__ import annotations

import pytest

from tests.app_env import app
from tests.chat_server import ChatServer
from tests.test_pages import _store, built_state, seeded, texts  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow  # real embedding models on the sample corpus

PAGE = "pages/11_Day_one.py"


def test_with_nothing_loaded_the_page_points_to_the_corpus_page():
    at = app(PAGE)
    at.run()
    assert not at.exception, at.exception
    assert "No corpus loaded yet" in texts(at)


def test_from_generated_queries_to_a_verdict_that_names_its_evidence(built_state):  # noqa: F811
    with ChatServer() as server:
        at = seeded(
            PAGE,
            built_state,
            day1_llm_kind="server",
            day1_llm_model="scripted-chat",
            day1_llm_urls=server.base_url,
            day1_n=6,
            day1_k=2,
        )
        page = texts(at)
        assert "Using scripted-chat" in page, page
        assert "Estimate: about" in page, page

        at.button(key="_day1_generate").click().run()
        assert not at.exception, at.exception
        page = texts(at)
        assert "answers kept as queries" in page, page
        review = at.get("arrow_data_frame") or at.dataframe
        assert any("keep" in list(getattr(t, "value", []).columns) for t in review if hasattr(t, "value")), (
            page
        )
        assert "Review:" in page and "written by scripted-chat" in page, page
        assert "favour lexical matching" in page, page  # the bias is stated beside the set

        # the judge grades the sample queries' pools, which people judged: the check against them appears
        at.radio(key="day1_judge_set").set_value("sample").run()
        assert not at.exception, at.exception
        at.button(key="_day1_judge").click().run()
        assert not at.exception, at.exception
        page = texts(at)
        assert "pairs graded by scripted-chat" in page, page
        assert "scripted-chat" in page and "against the sample's shipped qrels: weighted kappa" in page, page
        assert "absent from a judged query's qrels counts as a person's 0" in page, page
        assert "lifted to files" in page, page
        assert server.calls > 0

        # the verdicts are computed on request, each naming its evidence and, for the LLM, its judge
        at.button(key="_day1_score").click().run()
        assert not at.exception, at.exception
        page = texts(at)
        assert "(written by scripted-chat" in page, page
        assert "generated queries judged by the chunk each was written from" in page, page
        assert "On the grades of scripted-chat" in page, page
        assert "an LLM's labels" in page, page
        tables = [t.value for t in at.dataframe if "top group" in getattr(t.value, "columns", [])]
        assert tables, page

        # a re-run costs nothing: every answer comes from the cache
        calls = server.calls
        at.button(key="_day1_generate").click().run()
        assert not at.exception, at.exception
        assert server.calls == calls


def test_evaluate_offers_the_generated_queries_as_their_own_source(built_state):  # noqa: F811
    at = seeded("pages/5_Evaluate.py", built_state)
    assert "generated queries" in at.radio(key="eval_source").options
    assert "LLM judgments" in at.radio(key="eval_source").options
