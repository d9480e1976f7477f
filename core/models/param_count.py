"""Parameter count of a local model folder, read from safetensors headers without loading weights."""

from __future__ import annotations

import json
from pathlib import Path


def count_params(path: Path) -> int:
    """Parameter count from the safetensors headers (no weights are read)."""
    total = 0
    for f in path.glob("*.safetensors"):
        try:
            with f.open("rb") as fh:
                size = int.from_bytes(fh.read(8), "little")
                header = json.loads(fh.read(size))
        except (OSError, ValueError):
            continue
        for name, meta in header.items():
            if name != "__metadata__":
                n = 1
                for d in meta.get("shape", []):
                    n *= int(d)
                total += n
    return total

