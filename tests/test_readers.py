"""One reader each: a BEIR set gives the same chunks and corpus hash through the Corpus page and Evaluate.

Also the reader-level hardening of issue 18: unpaired surrogates (6), invisible-only files (13), zip
members with invalid UTF-8 names (14), encodings found by charset-normalizer (15), long CSV cells and
flate-bomb PDFs (16).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from core.datasets.beir import load_beir
from core.datasets.eval_sets import load_eval_set
from core.ingest import decode_bytes, load_corpus, load_files
from core.ingest.jsonl import read_corpus_jsonl, read_queries_jsonl
from core.text.clean import clean_text, has_visible_text
from tests import fixtures_ingest as fx

# raw JSON lines: a lone surrogate escape, an unescaped U+2028 inside a string, padding without a title
CORPUS_LINES = [
    '{"_id": "d1", "title": "JWT", "text": "Tokens carry signed claims."}',
    '{"_id": 2, "title": "", "text": "  Rate limits return HTTP 429.  "}',
    '{"_id": "d3", "text": "Validators stake coins\u2028and are slashed."}',
    '{"_id": "d4", "title": "共识", "text": "区块链通过共识机制保证各个节点的账本一致。"}',
    '{"_id": "d5", "title": "Broken", "text": "half a pair \\ud800 here"}',
    '{"_id": "d1", "title": "again", "text": "a repeated id"}',
]
QUERIES_LINES = [
    '{"_id": "q1", "text": "verify a token"}',
    '{"_id": "q2", "text": "too many requests \\udfff"}',
    '{"_id": "q3"}',
]
QRELS = "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\t2\t1\nq3\td3\t1\n"


def _write_set(root: Path) -> Path:
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("\n".join(CORPUS_LINES) + "\n", encoding="utf-8")
    (root / "queries.jsonl").write_text("\n".join(QUERIES_LINES) + "\n", encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(QRELS, encoding="utf-8")
    return root


def _zip_of(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                z.write(p, f"{folder.name}/{p.relative_to(folder).as_posix()}")
    return buf.getvalue()


def test_corpus_page_and_evaluate_read_a_beir_set_into_the_same_chunks_and_hash(tmp_path):
    folder = _write_set(tmp_path / "toy")
    zpath = tmp_path / "toy.zip"
    zpath.write_bytes(_zip_of(folder))
    evaluate = load_eval_set(folder)  # Evaluate page / CLI
    upload = load_files([("toy.zip", zpath.read_bytes())])  # Corpus page: ui.corpus.load_upload
    folder_upload = load_corpus(folder)  # Corpus page path on a folder (ui.corpus.load_sample, CLI build)
    for other in (upload, folder_upload, load_beir(zpath).corpus):
        assert other.chunks == evaluate.corpus.chunks
        assert other.sha256 == evaluate.corpus.sha256
    by_id = {c.id: c for c in evaluate.corpus.chunks}
    assert list(by_id) == ["d1", "2", "d3", "d4", "d5"]  # queries.jsonl and qrels are not documents
    assert by_id["d1"].text == "Tokens carry signed claims."  # first of the repeated _id kept
    assert by_id["2"].embed_text == "Rate limits return HTTP 429."  # MTEB: (title + " " + text).strip()
    assert by_id["d3"].text == "Validators stake coins\u2028and are slashed."  # U+2028 does not split a line
    assert by_id["d4"].lang == "zh-cn" and by_id["d4"].source == "d4"
    assert by_id["d5"].text == "half a pair \ufffd here"
    status = {f.source: f for f in upload.files}
    assert status["toy.zip/toy/corpus.jsonl"].status == "loaded"
    for side in ("toy.zip/toy/queries.jsonl", "toy.zip/toy/qrels/test.tsv"):
        assert status[side].status == "skipped" and "judgments of the set beside it" in status[side].reason
    reason = status["toy.zip/toy/corpus.jsonl"].reason
    assert "repeat an _id" in reason and "'d1'" in reason  # duplicates are said, not dropped silently
    assert "surrogate" in reason
    assert any("repeat an _id" in w for w in evaluate.warnings)


def test_the_one_queries_reader_accepts_the_usual_keys_and_reports_queries_without_text():
    read = read_queries_jsonl(
        [
            '{"_id": "q1", "text": "a"}',
            '{"id": 2, "query": "b"}',
            '{"qid": "q3", "text": "  "}',
            '{"query_id": "q4"}',
            '{"_id": "q1", "text": "again"}',
        ],
        name="queries.jsonl",
    )
    assert read.queries == {"q1": "a", "2": "b"}
    assert read.no_text == ["q3", "q4"]
    assert any("2 quer(ies) have no text" in n for n in read.notes)
    assert any("repeat an earlier line" in n for n in read.notes)
    from ui.corpus import sample_queries  # the Compare/Dimensions pages' sample queries use the same reader

    assert sample_queries()[0] == {"_id": "q01", "text": "如何实现基于 JWT 的用户鉴权？"}


def test_lone_surrogates_are_replaced_at_ingestion_and_said_in_the_note(tmp_path):
    files = [
        ("notes.json", b'{"body": "before \\ud800 after, a real pair \\ud83d\\ude00 stays"}'),
        ("corpus.jsonl", b'{"_id": "x\\udc00", "title": "t\\ud800", "text": "body \\udbff"}\n'),
    ]
    corpus = load_files(files)
    for chunk in corpus.chunks:
        (chunk.id + chunk.title + chunk.text).encode("utf-8")  # a tokenizer's first step; raised before
    texts = " ".join(c.embed_text for c in corpus.chunks)
    assert "\ufffd" in texts and "\U0001f600" in texts
    for f in corpus.files:
        assert f.status == "loaded" and "surrogate" in f.reason and f.source in f.reason
    ds = load_beir(_write_set(tmp_path / "q"))
    assert ds.queries["q2"] == "too many requests \ufffd"
    assert any("surrogate" in w for w in ds.warnings)


def test_text_with_nothing_visible_is_an_empty_file():
    invisible = ("\u200b\u200c\u200d\u2060\u202e\u2066\ufeff \n" * 400).encode("utf-8")
    mixed = ("# Title\n\nReal words here.\n\n" + "\u200b" * 3000 + "\n\n" + "\u202e\u200f" * 1000).encode()
    corpus = load_files([("ghost.txt", invisible), ("ghost.md", b"\n" + invisible), ("mixed.md", mixed)])
    st = {f.source: f for f in corpus.files}
    for name in ("ghost.txt", "ghost.md"):
        assert st[name].status == "empty", st[name]
        assert "no visible text" in st[name].reason and "invisible characters" in st[name].reason
    assert st["mixed.md"].status == "loaded"
    assert corpus.chunks and all(has_visible_text(c.text) for c in corpus.chunks)
    assert not has_visible_text("\u200b\u2067 \u3164\t") and has_visible_text("\u200ba")
    blank_beir = b'{"_id": "a", "text": "\\u200b"}\n{"_id": "b", "title": " ", "text": ""}\n'
    assert load_files([("corpus.jsonl", blank_beir)]).files[0].status == "empty"
    assert clean_text("ok \ufdd0 \U0001fffe") == ("ok \ufffd \ufffd", 2)


def test_a_zip_member_with_an_invalid_utf8_name_is_skipped_and_the_rest_loads():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("good.md", "# Good\n\nThe good member is read.")
        z.writestr("bad\u00e9.md", "# Bad name")
        z.writestr("docs/other.txt", "Another good member.")
    data = buf.getvalue().replace("bad\u00e9".encode(), b"bad\xff\xfe")  # UTF-8 flag set, bytes invalid
    with pytest.raises(UnicodeDecodeError):
        zipfile.ZipFile(io.BytesIO(data))  # why the whole archive used to be refused
    corpus = load_files([("mixed.zip", data)])
    st = {f.source: f for f in corpus.files}
    assert st["mixed.zip/good.md"].status == "loaded" and st["mixed.zip/docs/other.txt"].status == "loaded"
    (bad,) = [f for f in corpus.files if f.status == "skipped"]
    assert (
        "not valid UTF-8" in bad.reason and "mixed.zip" in bad.reason and "b'bad\\xff\\xfe.md'" in bad.reason
    )


@pytest.mark.parametrize(
    ("text", "encoding", "named"),
    [
        (fx.JA_TEXT, "shift_jis", "cp932"),
        (fx.ZH_TEXT, "utf-16-le", "utf_16_le"),  # CJK UTF-16 without a BOM: was "looks binary"
        ("검색 시스템은 문서를 벡터로 변환하여 비슷한 문장을 찾습니다.", "euc-kr", "cp949"),
        ("Поисковая система преобразует документы в векторы.", "cp1251", "cp1251"),
    ],
)
def test_encodings_detected_by_charset_normalizer_are_read_and_named(text, encoding, named):
    decoded = decode_bytes(text.encode(encoding), name="doc.txt")
    assert decoded.text == text
    assert decoded.encoding == named
    assert f"read as {named}" in decoded.warning and "charset-normalizer" in decoded.warning


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (fx.ZH_TEXT.encode("gb18030"), "gb18030"),
        ("區塊鏈的共識機制是網絡中各個節點就賬本狀態達成一致的方法。".encode("big5"), "big5"),
        (b"\xef\xbb\xbf" + fx.ZH_TEXT.encode(), "utf-8-sig"),
        (fx.ZH_TEXT.encode("utf-16"), "utf-16"),
        (fx.EN_TEXT.encode("utf-16-le"), "utf-16-le"),
        ("café résumé naïve".encode("latin-1"), "cp1252"),
    ],
)
def test_encodings_that_worked_before_keep_their_reading(data, encoding):
    decoded = decode_bytes(data, name="doc.txt")
    assert decoded.encoding == encoding
    assert "charset-normalizer" not in decoded.warning


def test_a_csv_cell_over_128_kib_loads():
    cell = "long answer text " * 10_000  # 170 KB, over Python's default csv field limit
    corpus = load_files([("faq.csv", f'id,answer\n1,"{cell}"\n2,short answer\n'.encode())])
    assert corpus.files[0].status == "loaded", corpus.files[0].reason
    assert sum(len(c.text) for c in corpus.chunks) >= len(cell.strip())


def test_a_flate_bomb_pdf_names_the_decompression_limit_not_a_scan():
    corpus = load_files([("bomb.pdf", fx.flate_bomb_pdf()), ("scan.pdf", fx.image_only_pdf())])
    st = {f.source: f for f in corpus.files}
    assert "decompression limit" in st["bomb.pdf"].reason and "scan" not in st["bomb.pdf"].reason
    assert "OCR not supported" in st["scan.pdf"].reason


def test_corpus_reader_strict_mode_names_file_and_line():
    with pytest.raises(Exception, match=r"c.jsonl line 2: 'text' must be a string, got list"):
        read_corpus_jsonl(['{"_id": "a", "text": "x"}', '{"_id": "b", "text": ["x"]}'], name="c.jsonl")
    lenient = read_corpus_jsonl(
        ['{"_id": "a", "text": "x"}', "{bad", '{"_id": ""}'], name="c.jsonl", strict=False
    )
    assert [d.id for d in lenient.docs] == ["a"]
    assert any("not valid JSON" in n for n in lenient.notes) and any("empty _id" in n for n in lenient.notes)
    assert json.loads(CORPUS_LINES[2])["text"].count("\u2028") == 1


def test_a_judged_folder_keeps_its_queries_and_qrels_out_of_the_documents(tmp_path):
    """sample_corpus/ layout (docs/ + queries.jsonl + qrels.tsv): the judgments are reported, never embedded."""
    root = tmp_path / "kb"
    (root / "docs").mkdir(parents=True)
    (root / "docs" / "a.md").write_text("# JWT\n\nThe server signs a token.\n", encoding="utf-8")
    (root / "queries.jsonl").write_text('{"_id": "q1", "text": "how are tokens signed"}\n', encoding="utf-8")
    (root / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\ta.md\t2\n", encoding="utf-8")
    corpus = load_corpus(root)
    status = {f.source: f for f in corpus.files}
    assert status["docs/a.md"].status == "loaded"
    for side in ("queries.jsonl", "qrels.tsv"):
        assert status[side].status == "skipped" and "judgments" in status[side].reason
    assert all(c.source == "docs/a.md" for c in corpus.chunks)
