"""The README's "Use it as a library" example runs as written and prints what the README shows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = "# library example"


def _example() -> tuple[str, list[str]]:
    """The README's python block whose first line is the marker comment, and the output shown after it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.findall(r"```python\n(" + re.escape(MARKER) + r"\n.*?)```\n.*?```text\n(.*?)```", readme, re.S)
    assert len(found) == 1, (
        f"README.md needs one ```python block starting with {MARKER!r}, then a ```text block"
    )
    code, shown = found[0]
    return code, shown.strip().splitlines()


@pytest.mark.slow  # embeds the 460 sample chunks with all-MiniLM-L6-v2: 65-90 s on a shared 2-core machine
def test_the_readme_library_example_runs_and_prints_what_the_readme_shows(monkeypatch, capsys):
    code, shown = _example()
    monkeypatch.chdir(ROOT)  # the example names sample_corpus/docs relative to the repository root
    exec(compile(code, "README.md (library example)", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0] == shown[0]
    assert len(printed) == len(shown) == 6
    for got, want in zip(printed[1:], shown[1:], strict=True):
        score, where = got.split(maxsplit=1)
        want_score, want_where = want.split(maxsplit=1)
        assert where == want_where and abs(float(score) - float(want_score)) < 0.005, (got, want)
        assert (ROOT / "sample_corpus" / "docs" / where.split()[0]).is_file()
