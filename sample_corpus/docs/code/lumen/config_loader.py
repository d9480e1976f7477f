"""Layered configuration loader for Lumen services (配置加载).

Order of precedence, lowest first:

1. built-in defaults (``DEFAULTS``),
2. a YAML or JSON file (``LUMEN_CONFIG`` or the path passed in),
3. environment variables ``LUMEN__SECTION__KEY`` (double underscores separate levels),
4. explicit overrides passed by the caller (tests, CLI flags).

Values from the environment are parsed as JSON when possible, so ``LUMEN__SEARCH__TOP_K=20`` becomes
an int. Secrets such as the JWT signing key are never read from the file: they must come from the
environment or a secret manager, and ``redacted()`` masks them for logging.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    "server": {"host": "0.0.0.0", "port": 8080, "workers": 2},  # noqa: S104
    "auth": {
        "issuer": "https://auth.lumen.example.com",
        "audience": "lumen-api",
        "access_token_ttl": 900,
        "refresh_token_ttl": 30 * 24 * 3600,
        "leeway": 60,
        "signing_key": None,
    },
    "search": {"top_k": 10, "vector_weight": 0.6, "fusion": "rrf", "rerank": False},
    "embedding": {"model": "lumen-embed-m", "dimensions": 1024, "batch_size": 32},
    "rate_limit": {"plan": "team"},
    "storage": {"database_url": None, "object_store": "s3://lumen-docs"},
}

SECRET_KEYS = {"signing_key", "database_url", "password", "api_key"}
ENV_PREFIX = "LUMEN__"


class ConfigError(ValueError):
    """A configuration value is missing or has the wrong type."""


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Return a new dict: ``override`` merged into ``base`` recursively."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_file(path: Path) -> dict[str, Any]:
    """Read a YAML (needs PyYAML) or JSON config file."""
    text = path.read_text(encoding="utf-8")
    if path.suffix in {".yaml", ".yml"}:
        import yaml  # imported lazily: only needed for YAML files

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    for section in data.values():
        if isinstance(section, dict) and SECRET_KEYS & section.keys():
            found = sorted(SECRET_KEYS & section.keys())
            raise ConfigError(f"{path}: secrets {found} must come from the environment, not the file")
    return data


def from_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Collect ``LUMEN__A__B=value`` variables into a nested dict."""
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = [part.lower() for part in name[len(ENV_PREFIX):].split("__") if part]
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return out


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the effective configuration from defaults, file, environment and overrides."""
    environ = os.environ if environ is None else environ
    config = copy.deepcopy(DEFAULTS)
    file_path = path or environ.get("LUMEN_CONFIG")
    if file_path:
        config = deep_merge(config, read_file(Path(file_path)))
    config = deep_merge(config, from_env(environ))
    config = deep_merge(config, overrides or {})
    validate(config)
    return config


def validate(config: Mapping[str, Any]) -> None:
    """Check the few values whose mistakes cause confusing failures later."""
    auth = config["auth"]
    if not 60 <= int(auth["access_token_ttl"]) <= 3600:
        raise ConfigError("auth.access_token_ttl must be 60-3600 seconds (short-lived access tokens)")
    weight = float(config["search"]["vector_weight"])
    if not 0.0 <= weight <= 1.0:
        raise ConfigError(f"search.vector_weight must be within 0..1, got {weight}")
    if config["embedding"]["dimensions"] not in (256, 512, 768, 1024):
        raise ConfigError("embedding.dimensions must be one of 256, 512, 768, 1024 (Matryoshka sizes)")


def redacted(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy safe to log: secret values replaced by '***'."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            out[key] = redacted(value)
        else:
            out[key] = "***" if key in SECRET_KEYS and value else value
    return out
