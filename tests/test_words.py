from core.text import format_bytes
from core.text.words import count, plural


def test_counts_read_as_english():
    assert (
        count(1, "file") == "1 file"
        and count(0, "file") == "0 files"
        and count(2048, "chunk") == "2,048 chunks"
    )
    assert count(1, "query") == "1 query" and count(3, "query") == "3 queries"
    assert plural(1, "was") == "was" and plural(2, "was") == "were" and plural(2, "is") == "are"
    assert count(2, "judgment") == "2 judgments" and count(2, "mouse", "mice") == "2 mice"


def test_one_byte_format_for_every_page_report_and_message():
    assert [format_bytes(n) for n in (0, 820, 1000, 3200, 12 * 2**20, 1.5 * 2**30, 3 * 2**40)] == [
        "0 B", "820 B", "1,000 B", "3.1 KiB", "12.0 MiB", "1.5 GiB", "3.0 TiB",
    ]  # fmt: skip
