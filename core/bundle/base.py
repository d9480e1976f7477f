"""What every bundle module shares: the format's name and version, its limits, its error and its data types."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import DashboardError
from core.models.endpoint import is_endpoint_name
from core.types import Corpus

FORMAT = "retrieval-compare-bundle"
VERSION = 1
SLOT_NAMES = ("A", "B")
MB = 1024 * 1024
JSON_MEMBERS = ("corpus.json", "labels.json")


class BundleError(DashboardError):
    """A bundle could not be written, read or used; the message says what and how to fix it."""


def refuse(why: str) -> BundleError:
    """The error of a bundle refused on import: 'Bundle refused: <why>'."""
    return BundleError(f"Bundle refused: {why}")


@dataclass(frozen=True)
class BundleLimits:
    """What an imported bundle may hold. Zip bombs, padded and oversized members are refused from the zip's
    central directory, before any member is read: each member's size must be what the manifest implies."""

    max_bytes: int = 4096 * MB  # the zip file itself
    max_members: int = 8
    max_member_bytes: int = 2048 * MB  # one member, uncompressed
    max_total_bytes: int = 4096 * MB  # all members, uncompressed
    max_ratio: float = 200.0  # uncompressed / compressed, per member (as core.ingest's zip limits)
    max_json_bytes: int = 512 * MB
    max_manifest_bytes: int = 1 * MB  # settings, two models' specs, five checksums: a few KiB
    max_labels_bytes: int = 64 * MB  # qrels, the Compare page's labels, the judgment store's dump
    corpus_bytes_per_chunk: int = 64 * 1024  # corpus.json: a chunk's text, spans and heading, JSON-escaped
    max_vector_ratio: float = 8.0  # float32 embeddings barely compress (about 1.1:1); zeros compress 1000:1
    max_unpacked_ratio: float = 16.0  # all members together: at most this times the zip's size ...
    unpacked_allowance: int = 64 * MB  # ... plus this
    max_dim: int = 65_536
    max_json_depth: int = 32  # a bundle's JSON is at most 5 levels deep


@dataclass(frozen=True, eq=False)
class BundleModel:
    """One model of a bundle: what it was (spec, cache key, fingerprint) and its stored vectors."""

    slot: str
    name: str  # what the user chose: preset, hub id, local path or endpoint:MODEL@URL
    spec: dict[str, Any]
    cache_key: str  # the store key on the machine that made the bundle
    fingerprint: dict[str, Any]
    vectors: np.ndarray  # (distinct texts, dim) float32, rows in corpus order of first occurrence

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @property
    def is_endpoint(self) -> bool:
        """A served model: loading it sends the user's API key to the host the bundle names, so an import never
        loads it unless the user confirms that host, and no local model can check its vectors."""
        return is_endpoint_name(self.name)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A validated bundle (checksums, sizes, corpus identity, array shapes and norms, labels and settings)."""

    corpus: Corpus
    models: tuple[BundleModel, ...]
    settings: dict[str, Any]  # only the known settings, each within the range the app accepts
    labels: dict[str, Any]  # only 'qrels', 'session_labels' and 'judgments', each checked
    created: str
    origin: str = ""  # where the corpus came from when exported ("sample", "upload", "beir")
    size: int = 0  # bytes of the zip

    def model(self, slot: str) -> BundleModel:
        for m in self.models:
            if m.slot == slot:
                return m
        raise BundleError(
            f"The bundle has no model in slot {slot!r}; it holds {[m.slot for m in self.models]}."
        )


@dataclass(frozen=True)
class Installed:
    """What an import put into the store for one model (or why it put nothing there)."""

    slot: str
    name: str
    cache_key: str  # the local key the vectors are now stored under ('' when they were not installed)
    vectors: int  # distinct texts
    written: int  # of those, how many were not in the store yet
    dim: int
    verified: bool = True  # False: an endpoint model nobody could check; its vectors stayed out of the store
    checked: int = 0  # texts re-embedded here to check the bundle's vectors (0: nothing needed writing)
    agreement: float | None = None  # lowest cosine between those and the bundle's vectors
    note: str = ""  # what happened, in words
