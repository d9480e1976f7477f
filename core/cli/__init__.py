"""``python -m core.cli COMMAND``: one module per command; nothing in core imports this package."""

from __future__ import annotations

from core.cli.common import StderrProgress
from core.cli.main import build_parser, main

__all__ = ["StderrProgress", "build_parser", "main"]
