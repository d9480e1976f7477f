"""Reading a grade from an LLM's free-text answer, strictly: a single digit 0-3 is the answer, in a few stated
wrappings (``2``, ``2.``, ``**2**``, ``Grade: 2``, ``Relevance score: 2/3``, ``"2"``, ``[2]``); anything else (a
refusal, prose, a digit out of range, several digits) is None, counted and reported by the caller, never guessed.
"""

from __future__ import annotations

import re

MAX_GRADE_TEXT = 200  # characters: a grade answer longer than this is prose, not a grade

_WRAP = str.maketrans("", "", "*_`\"'“”‘’")
_LABEL = r"(?:(?:final|overall|relevance|relevancy)\s+)?(?:grade|score|relevance|relevancy|rating|label|answer|judg(?:e)?ment)"
_GRADE_RE = re.compile(
    rf"^(?:{_LABEL}\s*(?:is\s*)?[:=\-]?\s*)?"  # an optional 'Grade:' / 'Score =' / 'Answer is'
    r"[\[(]?\s*(?P<digit>[0-3])\s*[\])]?"  # the digit, optionally in brackets
    r"(?:\s*(?:/|out\s+of)\s*3)?"  # an optional '/3' or 'out of 3'
    r"\s*[.!]?$",
    re.IGNORECASE,
)


def parse_grade(text: str) -> int | None:
    """The grade 0-3 of an answer that is a single digit in one of the accepted wrappings, else None."""
    if not isinstance(text, str) or len(text) > MAX_GRADE_TEXT:
        return None
    cleaned = " ".join(text.translate(_WRAP).split())
    m = _GRADE_RE.match(cleaned)
    return int(m.group("digit")) if m else None
