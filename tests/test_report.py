"""The decision report: every section, verdict numbers equal to `evaluate --json`, nothing loads, hostile text inert."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from core.cli import main as cli_main

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_corpus"
SECTIONS = ("answer", "corpus", "models", "quality", "differ", "cost", "latency", "reproduce")
HOSTILE = "<script>alert(1)</script>"
URL_ATTRS = {"src", "href", "xlink:href", "action", "formaction", "data", "poster", "srcset", "background"}


class Page(HTMLParser):
    """Tags, attributes, text by element, and what sits inside <script> (there should be nothing)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.script_text: list[str] = []
        self.texts: list[str] = []
        self.by_id: dict[str, str] = {}
        self._capture: list[tuple[str, int]] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in ("meta", "br", "img", "hr", "input", "link", "path", "rect", "line", "circle"):
            self.stack.append(tag)
        if a.get("id"):
            self._capture.append((a["id"], len(self.stack)))
            self.by_id.setdefault(a["id"], "")

    def handle_endtag(self, tag):
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()
        self._capture = [(i, d) for i, d in self._capture if d <= len(self.stack)]

    def handle_data(self, data):
        self.texts.append(data)
        if "script" in self.stack:
            self.script_text.append(data)
        for i, _ in self._capture:
            self.by_id[i] += data


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    p.close()
    return p


def remote_loads(page: Page, raw: str) -> list[str]:
    """Every attribute or CSS reference that would fetch from a host."""
    bad = [
        f"{tag} {name}={value}"
        for tag, attrs in page.tags
        for name, value in attrs.items()
        if name in URL_ATTRS and value and not value.startswith("#")
    ]
    bad += re.findall(r"url\(\s*['\"]?(?!#)[^)]*\)", raw)
    bad += re.findall(r"@import", raw)
    return bad


def run_cli(*argv: str) -> None:
    assert cli_main(list(argv)) == 0


# ---- the sample corpus with the bundled pair -------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_report(shared_store_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    common = [
        "--model",
        "all-MiniLM-L6-v2",
        "--model",
        "multilingual-e5-small",
        "--store",
        str(shared_store_dir),
    ]
    run_cli("evaluate", "--beir", str(SAMPLE), *common, "--json", str(out / "evaluate.json"))
    run_cli("report", "--corpus", str(SAMPLE), *common, "--out", str(out / "report.html"), "--markdown", str(out / "report.md"))  # fmt: skip
    return {
        "html": (out / "report.html").read_text(encoding="utf-8"),
        "md": (out / "report.md").read_text(encoding="utf-8"),
        "evaluate": json.loads((out / "evaluate.json").read_text(encoding="utf-8")),
        "path": out / "report.html",
    }


# the fixture embeds the sample corpus with two real models and measures the report (a minute or two when idle;
# 17+ minutes were seen under contention, load 15 on 2 cores, so the first test gets a long timeout)
@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_sample_report_has_every_section_and_charts(sample_report):
    page = parse(sample_report["html"])
    ids = {a.get("id") for tag, a in page.tags if tag == "section"}
    assert ids == set(SECTIONS)
    titles = [t for t in page.texts if re.match(r"\d\. ", t)]
    assert len([t for t in titles if t[0] in "12345678"]) >= 8
    svgs = [a for tag, a in page.tags if tag == "svg"]
    assert len(svgs) >= 4  # per-query difference, Matryoshka curve, frontier, recall vs latency
    text = " ".join(page.texts)
    for needle in (
        "win / tie / loss",
        "judged@10",
        "English → Chinese",
        "Equal budget",
        "p50",
        "sha256",
        "python -m core.cli",
    ):
        assert needle in text, needle
    assert "No quality figures" not in text  # the sample corpus is judged
    md = sample_report["md"]
    assert all(re.search(rf"^## {i}\\?\. ", md, re.M) for i in range(1, 9))  # "## 1\. " keeps it a heading


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_verdict_numbers_equal_evaluate_json(sample_report):
    page = parse(sample_report["html"])
    verdict = page.by_id["verdict"]
    p = sample_report["evaluate"]["paired"]["ndcg@10"]
    models = sample_report["evaluate"]["models"]

    from core.text.numbers import number

    lead = 1 if p["diff"] >= 0 else -1  # the verdict quotes the difference from the leader's side
    lo, hi = sorted((lead * p["ci_low"], lead * p["ci_high"]))
    for said in (
        f"{models['all-MiniLM-L6-v2']['ndcg@10']:.3f}",
        f"{models['multilingual-e5-small']['ndcg@10']:.3f}",
        f"by {number(abs(p['diff']))}",
        f"95% CI {number(lo, sign=True)}..{number(hi, sign=True)}",
        f"p = {p['p_value']:.3f}" if p["p_value"] >= 0.001 else "p < 0.001",
        f"{p['queries']} judged queries",
    ):
        assert said in verdict, (said, verdict)
    assert verdict.count("..") == 1 and "0.00.." not in verdict  # the CI once; a bound near 0 keeps its sign


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_sample_report_loads_nothing_and_has_no_script(sample_report):
    raw = sample_report["html"]
    page = parse(raw)
    assert remote_loads(page, raw) == []
    assert not [
        t
        for t, _ in page.tags
        if t in ("script", "link", "iframe", "object", "embed", "img", "foreignobject")
    ]
    assert "default-src 'none'" in raw  # CSP: the browser refuses any load as well


