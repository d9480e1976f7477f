"""System spec strings: one grammar for the CLI's --system and the Models page."""

from __future__ import annotations

import pytest

from core.search.systems import RERANK_DEPTH, parse_system


def test_plain_names_bm25_hybrid_and_rerank_parse_into_their_parts():
    assert parse_system("all-MiniLM-L6-v2").kind == "dense"
    assert parse_system(" BM25 ").kind == "bm25"
    h = parse_system("hybrid:multilingual-e5-small+bm25")
    assert (h.kind, [p.text for p in h.parts], h.weight) == (
        "hybrid",
        ["multilingual-e5-small", "bm25"],
        None,
    )
    assert h.dense_models == ("multilingual-e5-small",)
    assert parse_system("hybrid:a+bm25@0.3").weight == pytest.approx(0.3)
    r = parse_system("rerank:hybrid:a+bm25+BAAI/bge-reranker-base@20")
    assert (r.kind, r.model, r.parts[0].text, r.depth) == (
        "rerank",
        "BAAI/bge-reranker-base",
        "hybrid:a+bm25",
        20,
    )
    assert parse_system("rerank:a+r").depth == RERANK_DEPTH


def test_an_endpoint_spec_keeps_its_url_whole_inside_a_hybrid():
    h = parse_system("hybrid:endpoint:m@http://127.0.0.1:7997/v1+bm25")
    assert [p.text for p in h.parts] == ["endpoint:m@http://127.0.0.1:7997/v1", "bm25"]
    assert h.weight is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is not a system"),
        ("hybrid:a", "is not a system"),
        ("hybrid:a+b@2", "between 0 and 1"),
        ("rerank:a+r@0", "between 1 and 1000"),
        ("rerank:rerank:a+b+c", "cannot be reranked again"),
        ("hybrid:hybrid:a+b+c", "two plain systems"),
        ("a+b", "hybrid:X+Y"),
    ],
)
def test_a_bad_spec_says_what_is_accepted(text, says):
    with pytest.raises(ValueError, match=says.replace("+", r"\+")):
        parse_system(text)
