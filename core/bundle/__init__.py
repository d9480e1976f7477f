"""Session bundles: one zip with a corpus, both models' stored vectors, labels, votes and settings; checked on import.

``make_bundle`` writes one (``archive``; ``write_bundle`` streams it to a file); ``read_bundle`` checks its bytes or its file (``read``, ``checks``);
``install`` checks the vectors against the local models and puts them into the store, ``load_judgments`` its labels
into the judgment store (``install``). A refused bundle leaves both stores as they were. A model chosen by its local folder
is named 'local:<folder name>' in a bundle (``portable_model_name``): the importer names a folder of its own.
"""

from __future__ import annotations

from core.bundle.archive import ExportModel, make_bundle, write_bundle
from core.bundle.base import Bundle, BundleError, BundleLimits, BundleModel, Installed, endpoint_hosts
from core.bundle.checks import SETTING_RANGES
from core.bundle.corpus_json import corpus_from_json, corpus_json
from core.bundle.fingerprint import portable_model_name
from core.bundle.install import (
    CHECK_TEXTS,
    MIN_AGREEMENT,
    install,
    judgments_dump,
    load_judgments,
    summary,
    vector_agreement,
)
from core.bundle.read import read_bundle

__all__ = [
    "CHECK_TEXTS",
    "MIN_AGREEMENT",
    "SETTING_RANGES",
    "Bundle",
    "BundleError",
    "BundleLimits",
    "BundleModel",
    "ExportModel",
    "Installed",
    "endpoint_hosts",
    "install",
    "judgments_dump",
    "load_judgments",
    "make_bundle",
    "write_bundle",
    "portable_model_name",
    "read_bundle",
    "corpus_from_json",
    "corpus_json",
    "summary",
    "vector_agreement",
]
