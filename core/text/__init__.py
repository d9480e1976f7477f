"""Text people read and text we clean: one number format, counts and durations in words, safe names, text hygiene."""

from __future__ import annotations

from core.text.clean import clean_text, cleaned_note, has_visible_text
from core.text.durations import format_duration
from core.text.numbers import format_bytes, format_count, format_share, minus_signs, number
from core.text.safe import display_name, neutralise_bidi
from core.text.words import count, plural

__all__ = [
    "clean_text",
    "cleaned_note",
    "count",
    "display_name",
    "format_bytes",
    "format_count",
    "format_share",
    "format_duration",
    "has_visible_text",
    "minus_signs",
    "neutralise_bidi",
    "number",
    "plural",
]
