"""Durations in words a user reads at a glance: '45 s', '12 min', '2.5 h', '3.1 days'."""

from __future__ import annotations

import math


def format_duration(seconds: float) -> str:
    """Round a duration to the unit a person would use; NaN reads 'unknown time'."""
    if math.isnan(seconds):
        return "unknown time"
    if math.isinf(seconds):
        return "forever"
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h".replace(".0 h", " h")
    return f"{seconds / 86400:.1f} days"
