"""Bad files get a per-file message naming the file and the fix; the other files of the same call still load."""

from __future__ import annotations

import os

import pytest

from core.ingest import ChunkOptions, Limits, load_corpus, load_files
from tests import fixtures_ingest as fx

GOOD = [("good/api.md", fx.MARKDOWN.encode()), ("good/whitepaper.pdf", fx.multipage_pdf())]


def _load_with_good(bad: list[tuple[str, bytes]], **kwargs):
    corpus = load_files(bad + GOOD, **kwargs)
    statuses = {f.source: f for f in corpus.files}
    for name, _ in GOOD:
        assert statuses[name].status == "loaded", statuses[name]
    assert {c.source for c in corpus.chunks} >= {name for name, _ in GOOD}
    return corpus, statuses


def test_every_bad_input_in_one_call_has_its_message():
    big_line = b"a" * (50 * 1024 * 1024)
    bad = [
        ("empty.txt", b""),
        ("blank.md", b"  \n\n "),
        ("photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4),
        ("cut.pdf", fx.truncated_pdf()),
        ("locked.pdf", fx.encrypted_pdf()),
        ("scan.pdf", fx.image_only_pdf()),
        ("minified.txt", big_line),
        ("bomb.zip", fx.zip_bomb()),
        (
            "evil.zip",
            fx.make_zip(
                {"../../etc/evil.txt": b"evil text", "/abs/path.md": b"# abs", "fine.md": b"# Fine\n\ntext"}
            ),
        ),
        ("image.png", b"\x89PNG\r\n\x1a\n"),
        ("broken.json", b'{"a": [1, 2'),
    ]
    corpus, st = _load_with_good(bad)
    expect = {
        "empty.txt": "empty file",
        "blank.md": "empty file",
        "photo.txt": "looks binary (NUL bytes) — not a text file",
        "cut.pdf": "truncated or damaged",
        "locked.pdf": "encrypted PDF",
        "scan.pdf": "no extractable text, OCR not supported",
        "minified.txt": "line 1 is 52,428,800 characters long",
        "bomb.zip": "zip bomb",
        "evil.zip/../../etc/evil.txt": "unsafe path",
        "evil.zip//abs/path.md": "unsafe path",
        "image.png": "unsupported file type '.png'",
        "broken.json": "not valid JSON",
    }
    for source, message in expect.items():
        want = "empty" if source in ("empty.txt", "blank.md") else "skipped"  # nothing visible: "empty"
        assert st[source].status == want, st[source]
        assert message in st[source].reason, st[source].reason
        assert source.split("/")[0] in st[source].reason  # the message names the file
    assert st["evil.zip/fine.md"].status == "loaded"
    assert not any(
        c.source.startswith(("empty", "photo", "cut", "locked", "scan", "bomb")) for c in corpus.chunks
    )


def test_invalid_utf8_loads_with_a_warning():
    corpus, st = _load_with_good([("notes.txt", fx.invalid_utf8_text())])
    status = st["notes.txt"]
    assert status.status == "loaded" and status.encoding == "utf-8"
    assert "invalid UTF-8" in status.reason and "notes.txt" in status.reason
    text = next(c for c in corpus.chunks if c.source == "notes.txt").text
    assert "发布说明" in text and "\ufffd" in text


def test_duplicates_are_reported_and_embedded_once():
    data = fx.EN_TEXT.encode()
    corpus, st = _load_with_good([("a/guide.txt", data), ("b/copy-of-guide.txt", data)])
    assert st["b/copy-of-guide.txt"].status == "duplicate"
    assert "duplicate of a/guide.txt" in st["b/copy-of-guide.txt"].reason
    assert not any(c.source == "b/copy-of-guide.txt" for c in corpus.chunks)
    assert any(c.source == "a/guide.txt" for c in corpus.chunks)


def test_duplicate_beir_ids_are_kept_once():
    corpus = load_files(
        [("c1.jsonl", fx.beir_jsonl()), ("c2.jsonl", fx.beir_jsonl() + b'{"_id": "doc9", "text": "new"}\n')]
    )
    ids = [c.id for c in corpus.chunks]
    assert ids == ["doc1", "doc2", "doc3", "doc9"]
    assert "seen before" in next(f for f in corpus.files if f.source == "c2.jsonl").reason


def test_long_line_below_the_limit_is_chunked():
    sentence = fx.EN_TEXT.replace("\n", " ")
    text = (sentence * (900_000 // len(sentence))).encode()  # one ~900 kB line
    corpus = load_files([("one-line.txt", text)], options=ChunkOptions(size=1000, overlap=100))
    assert corpus.files[0].status == "loaded"
    assert len(corpus.chunks) > 900 and all(c.line_start == c.line_end == 1 for c in corpus.chunks)


def test_size_limits_are_enforced_with_the_setting_to_change():
    limits = Limits(max_file_bytes=1000, zip_max_members=2, zip_max_depth=1)
    inner = fx.make_zip({"inner.md": b"# inner\n\ntext"})
    corpus = load_files(
        [
            ("big.txt", b"x " * 1000),
            ("many.zip", fx.make_zip({f"f{i}.txt": b"some text" for i in range(3)})),
            ("nested.zip", fx.make_zip({"a.zip": inner})),
            ("ok.txt", b"small text file"),
        ],
        limits=limits,
    )
    st = {f.source: f for f in corpus.files}
    assert "Limits.max_file_bytes" in st["big.txt"].reason
    assert "Limits.zip_max_members" in st["many.zip"].reason
    assert "nested 2 levels deep" in st["nested.zip/a.zip"].reason
    assert st["ok.txt"].status == "loaded"


def test_encrypted_zip_member_and_garbage_zip(tmp_path):
    garbage = b"PK\x03\x04" + b"\x00" * 50
    corpus = load_files([("junk.zip", garbage), ("ok.md", b"# ok\n\nfine")])
    st = {f.source: f for f in corpus.files}
    assert "not a readable zip archive" in st["junk.zip"].reason
    assert st["ok.md"].status == "loaded"


def test_unreadable_file_in_a_folder_does_not_stop_the_rest(tmp_path):
    (tmp_path / "a.md").write_text("# A\n\ntext a", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "scan.pdf").write_bytes(fx.image_only_pdf())
    corpus = load_corpus(tmp_path)
    st = {f.source: f for f in corpus.files}
    assert st["a.md"].status == "loaded"
    assert "empty file" in st["empty.txt"].reason
    assert "OCR not supported" in st["scan.pdf"].reason


def test_a_bug_in_one_reader_is_reported_not_raised(monkeypatch):
    import core.ingest.corpus as corpus_mod

    real = corpus_mod.read_file

    def flaky(name, data, **kwargs):
        if name == "boom.md":
            raise RuntimeError("simulated reader bug")
        return real(name, data, **kwargs)

    monkeypatch.setattr(corpus_mod, "read_file", flaky)
    corpus = load_files([("boom.md", b"# boom\n\ntext"), ("ok.md", b"# ok\n\nfine")])
    st = {f.source: f for f in corpus.files}
    assert st["boom.md"].reason == "internal error reading boom.md: RuntimeError: simulated reader bug"
    assert st["ok.md"].status == "loaded"


def test_rst_titles_with_overlines_are_one_heading():
    rst = b"=====\nTitle\n=====\n\nIntro text.\n\nSection\n-------\n\nBody text of the section.\n"
    corpus = load_files([("policy.rst", rst)])
    assert [c.heading for c in corpus.chunks] == [("Title",), ("Title", "Section")]
    assert corpus.chunks[0].text.startswith("=====\nTitle")


def test_same_name_different_content_keeps_both():
    corpus = load_files([("notes.md", b"# A\n\nfirst text"), ("notes.md", b"# B\n\nsecond text")])
    assert [f.source for f in corpus.files] == ["notes.md", "notes (2).md"]
    assert len({c.id for c in corpus.chunks}) == 2


# ---- round 3: a folder's entries are read only when they are regular files --------------------------------------


def _load_within(path, seconds: float = 30.0):
    """load_corpus in a thread, joined with a timeout: a reader blocked on a pipe fails the test, never hangs it."""
    import threading

    out: dict = {}
    worker = threading.Thread(target=lambda: out.setdefault("corpus", load_corpus(path)), daemon=True)
    worker.start()
    worker.join(seconds)
    return worker.is_alive(), out.get("corpus")


def _release(fifo) -> None:
    """Open the FIFO for writing once (non-blocking) so a reader blocked in open() on old code gets EOF."""
    import contextlib
    import os

    with contextlib.suppress(OSError):
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.mark.timeout(90)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_socket_or_device_in_a_corpus_folder_is_skipped_not_read(tmp_path):
    import socket

    (tmp_path / "a.md").write_text("# A\n\ntext a", encoding="utf-8")
    os.mkfifo(tmp_path / "pipe.txt")  # a supported name: the old loader opened it and waited for a writer forever
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path / "pipe.txt", tmp_path / "sub" / "link-to-pipe.md")
    os.symlink("/dev/null", tmp_path / "null.txt")  # a character device (/dev/zero would never end)
    sock_path = tmp_path / "s.txt"
    sock = None
    if len(str(sock_path)) < 100:  # AF_UNIX paths are short
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(sock_path))
    try:
        hung, corpus = _load_within(tmp_path)
        assert not hung, "load_corpus blocked on the named pipe"
    finally:
        _release(tmp_path / "pipe.txt")
        if sock is not None:
            sock.close()
    st = {f.source: f for f in corpus.files}
    assert st["a.md"].status == "loaded"
    for name, kind in [("pipe.txt", "a named pipe (FIFO)"), ("sub/link-to-pipe.md", "a named pipe (FIFO)"),
                       ("null.txt", "a character device")] + ([("s.txt", "a socket")] if sock else []):  # fmt: skip
        assert st[name].status == "skipped", st[name]
        assert st[name].reason.startswith(f"{name}: {kind}, not a regular file; skipped"), st[name].reason
        assert "copy its content into a regular file" in st[name].reason
    assert {c.source for c in corpus.chunks} == {"a.md"}


@pytest.mark.timeout(90)
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_given_as_the_corpus_path_is_skipped_and_never_opened_blocking(tmp_path):
    fifo = tmp_path / "notes.md"
    os.mkfifo(fifo)
    try:
        hung, corpus = _load_within(fifo)
        assert not hung, "load_corpus blocked on the named pipe"
    finally:
        _release(fifo)
    (status,) = corpus.files  # was: an empty corpus with no status at all
    assert status.source == "notes.md" and status.status == "skipped" and "a named pipe (FIFO)" in status.reason
    # a path swapped for a pipe after its stat: the open does not block and the open file's own type is checked
    from core.ingest.corpus import NotRegularFile, _read_regular

    with pytest.raises(NotRegularFile):
        _read_regular(fifo, 100)


def test_zip_members_that_are_links_or_pipes_are_skipped_with_a_reason():
    import io
    import stat
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("kb/real.md", "# Real\n\nthe file itself")
        for name, mode, data in [("kb/link.md", stat.S_IFLNK | 0o777, "../../etc/passwd"),
                                 ("kb/pipe.txt", stat.S_IFIFO | 0o644, "")]:  # fmt: skip
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = mode << 16
            zf.writestr(info, data)
    corpus = load_files([("kb.zip", buf.getvalue())])
    st = {f.source: f for f in corpus.files}
    assert st["kb.zip/kb/real.md"].status == "loaded"
    assert st["kb.zip/kb/link.md"].status == "skipped"  # was: loaded, its text the link's target path
    assert "a symbolic link in the zip, not a regular file" in st["kb.zip/kb/link.md"].reason
    assert "a named pipe (FIFO) in the zip" in st["kb.zip/kb/pipe.txt"].reason
    assert {c.source for c in corpus.chunks} == {"kb.zip/kb/real.md"}
