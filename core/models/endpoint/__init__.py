"""OpenAI-compatible embedding endpoints: the name format, the hardened HTTP transport, batching, server pools
(cross-checked before their vectors are mixed) and checks."""

from __future__ import annotations

from core.models.endpoint.check import config_check, local_reference, test_connection
from core.models.endpoint.client import DEFAULT_TIMEOUT, EndpointEmbedder, endpoint_spec
from core.models.endpoint.crosscheck import POOL_AGREEMENT, PoolDisagreement
from core.models.endpoint.http import (
    HttpStatusError,
    JsonHttp,
    Secret,
    ServerUnavailable,
    TransientAnswerError,
    seconds_text,
)
from core.models.endpoint.pool import server_summary
from core.models.endpoint.response import error_message, path_hint
from core.models.endpoint.spec import (
    endpoint_name,
    is_endpoint_name,
    parse_endpoint_name,
    server_identity,
    split_base_urls,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "POOL_AGREEMENT",
    "PoolDisagreement",
    "EndpointEmbedder",
    "HttpStatusError",
    "JsonHttp",
    "Secret",
    "ServerUnavailable",
    "TransientAnswerError",
    "config_check",
    "endpoint_name",
    "endpoint_spec",
    "error_message",
    "path_hint",
    "seconds_text",
    "server_identity",
    "split_base_urls",
    "is_endpoint_name",
    "parse_endpoint_name",
    "local_reference",
    "server_summary",
    "test_connection",
]
