"""Create, hash, look up and revoke Lumen API keys (API key 管理).

Keys look like ``lk_live_<32 random chars>``. Only a SHA-256 hash of the secret part is stored, so a
database leak does not reveal usable keys; lookups use the 8-character public prefix and then a
constant-time comparison. Keys carry scopes (``search:read``, ``docs:write`` ...) and an optional
list of allowed CIDR ranges.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from dataclasses import dataclass, field

ALPHABET = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
VALID_SCOPES = frozenset({"search:read", "docs:read", "docs:write", "index:admin", "webhooks:manage", "billing:read"})
STALE_AFTER_SECONDS = 180 * 24 * 3600


@dataclass
class StoredKey:
    """What the database keeps about one key (never the key itself)."""

    key_id: str
    prefix: str
    digest: str
    workspace_id: str
    scopes: frozenset[str]
    allowed_cidrs: tuple[str, ...] = ()
    created_at: float = field(default_factory=time.time)
    last_used_at: float | None = None
    revoked_at: float | None = None


class KeyError_(Exception):
    """An API key problem carrying the Lumen error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _digest(secret: str, pepper: bytes) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()


class APIKeyStore:
    """In-memory reference implementation; production uses the ``api_keys`` SQL table."""

    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper
        self._by_prefix: dict[str, StoredKey] = {}

    def create(self, workspace_id: str, scopes: set[str], *, live: bool = True, cidrs: tuple[str, ...] = ()) -> str:
        """Create a key and return it; this is the only time the full key is visible."""
        unknown = set(scopes) - VALID_SCOPES
        if unknown:
            raise ValueError(f"unknown scopes {sorted(unknown)}; valid: {sorted(VALID_SCOPES)}")
        body = "".join(secrets.choice(ALPHABET) for _ in range(32))
        key = f"lk_{'live' if live else 'test'}_{body}"
        prefix = body[:8]
        self._by_prefix[prefix] = StoredKey(
            key_id=f"key_{secrets.token_hex(6)}",
            prefix=prefix,
            digest=_digest(key, self._pepper),
            workspace_id=workspace_id,
            scopes=frozenset(scopes),
            allowed_cidrs=cidrs,
        )
        return key

    def authenticate(self, key: str, *, client_ip: str, needed_scope: str) -> StoredKey:
        """Resolve a presented key, checking revocation, IP allow list and scope."""
        parts = key.split("_", 2)
        if len(parts) != 3 or parts[0] != "lk" or len(parts[2]) != 32:
            raise KeyError_("LMN-401-06", "API key is malformed")
        stored = self._by_prefix.get(parts[2][:8])
        if stored is None or not hmac.compare_digest(stored.digest, _digest(key, self._pepper)):
            raise KeyError_("LMN-401-06", "API key is unknown")
        if stored.revoked_at is not None:
            raise KeyError_("LMN-401-06", "API key was revoked")
        if stored.allowed_cidrs and not any(
            ipaddress.ip_address(client_ip) in ipaddress.ip_network(c) for c in stored.allowed_cidrs
        ):
            raise KeyError_("LMN-403-03", f"client IP {client_ip} is not in the key's allow list")
        if needed_scope not in stored.scopes:
            raise KeyError_("LMN-403-01", f"API key lacks scope {needed_scope}")
        stored.last_used_at = time.time()
        return stored

    def revoke(self, prefix: str) -> None:
        """Revoke a key by its public prefix (shown in the dashboard)."""
        self._by_prefix[prefix].revoked_at = time.time()

    def stale_keys(self, *, now: float | None = None) -> list[StoredKey]:
        """Keys unused for 180 days: flagged in the security dashboard."""
        current = time.time() if now is None else now
        return [
            k for k in self._by_prefix.values()
            if k.revoked_at is None and current - (k.last_used_at or k.created_at) > STALE_AFTER_SECONDS
        ]
