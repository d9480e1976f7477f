from core.text import format_bytes, format_count
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


def test_one_count_format_for_parameters_so_a_small_model_is_not_zero():
    """A 4M-parameter model once read '2 x 0.00B FLOPs/token' in its build estimate."""
    assert [format_count(n) for n in (850, 4_200_000, 22_700_000, 110_000_000, 4_000_000_000)] == [
        "850", "4.2M", "22.7M", "110M", "4.0B",
    ]  # fmt: skip
    from core.models.cost import describe_memory
    from core.models.presets import PRESETS

    tiny = next(s for s in PRESETS.values() if s.params < 100_000_000)
    assert "0.0" not in describe_memory(tiny).split("(")[1]
    assert f"{format_count(tiny.params)} parameters" in describe_memory(tiny)