# ---- hostile corpus ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    docs = root / "docs"
    evil_dir = (
        docs / "<script>alert(1)<"
    )  # with the file below, the source path reads <script>alert(1)</script>.md
    evil_dir.mkdir(parents=True)
    body = (
        f"# Tokens {HOSTILE}\n\nVerify the JWT signature with the secret key. {HOSTILE} "
        '<img src="https://evil.example/x.png" onerror="alert(2)"> See https://evil.example/steal and '
        "[click](https://evil.example/a) ![pixel](http://evil.example/p.png).\n"
    )
    (evil_dir / "script>.md").write_text(body, encoding="utf-8")
    (docs / "billing.md").write_text("# Billing\n\nInvoices are sent monthly by email.\n", encoding="utf-8")
    (docs / "backup.md").write_text("# Backups\n\nNightly backups are kept for 30 days.\n", encoding="utf-8")
    src = f"{HOSTILE}.md"
    queries = [
        {"_id": "q1", "text": f"how do I verify a token {HOSTILE} https://evil.example/q"},
        {"_id": "q2", "text": "when are invoices sent"},
    ]
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels.tsv").write_text(
        f"query-id\tcorpus-id\tscore\nq1\t{src}\t2\nq2\tbilling.md\t2\n", encoding="utf-8"
    )
    out = root / "report.html"
    store = root / "store"
    run_cli(
        "report", "--corpus", str(root), "--model", "multilingual-e5-small", "--model", "multilingual-e5-small",
        "--store", str(store), "--out", str(out), "--markdown", str(root / "report.md"),
    )  # fmt: skip
    return out.read_text(encoding="utf-8"), (root / "report.md").read_text(encoding="utf-8")


def test_hostile_corpus_yields_an_inert_report(hostile_report):
    raw, md = hostile_report
    page = parse(raw)
    assert [t for t, _ in page.tags if t == "script"] == []
    assert page.script_text == []
    assert not [(t, n) for t, a in page.tags for n in a if n.startswith("on")]
    assert remote_loads(page, raw) == []
    text = "".join(page.texts)
    assert HOSTILE in text  # shown as text (in the file name, the snippet and the query) ...
    assert raw.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 3  # ... because it was escaped
    assert "https://evil.example/q" in text  # a link in user text (the query, shown whole) stays text
    assert "<script" not in md and "<img" not in md
    assert not re.search(r"(?<!\\)\]\(https?://", md)  # no Markdown link or image survives


def test_hostile_report_still_has_every_section(hostile_report):
    page = parse(hostile_report[0])
    assert {a.get("id") for tag, a in page.tags if tag == "section"} == set(SECTIONS)
    # two judged queries: far too few to name a winner, and the paragraph says so
    assert "No winner" in page.by_id["verdict"] and "only 2 queries" in page.by_id["verdict"]


# ---- pieces ----------------------------------------------------------------------------------------------


def test_svg_cleaning_removes_anything_active():
    from core.report.html import _clean_svg

    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" onload="x()">'
        "<script>alert(1)</script><foreignObject><p>hi</p></foreignObject>"
        '<a href="https://evil.example"><text>t</text></a><image xlink:href="https://evil.example/i.png"/>'
        '<rect style="fill:url(https://evil.example/f)" fill="url(#g)"/><text>ok</text></svg>'
    )
    out = _clean_svg(svg)
    assert "script" not in out and "foreignObject" not in out and "evil" not in out and "onload" not in out
    assert "ok" in out and 'fill="url(#g)"' in out


def test_endpoint_shows_host_only():
    from core.errors import EndpointError
    from core.models.endpoint import EndpointEmbedder, endpoint_spec

    emb = EndpointEmbedder(endpoint_spec("endpoint:m@https://api.example.com:8443/v1/,http://127.0.0.1:8000/v1"))
    assert emb.runtime() == "endpoint at api.example.com:8443, 127.0.0.1:8000 (OpenAI-compatible /v1/embeddings)"
    with pytest.raises(EndpointError, match="credentials"):
        endpoint_spec("endpoint:m@https://user:secret@api.example.com:8443/v1")


def _data_with(n_queries: int, gap: float):
    from core.evaluation.run import compare
    from core.report.data import ReportData
    from core.types import Corpus

    qrels = {f"q{i}": {"good": 2} for i in range(n_queries)}
    good = {q: {"good": 1.0, "bad": 0.5} for q in qrels}
    worse = {
        q: {"bad": 1.0, "good": 0.5} if i % 10 < gap * 10 else {"good": 1.0} for i, q in enumerate(qrels)
    }
    cmp = compare(good, worse, qrels, metrics=["ndcg@10"], names=("A", "B"), n_resamples=2000)
    data = ReportData(
        corpus=Corpus(chunks=(), files=(), sha256="x"), corpus_label="c", chunking=__import__("core.ingest").ingest.ChunkOptions(),
        models=[], queries={q: q for q in qrels}, query_source="test qrels", comparison=cmp,
        judged_at={"A": 1.0, "B": 1.0},
    )  # fmt: skip
    return data, cmp


