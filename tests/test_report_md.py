"""The Markdown report renders user text literally on GitHub (cmark-gfm, GitHub's own renderer), and every
negative figure of the report, HTML and Markdown alike, carries the same minus sign."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from core.report.markdown import WORD_JOINER, md, render_markdown
from core.report.sections import (
    Bullets,
    Chart,
    Facts,
    Hit,
    Report,
    Section,
    SideBySide,
    Table,
    Text,
)
from core.text.numbers import minus_signs, number

# What a file name, a chunk or a query may hold that Markdown would turn into something else.
HOSTILE = (
    "see https://evil.example/steal?a=1 now",
    "<https://evil.example/angle>",
    "mail bob@example.com or ping @octocat",
    "write to ops_team@corp_mail.example.org",
    "www.evil.example/path",
    "*bold* _it_ __init__.py **strong**",
    "# not a heading #",
    "1. not a list",
    "2) not a list either",
    "- not a bullet",
    "+ nor this",
    "---",
    "===",
    "a | b | c",
    "`code` ~~gone~~ $x^2$ and $5",
    "![pixel](http://evil.example/p.png) [click](https://evil.example/a)",
    "<script>alert(1)</script> &amp; &lt;b&gt;",
    "[^1] [ ] \\ trailing backslash \\",
)


class Rendered(HTMLParser):
    """Tags and visible text of cmark-gfm's HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)

    def handle_data(self, data):
        self.text.append(data)


def github(markdown: str) -> Rendered:
    cmarkgfm = pytest.importorskip("cmarkgfm")  # test-only dependency (requirements-dev.txt)
    page = Rendered()
    page.feed(cmarkgfm.github_flavored_markdown_to_html(markdown))
    page.close()
    return page


def hostile_report() -> Report:
    """Every kind of block, each holding every hostile string where user text goes."""
    hits = tuple(Hit(i + 1, f"{t}.md", t, "judged 2") for i, t in enumerate(HOSTILE))
    blocks = [Text(t) for t in HOSTILE]
    blocks += [Text(t, kind=k) for t in HOSTILE for k in ("lead", "note", "warn")]
    blocks += [
        Bullets(HOSTILE),
        Facts(tuple((f"corpus {i}", t) for i, t in enumerate(HOSTILE))),
        Table(("file", "text", "score"), tuple((f"{t}.md", t, "0.5") for t in HOSTILE), caption=HOSTILE[0]),
        Chart(
            "chart",
            {},
            caption=HOSTILE[1],
            table=Table(("query", "A − B"), tuple((t, "+0.1") for t in HOSTILE)),
        ),
    ]
    blocks += [SideBySide(t, "RBO 0.5", "A · m1", "B · m2", hits, hits[::-1]) for t in HOSTILE]
    return Report("Decision report", "c · 3 chunks", "", None, (Section("s", "1. Hostile", tuple(blocks)),))  # type: ignore[arg-type]


def test_user_text_renders_literally_on_github():
    page = github(render_markdown(hostile_report()))
    # the report's own structure only: its title and one section heading, its bullets, tables and bold labels
    assert page.tags.count("h1") == 1 and page.tags.count("h2") == 1
    for tag in ("a", "img", "code", "del", "hr", "ol", "h3", "h4", "h5", "h6", "script", "input", "sup"):
        assert tag not in page.tags, tag
    assert page.tags.count("blockquote") == len(HOSTILE)  # the warnings' own "> **Note:**"
    items = len(HOSTILE) * 2  # the bullets and the facts
    assert page.tags.count("li") == items  # no user text opens a list of its own
    assert page.tags.count("table") == 2 + len(HOSTILE)  # every row stays one row: no '|' splits a cell
    assert page.tags.count("td") == 3 * len(HOSTILE) + 2 * len(HOSTILE) + 3 * len(HOSTILE) * len(HOSTILE)
    assert page.tags.count("em") == 2 * len(HOSTILE) + 4  # notes, details, 2 captions, subtitle, footer
    text = "".join(page.text).replace(WORD_JOINER, "")
    for t in HOSTILE:
        assert text.count(t) >= 6, t  # shows as typed: paragraph, lead, note, warning, bullet, fact ...


def test_autolinks_and_mentions_stay_text_but_read_the_same():
    text = render_markdown(hostile_report())
    assert "https\\://evil.example" in text and "www\\.evil" in text and "@" + WORD_JOINER + "octocat" in text
    shown = "".join(github(text).text)
    assert "https://evil.example/steal?a=1" in shown and "www.evil.example/path" in shown
    assert "bob@" + WORD_JOINER + "example.com" in shown  # the joiner is invisible; no mailto link
    assert md("nDCG@10 of recall@10") == "nDCG@10 of recall@10"  # no joiner where nothing would link


