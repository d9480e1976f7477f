"""The decision report: what it rests on (data), its sections, HTML and Markdown renderers, and the altair charts every page shares."""

from __future__ import annotations

from core.report.data import DayOne, EvidenceRun, ReportData, add_store_figures, gather, unique_names
from core.report.html import render_html
from core.report.markdown import render_markdown
from core.report.sections import Report, build_report, charts

__all__ = [
    "DayOne",
    "EvidenceRun",
    "Report",
    "ReportData",
    "add_store_figures",
    "build_report",
    "charts",
    "gather",
    "render_html",
    "render_markdown",
    "unique_names",
]