def test_verdict_refuses_thin_evidence_and_names_a_winner_on_enough():
    from core.report.sections import verdict

    thin, _ = _data_with(5, 1.0)
    answer = verdict(thin)
    assert (
        not answer.decided
        and "Not enough to name a winner" in answer.text
        and "only 5 queries" in answer.text
    )
    strong, cmp = _data_with(40, 0.6)
    answer = verdict(strong)
    p = cmp.paired["ndcg@10"]
    assert answer.decided and "A beats B" in answer.text and p.p_value < 0.05
    assert f"by {p.diff:.3f} (95% CI +" in answer.text and answer.figures["winner"] == "A"
    assert answer.text.count("..") == 1  # the difference, its CI and p are written once
    unbalanced, _ = _data_with(40, 0.6)
    unbalanced.judged_at = {"A": 0.9, "B": 0.5}
    answer = verdict(unbalanced)
    assert not answer.decided and "judged@10 differs" in answer.text


# ---- the Report page ---------------------------------------------------------------------------------------


@pytest.mark.slow  # quick start (both models on the sample corpus) and one report build through AppTest
def test_report_page_builds_previews_and_offers_both_downloads(shared_store_dir, monkeypatch, sample_report):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("RETRIEVAL_COMPARE_STORE", str(shared_store_dir))
    monkeypatch.chdir(ROOT)
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=900)
    at.run()
    at.button(key="home_quick").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/9_Report.py").run()
    assert not at.exception, at.exception
    assert "Build report" in [b.label for b in at.button]
    assert not at.get("download_button")  # nothing to download before the build
    at.button(key="_report_build").click().run()
    assert not at.exception, at.exception
    downloads = at.get("download_button")
    assert len(downloads) == 2
    shown = " ".join(str(e.value) for kind in ("success", "warning") for e in getattr(at, kind))
    shown = re.sub(r"\\(.)", r"\1", shown).replace("\u2060", "")  # as the user reads it (escape_md undone)
    assert "nDCG@10" in shown and "judged queries" in shown  # the verdict paragraph, in words
    assert at.get("iframe") or at.get("html")  # the inline preview


def test_judgment_store_gives_kappa_votes_and_the_quality_section(tmp_path):
    from core.ingest import load_corpus
    from core.judging.store import JudgmentStore

    docs = tmp_path / "docs"
    docs.mkdir()
    texts = {
        "jwt.md": "# JWT\n\nVerify the token signature with the secret key; reject expired tokens.\n",
        "billing.md": "# Billing\n\nInvoices are sent monthly by email.\n",
        "backup.md": "# Backups\n\nNightly backups are kept for 30 days.\n",
    }
    for name, text in texts.items():
        (docs / name).write_text(text, encoding="utf-8")
    corpus = load_corpus(docs)
    store = JudgmentStore(tmp_path / "j.sqlite", corpus.sha256)
    ids = {c.source: c.id for c in corpus.chunks}
    labels = {("how do I verify a token", "jwt.md"): 2, ("how do I verify a token", "billing.md"): 0,
              ("when are invoices sent", "billing.md"): 2, ("when are invoices sent", "backup.md"): 0}  # fmt: skip
    for (query, src), label in labels.items():
        for rater in ("ana", "bo"):
            store.record(
                query=query, chunk_id=ids[src], label=label, rater=rater, origin="pooled", pool_depth=10
            )
    for winner in ("left", "left", "right", "tie"):
        store.record_vote(query="how do I verify a token", model_a="multilingual-e5-small",
                          model_b="multilingual-e5-small (2)", left="A", winner=winner, rater="ana", k=5)  # fmt: skip
    out = tmp_path / "report.html"
    run_cli(
        "report", "--corpus", str(docs), "--model", "multilingual-e5-small", "--model", "multilingual-e5-small",
        "--judgments", str(tmp_path / "j.sqlite"), "--store", str(tmp_path / "store"), "--out", str(out),
    )  # fmt: skip
    page = parse(out.read_text(encoding="utf-8"))
    text = " ".join(page.texts)
    assert "2 raters, Cohen's kappa 1.00 on 4 shared pairs" in text
    assert "blind A/B votes: multilingual-e5-small wins 62% against multilingual-e5-small (2)" in text
    assert "4 votes" in text and "No quality figures" not in text
    assert (
        "2 judged queries" in page.by_id["verdict"]
        and "judged by 2 raters (kappa 1.00)" in page.by_id["verdict"]
    )
    bad = tmp_path / "missing.sqlite"
    assert cli_main(["report", "--corpus", str(docs), "--model", "multilingual-e5-small", "--judgments", str(bad),
                     "--store", str(tmp_path / "store"), "--out", str(out)]) == 2  # fmt: skip
    assert not bad.exists()  # a typo never creates an empty store
