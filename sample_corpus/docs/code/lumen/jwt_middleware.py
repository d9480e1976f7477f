"""JWT authentication middleware (基于 JWT 的用户鉴权) for Lumen-style Python web services (ASGI).

Every HTTP request must carry ``Authorization: Bearer <token>``. The middleware verifies the
signature (RS256 / ES256, public key chosen by the ``kid`` header from the issuer's JWKS), the time
claims with a 60 s leeway, issuer, audience and revocation, then stores the verified claims in
``scope["state"]["claims"]``. Failures are answered with Lumen error codes LMN-401-xx / LMN-403-01.

    app = JWTAuthMiddleware(app, issuer="https://auth.lumen.example.com", audience="lumen-api",
                            jwks_url="https://auth.lumen.example.com/.well-known/jwks.json")
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from .jwks_cache import AuthError, JWKSCache, b64url_decode

ALLOWED_ALGORITHMS = ("RS256", "ES256")
DEFAULT_LEEWAY_SECONDS = 60

ASGIApp = Callable[..., Awaitable[None]]


@dataclass
class TokenVerifier:
    """Verifies a compact JWS access token and returns its claims."""

    issuer: str
    audience: str
    keys: JWKSCache
    leeway: int = DEFAULT_LEEWAY_SECONDS
    is_revoked: Callable[[str], bool] = lambda jti: False

    def verify(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """Check signature, algorithm, time claims, issuer, audience and revocation, in that order."""
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = json.loads(b64url_decode(header_b64))
            claims = json.loads(b64url_decode(payload_b64))
        except ValueError:
            raise AuthError("LMN-401-02", "token is not a well-formed JWT") from None

        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:  # rejects "none" and HS256 confusion attacks
            raise AuthError("LMN-401-02", f"algorithm {alg!r} is not allowed")
        key = self.keys.get(header.get("kid", ""))
        signing_input = f"{header_b64}.{payload_b64}".encode()
        self._check_signature(alg, key, signing_input, b64url_decode(signature_b64))

        current = time.time() if now is None else now
        if current > claims.get("exp", 0) + self.leeway:
            raise AuthError("LMN-401-03", "token expired; use the refresh token to get a new one")
        if current + self.leeway < claims.get("nbf", 0):
            raise AuthError("LMN-401-03", "token is not valid yet (nbf in the future)")
        if claims.get("iss") != self.issuer:
            raise AuthError("LMN-401-04", f"issuer {claims.get('iss')!r} does not match")
        audiences = claims.get("aud")
        audiences = [audiences] if isinstance(audiences, str) else audiences or []
        if self.audience not in audiences:
            raise AuthError("LMN-401-04", f"token was not issued for audience {self.audience!r}")
        if self.is_revoked(claims.get("jti", "")):
            raise AuthError("LMN-401-05", "token has been revoked")
        return claims

    @staticmethod
    def _check_signature(alg: str, key: Any, data: bytes, signature: bytes) -> None:
        try:
            if alg == "RS256":
                key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:  # ES256: JOSE uses raw r||s, cryptography wants DER
                r = int.from_bytes(signature[:32], "big")
                s = int.from_bytes(signature[32:], "big")
                key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AuthError("LMN-401-02", "signature verification failed") from None


def bearer_token(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """Extract the token from an ``Authorization: Bearer`` header or raise LMN-401-01."""
    for name, value in headers:
        if name.lower() == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise AuthError("LMN-401-01", "missing or malformed Authorization header; expected 'Bearer <token>'")


def require_scopes(claims: dict[str, Any], *needed: str) -> None:
    """Raise LMN-403-01 unless every scope in ``needed`` was granted."""
    granted = set(str(claims.get("scope", "")).split())
    missing = [s for s in needed if s not in granted]
    if missing:
        raise AuthError("LMN-403-01", f"insufficient scope, missing: {' '.join(missing)}", status=403)


class JWTAuthMiddleware:
    """ASGI middleware: authenticate every HTTP request with a JWT bearer token."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        public_paths: tuple[str, ...] = ("/healthz", "/v2/auth/token"),
    ) -> None:
        self.app = app
        self.public_paths = public_paths
        self.verifier = TokenVerifier(issuer=issuer, audience=audience, keys=JWKSCache(jwks_url))

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["path"] in self.public_paths:
            await self.app(scope, receive, send)
            return
        try:
            claims = self.verifier.verify(bearer_token(scope.get("headers", [])))
        except AuthError as err:
            await self._reject(send, err)
            return
        scope.setdefault("state", {})["claims"] = claims
        await self.app(scope, receive, send)

    @staticmethod
    async def _reject(send: Callable, err: AuthError) -> None:
        body = json.dumps({"error": {"code": err.code, "message": str(err)}}).encode()
        error_kind = "insufficient_scope" if err.status == 403 else "invalid_token"
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", f'Bearer error="{error_kind}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
