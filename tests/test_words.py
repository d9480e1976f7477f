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
