"""What every bundle module shares: the format's name and version, its limits, its error and its data types."""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import DashboardError
from core.models.endpoint import is_endpoint_name, parse_endpoint_name
from core.types import Corpus

FORMAT = "retrieval-compare-bundle"
VERSION = 1
SLOT_NAMES = ("A", "B")
MB = 1024 * 1024
JSON_MEMBERS = ("corpus.json", "labels.json")
LOCAL_PREFIX = "local:"  # a model chosen by its local folder, as a manifest names it: 'local:<folder name>'
# The fix of a refusal whose cause is the bundle's own bytes: only the machine that made it can write it again.
REEXPORT = (
    "Export the bundle again on the machine that made it (Prepare bundle in the sidebar, or "
    "`python -m core.cli bundle export`)."
)


class BundleError(DashboardError):
    """A bundle could not be written, read or used; the message says what and how to fix it."""


def refuse(why: str) -> BundleError:
    """The error of a bundle refused on import: 'Bundle refused: <why>'."""
    return BundleError(f"Bundle refused: {why}")


def endpoint_hosts(name: str) -> str:
    """The host(s) an ``endpoint:MODEL@URL[,URL]`` name sends requests (and the API key) to, e.g. 'gpu1:8000, gpu2';
    '' when the name gives none."""
    parsed = parse_endpoint_name(name)
    urls = parsed[1].split(",") if parsed else []
    return ", ".join(h for u in urls if (h := urllib.parse.urlsplit(u.strip()).netloc))


_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def is_path_name(name: str) -> bool:
    """Whether a model name is a folder of some machine (absolute, '~', './', a Windows drive or backslashes),
    from the text alone: a preset, a hub id 'owner/name' or an endpoint is not."""
    raw = (name or "").strip()
    if not raw or is_endpoint_name(raw) or raw.startswith(LOCAL_PREFIX):
        return False
    return raw.startswith(("/", "~", ".")) or "\\" in raw or bool(_DRIVE.match(raw)) or raw.count("/") > 1


def local_label(folder_name: str) -> str:
    """What a manifest says instead of a local model folder's path: 'local:<folder name>'."""
    return f"{LOCAL_PREFIX}{folder_name}"


def is_local_label(name: str) -> bool:
    """Whether a bundle's model name is 'local:<folder name>': a folder of the machine that made it, which the
    importing machine maps to a folder of its own (the fingerprint's weights digest checks it is the same)."""
    return (name or "").startswith(LOCAL_PREFIX)


def portable_name(name: str) -> str:
    """A model name as a manifest writes it: a folder path becomes 'local:<its last part>', anything else stays."""
    if not is_path_name(name):
        return name
    last = re.split(r"[\\/]+", name.strip().rstrip("/\\"))[-1]
    return local_label(last or "model")


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
    max_labels_bytes: int = 64 * MB  # qrels, the Compare page's labels, the judgment store's dump ...
    labels_allowance: int = 4 * MB  # ... at most this plus ...
    labels_per_corpus_byte: int = 4  # ... this many bytes per byte of corpus.json (labels name its chunks)
    corpus_bytes_per_chunk: int = 64 * 1024  # corpus.json: a chunk's text, spans and heading, JSON-escaped
    max_chunks_per_text: int = 16  # chunks per distinct text (the texts are pinned down by the vectors' size)
    # What a JSON member may hold, counted on its bytes before parsing (so ``[[],[],...]`` or ``["ab","ab",...]``
    # is refused before it becomes millions of Python objects): at most one array or object per this many bytes
    # (a chunk of corpus.json is an object and a heading list in at least 150 bytes, a file an object in at least
    # 77) ...
    corpus_bytes_per_container: int = 64
    json_bytes_per_container: int = 8  # labels.json and manifest.json: '"q":{"c":1},' is 12 bytes
    # ... and in corpus.json at most one string of two or more characters per this many (a chunk holds at most 16
    # in at least 150 bytes, a file 7 in at least 77; shorter strings are shared objects once parsed)
    corpus_bytes_per_string: int = 8
    max_vector_ratio: float = 8.0  # float32 embeddings barely compress (about 1.1:1); zeros compress 1000:1
    max_unpacked_ratio: float = 16.0  # all members together: at most this times the zip's size ...
    unpacked_allowance: int = 64 * MB  # ... plus this
    max_dim: int = 65_536
    max_json_depth: int = 32  # a bundle's JSON is at most 5 levels deep


@dataclass(frozen=True, eq=False)
class BundleModel:
    """One model of a bundle: what it was (spec, cache key, fingerprint) and its stored vectors."""

    slot: str
    name: str  # what the user chose: preset, hub id, endpoint:MODEL@URL, or local:<folder name> for a local folder
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

    @property
    def is_local_folder(self) -> bool:
        """A model chosen by its local folder ('local:<folder name>'): loaded from a folder the importer names."""
        return is_local_label(self.name)


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
            f"The bundle has no model in slot {slot!r}; it holds {[m.slot for m in self.models]}. Name one of "
            "those slots, or export a bundle with a model in each slot (A and B)."
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
