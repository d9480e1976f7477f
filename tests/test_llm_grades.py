"""The strict grade parser: a single digit 0-3 in a few wrappings is a grade; a refusal, prose, several digits or a
digit out of range is None (counted by the judge, never guessed)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.llm import parse_grade

ACCEPTED = [
    ("2", 2),
    ("0", 0),
    ("3\n", 3),
    ("  1  ", 1),
    ("2.", 2),
    ("**2**", 2),
    ("*3*", 3),
    ("`1`", 1),
    ('"2"', 2),
    ("[2]", 2),
    ("(0)", 0),
    ("Grade: 2", 2),
    ("grade:2", 2),
    ("**Grade:** 3", 3),
    ("Score: 1", 1),
    ("Relevance: 0", 0),
    ("Relevance score: 2/3", 2),
    ("Final grade: 3", 3),
    ("Answer: 1.", 1),
    ("The answer is 2", None),  # prose around the digit is not a grade
    ("2/3", 2),
    ("3 out of 3", 3),
]
REFUSED = [
    "",
    "   ",
    "4",
    "9",
    "-1",
    "22",
    "2 or 3",
    "2-3",
    "1, 2",
    "Grade: 2. The passage mentions the API key",
    "The passage is not",
    "I cannot grade this passage.",
    "I'm sorry, but I can't help with that.",
    "two",
    "２",  # a full-width digit is not the ASCII answer asked for
    "Grade: 5",
    "2\n3",
    "0.5",
    "1.5",
    "Grade: 2" + " " * 300,  # longer than a grade answer can be
]


@pytest.mark.parametrize(("text", "expected"), ACCEPTED)
def test_accepted_wrappings(text, expected):
    assert parse_grade(text) == expected


@pytest.mark.parametrize("text", REFUSED)
def test_anything_else_is_no_grade(text):
    assert parse_grade(text) is None


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_none_or_a_grade_never_an_error(text):
    g = parse_grade(text)
    assert g is None or g in (0, 1, 2, 3)
    if g is not None:  # a grade came from exactly one digit 0-3 in the text, and no other digit
        digits = re.findall(r"\d", text)
        assert digits.count(str(g)) >= 1
        assert {d for d in digits if d != "3" or g == 3} <= {str(g), "3"}  # '/3' and 'out of 3' may add a 3


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3),
    st.sampled_from(["", "Grade: ", "Score: ", "grade ", "Relevance: "]),
    st.sampled_from(["", "**", "*", "`"]),
    st.sampled_from(["", ".", "!"]),
    st.text(alphabet=" \t\n", max_size=3),
)
def test_a_wrapped_digit_is_read(digit, label, emph, end, space):
    assert parse_grade(f"{space}{emph}{label}{digit}{emph}{end}{space}") == digit


@settings(max_examples=200, deadline=None)
@given(
    st.integers(0, 3),
    st.integers(0, 9).filter(lambda d: True),
    st.sampled_from([" ", " or ", ", ", "\n", " then "]),
)
def test_two_digits_are_no_grade(a, b, sep):
    assert parse_grade(f"{a}{sep}{b}") is None


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Nd",)), min_size=1, max_size=120))
def test_text_without_a_digit_is_no_grade(text):
    assert parse_grade(text) is None
