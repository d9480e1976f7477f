"""JWKS cache: fetch the token issuer's public signing keys and pick one by ``kid``.

Lumen rotates its JWT signing keys every 90 days and publishes a new key in the JWKS a week before
first use, so verifiers must select the key by the token's ``kid`` header and refetch the JWKS when
they meet an unknown ``kid`` (密钥轮换后遇到未知 kid 必须重新拉取 JWKS，否则会出现 LMN-401-02).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, rsa

JWKS_CACHE_SECONDS = 3600


class AuthError(Exception):
    """A verification failure that maps to one Lumen error code."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def b64url_decode(segment: str) -> bytes:
    """Decode base64url without padding, as used by JWT segments."""
    padding_needed = -len(segment) % 4
    return base64.urlsafe_b64decode(segment + "=" * padding_needed)


def _int_from_b64(value: str) -> int:
    return int.from_bytes(b64url_decode(value), "big")


@dataclass
class JWKSCache:
    """Fetches and caches the issuer's public keys, refreshing on an unknown ``kid``."""

    url: str
    ttl: float = JWKS_CACHE_SECONDS
    _keys: dict[str, Any] = field(default_factory=dict)
    _fetched_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, kid: str) -> Any:
        """Return the public key for ``kid``; refetch once if it is unknown or the cache is stale."""
        fresh = time.monotonic() - self._fetched_at < self.ttl
        if kid not in self._keys or not fresh:
            self._refresh()
        try:
            return self._keys[kid]
        except KeyError:
            raise AuthError("LMN-401-02", f"unknown signing key id {kid!r}") from None

    def _refresh(self) -> None:
        with self._lock:
            with urllib.request.urlopen(self.url, timeout=5) as resp:  # noqa: S310 (trusted issuer URL)
                document = json.load(resp)
            self._keys = {jwk["kid"]: self._load_key(jwk) for jwk in document.get("keys", [])}
            self._fetched_at = time.monotonic()

    @staticmethod
    def _load_key(jwk: dict[str, str]) -> Any:
        if jwk["kty"] == "RSA":
            numbers = rsa.RSAPublicNumbers(e=_int_from_b64(jwk["e"]), n=_int_from_b64(jwk["n"]))
            return numbers.public_key()
        if jwk["kty"] == "EC" and jwk.get("crv") == "P-256":
            numbers = ec.EllipticCurvePublicNumbers(
                x=_int_from_b64(jwk["x"]), y=_int_from_b64(jwk["y"]), curve=ec.SECP256R1()
            )
            return numbers.public_key()
        raise ValueError(f"unsupported JWK type {jwk.get('kty')!r}")
