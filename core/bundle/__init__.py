"""Session bundles: one zip with a corpus, both models' stored vectors, labels, votes and settings; checked on import."""

from __future__ import annotations

from core.bundle.archive import (
    Bundle,
    ExportModel,
    install,
    judgments_dump,
    load_judgments,
    make_bundle,
    read_bundle,
    summary,
    vector_agreement,
)

__all__ = [
    "Bundle",
    "ExportModel",
    "install",
    "judgments_dump",
    "load_judgments",
    "make_bundle",
    "read_bundle",
    "summary",
    "vector_agreement",
]
