"""The ingest cache (issue 31): a second load of the same files reads nothing, an edit or a new option misses,
a damaged entry is survived and rewritten."""

from __future__ import annotations

import pytest

import core.ingest.corpus as corpus_mod
from core.ingest import ChunkOptions, IngestCache, load_corpus, load_files
from tests import fixtures_ingest as fx


@pytest.fixture
def counted(monkeypatch):
    """Counts of read_file and language-detection calls made by core.ingest's loader."""
    calls = {"read": 0, "detect": 0}
    read, detect = corpus_mod.read_file, corpus_mod.detect_language_sure

    def read_counted(*a, **k):
        calls["read"] += 1
        return read(*a, **k)

    def detect_counted(*a, **k):
        calls["detect"] += 1
        return detect(*a, **k)

    monkeypatch.setattr(corpus_mod, "read_file", read_counted)
    monkeypatch.setattr(corpus_mod, "detect_language_sure", detect_counted)
    return calls


def _folder(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "en.txt").write_text(fx.EN_TEXT * 5, encoding="utf-8")
    (docs / "zh.md").write_text("# 共识\n\n" + fx.ZH_TEXT * 5, encoding="utf-8")
    (docs / "faq.csv").write_text(fx.CSV, encoding="utf-8")
    return docs


def test_a_second_load_reads_and_detects_nothing_and_gives_equal_chunks(tmp_path, counted):
    docs, cache = _folder(tmp_path), IngestCache(tmp_path / "store")
    first = load_corpus(docs, cache=cache)
    assert counted["read"] == 3 and counted["detect"] > 0
    counted.update(read=0, detect=0)
    second = load_corpus(
        docs, cache=IngestCache(tmp_path / "store")
    )  # a new process: only the disk is shared
    assert counted == {"read": 0, "detect": 0}
    assert second.chunks == first.chunks and second.files == first.files and second.sha256 == first.sha256
    assert {c.lang for c in second.chunks} >= {"en", "zh-cn"}


def test_an_edited_file_or_a_changed_option_is_read_again(tmp_path, counted):
    docs, cache = _folder(tmp_path), IngestCache(tmp_path / "store")
    load_corpus(docs, cache=cache)
    (docs / "en.txt").write_text(fx.EN_TEXT * 6 + "One more line.\n", encoding="utf-8")
    counted.update(read=0)
    edited = load_corpus(docs, cache=cache)
    assert counted["read"] == 1  # only the edited file
    assert any("One more line." in c.text for c in edited.chunks)
    counted.update(read=0)
    load_corpus(docs, cache=cache, options=ChunkOptions(size=200, overlap=0))
    assert counted["read"] == 3  # other chunking: every file again


def test_a_damaged_entry_is_ignored_and_rewritten_never_a_crash(tmp_path, counted):
    docs, cache = _folder(tmp_path), IngestCache(tmp_path / "store")
    first = load_corpus(docs, cache=cache)
    entries = sorted(cache.folder.rglob("*.json"))
    assert len(entries) == 3
    entries[0].write_bytes(entries[0].read_bytes()[:-40])  # truncated
    entries[1].write_bytes(entries[1].read_bytes().replace(b"token", b"tokem"))  # edited: checksum differs
    entries[2].write_bytes(b"\x00garbage")
    counted.update(read=0)
    again = load_corpus(docs, cache=cache)
    assert counted["read"] == 3 and again.chunks == first.chunks
    counted.update(read=0)
    assert load_corpus(docs, cache=cache).chunks == first.chunks and counted["read"] == 0  # rewritten


def test_an_unwritable_cache_only_costs_time(tmp_path):
    blocker = tmp_path / "store"
    blocker.write_text("a file where the cache folder would go")
    corpus = load_files([("en.txt", fx.EN_TEXT.encode())], cache=IngestCache(blocker))
    assert [c.lang for c in corpus.chunks] == ["en"]


def test_uploads_and_zip_members_are_cached_too(tmp_path, counted):
    files = [("a.txt", fx.EN_TEXT.encode()), ("b.zip", fx.make_zip({"inner/zh.txt": fx.ZH_TEXT.encode()}))]
    cache = IngestCache(tmp_path)
    first = load_files(files, cache=cache)
    counted.update(read=0)
    assert load_files(files, cache=cache).chunks == first.chunks and counted["read"] == 0


def test_the_cache_stays_under_its_size_limit_dropping_the_least_recently_used(
    tmp_path, counted, monkeypatch
):
    """A store that ingests corpus after corpus does not grow without end: past the limit, the entries used
    longest ago go, those of the load in hand stay, and a file dropped is only read again."""
    old, new = tmp_path / "old", tmp_path / "new"
    for folder, text in ((old, fx.EN_TEXT), (new, fx.EN_TEXT.replace("the", "a"))):
        folder.mkdir()
        for i in range(4):
            (folder / f"f{i}.md").write_text(text * (3 + i), encoding="utf-8")
    store = tmp_path / "store"
    load_corpus(old, cache=IngestCache(store))
    size = sum(p.stat().st_size for p in (store / "ingest").glob("*/*.json"))
    # room for a little more than one corpus: loading the second must drop the first's entries
    cache = IngestCache(store, max_bytes=int(size * 1.1))
    load_corpus(new, cache=cache)
    left = sum(p.stat().st_size for p in (store / "ingest").glob("*/*.json"))
    assert left <= size * 1.1
    counted.update(read=0)
    load_corpus(new, cache=IngestCache(store, max_bytes=int(size * 1.1)))
    assert counted["read"] == 0  # the load in hand kept all its entries
    load_corpus(old, cache=IngestCache(store, max_bytes=int(size * 1.1)))
    assert counted["read"] == 4  # the older corpus was dropped: read again, not an error


def test_the_size_limit_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RETRIEVAL_COMPARE_INGEST_CACHE_MB", "3")
    assert IngestCache(tmp_path).max_bytes == 3 << 20
    monkeypatch.setenv("RETRIEVAL_COMPARE_INGEST_CACHE_MB", "lots")
    assert IngestCache(tmp_path).max_bytes == 2048 << 20  # a value that is not a number: the default
