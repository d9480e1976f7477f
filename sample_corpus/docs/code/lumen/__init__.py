"""Reference modules for integrating with the Lumen API (sample code, not the official SDK).

Modules:
    jwt_middleware  ASGI middleware: verify ``Authorization: Bearer`` JWTs (RS256/ES256) and scopes
    jwks_cache      fetch and cache the issuer's JWKS public keys, refetch on unknown ``kid``
    api_key_store   create, hash, authenticate and revoke ``lk_live_`` / ``lk_test_`` API keys
    rate_limiter    per-key token bucket with X-RateLimit-* and Retry-After headers (429 LMN-429-01)
    retry_client    HTTP client with exponential backoff, full jitter and idempotency keys
    pagination      signed, expiring cursors and keyset pagination helpers
    webhook_verify  ``Lumen-Signature`` HMAC verification with replay protection
    config_loader   layered configuration: defaults, YAML/JSON file, ``LUMEN__`` env vars, overrides
    text_chunker    heading-aware chunking with exact character spans
    hybrid_search   reciprocal rank fusion, linear fusion and Matryoshka truncation
"""

__version__ = "2.3.0"