def test_one_minus_sign_for_every_negative_figure():
    assert number(-0.1234) == "\u22120.123" and number(0.5, sign=True) == "+0.500" and number(None) == "–"
    assert number(-2.5, 2, sign=True) == "\u22122.50"
    # a figure that rounds to 0 keeps its sign with one significant digit; a true 0 (or float noise) is "0.00"
    assert number(-0.0004, 2, sign=True) == "\u22120.0004" and number(0.00049, 3) == "0.0005"
    assert number(-0.0004, 3, sign=True) == "\u22120.0004" and number(-0.004, 2) == "\u22120.004"
    assert number(0.0, 2, sign=True) == number(-0.0, 2, sign=True) == number(-1e-9, 2, sign=True) == "0.00"
    said = "B leads by +0.12 (95% CI -0.06..+0.31); condensed nDCG gives -0.10 for e5-small, q-1, 2025-12-02"
    assert minus_signs(said) == (
        "B leads by +0.12 (95% CI \u22120.06..+0.31); condensed nDCG gives \u22120.10 for e5-small, q-1, 2025-12-02"
    )


def _report_with_negative_difference():
    from core.evaluation.run import compare
    from core.ingest import ChunkOptions
    from core.report.data import ReportData
    from core.report.sections import build_report
    from core.types import Corpus

    qrels = {f"q{i}": {"good": 2} for i in range(12)}
    good, bad = {"good": 1.0, "bad": 0.5}, {"bad": 1.0, "good": 0.5}
    run_a = {q: good if i % 3 == 0 else bad for i, q in enumerate(qrels)}
    run_b = {q: bad if i % 3 == 0 else good for i, q in enumerate(qrels)}  # B better: A − B is negative
    cmp = compare(run_a, run_b, qrels, metrics=["ndcg@10"], names=("A", "B"), n_resamples=2000)
    data = ReportData(
        corpus=Corpus(chunks=(), files=(), sha256="x"), corpus_label="c", chunking=ChunkOptions(), models=[],
        queries={q: q for q in qrels}, query_source="test qrels", comparison=cmp, judged_at={"A": 1.0, "B": 1.0},
    )  # fmt: skip
    return build_report(data), cmp


def test_html_and_markdown_write_negative_figures_alike():
    from core.report.html import render_html

    report, cmp = _report_with_negative_difference()
    p = cmp.paired["ndcg@10"]
    assert p.diff < 0 and p.ci_low < 0 < p.ci_high  # negative figures in the verdict and in the table
    page = Rendered()
    page.feed(render_html(report))
    html_text = " ".join(page.text)
    md_text = " ".join(github(render_markdown(report)).text)
    ascii_minus = re.compile(r"(?<![\w.\-])-\d|\.\.-\d")
    for shown in (html_text, md_text):
        assert not ascii_minus.findall(shown), ascii_minus.findall(shown)
        assert number(p.diff, sign=True) in shown  # "−0.123", the quality table's A − B
        assert f"{number(p.ci_low, sign=True)}..{number(p.ci_high, sign=True)}" in shown  # its 95% CI
        led_by_b = (
            f"by {number(-p.diff)} (95% CI {number(-p.ci_high, sign=True)}..{number(-p.ci_low, sign=True)}"
        )
        assert led_by_b in shown  # core.evaluation.decide's sentence, quoted from the leader's side (B), minus included


def test_report_reads_in_words_languages_metrics_and_pairs():
    """No raw codes for a stakeholder: languages and language pairs by name, metrics as written elsewhere."""
    from dataclasses import replace

    from core.report.sections import build_report
    from core.types import Chunk

    report, cmp = _report_with_negative_difference()
    chunks = tuple(
        Chunk(id=f"d{i}.md#0", source=f"d{i}.md", text="text", lang=lang)
        for i, lang in enumerate(["en", "en", "zh-cn", "unknown"])
    )
    from core.report.data import ReportData

    data = ReportData(
        corpus=replace(_corpus(), chunks=chunks), corpus_label="c", chunking=__import__("core.ingest").ingest.ChunkOptions(),
        models=[], queries={q: q for q in cmp.a.per_query}, query_source="test qrels", comparison=cmp,
        judged_at={"A": 1.0, "B": 1.0}, lang_pairs={q: ("en->zh" if i % 2 else "zh->zh") for i, q in enumerate(cmp.a.per_query)},
    )  # fmt: skip
    report = build_report(data)
    assert " · English, Chinese · " in report.subtitle and "en" not in report.subtitle.split(" · ")[2]
    text = " ".join(github(render_markdown(report)).text)
    assert "English → Chinese" in text and "Chinese → Chinese" in text and "en->zh" not in text
    assert "A nDCG@10" in text and "condensed nDCG@10" in text and "ndcg" not in text
    assert text.count("95% CI −") == 1  # the verdict writes its figures once (the table has its own)


def _corpus():
    from core.types import Corpus

    return Corpus(chunks=(), files=(), sha256="x")
