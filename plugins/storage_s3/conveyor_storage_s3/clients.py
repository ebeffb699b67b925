"""One boto3 client per block configuration, shared by every block with that configuration.

boto3 clients are thread-safe and expensive to build (endpoint resolution, credential
lookup, a connection pool), so blocks ask :func:`get_client` instead of building their
own. The cache is keyed by the process id too: a client must not cross a ``fork``.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import attrs

#: Defaults of the ``S3`` block's ``connect_timeout``, ``read_timeout`` and ``max_attempts``:
#: an endpoint that cannot be reached fails within ``max_attempts * connect_timeout``, one
#: that accepts the connection and never answers within ``max_attempts * read_timeout``
#: (plus botocore's backoff, under a second), so a small write fails in about 10 s.
CONNECT_TIMEOUT = 2.0
#: Per socket read, not per transfer: a slowly streaming large object is fine, a silent
#: server is not.
READ_TIMEOUT = 5.0
#: Attempts per request, including the first (botocore's "standard" retry mode).
MAX_ATTEMPTS = 2
#: Connections per client; one large transfer uses up to TRANSFER_CONCURRENCY of them.
MAX_POOL_CONNECTIONS = 16


@attrs.frozen
class ClientKey:
    """What makes two blocks share a client. Secrets are in it but never shown."""

    aws_access_key_id: str | None = attrs.field(repr=False)
    aws_secret_access_key: str | None = attrs.field(repr=False)
    endpoint_url: str | None
    region_name: str | None
    connect_timeout: float = CONNECT_TIMEOUT
    read_timeout: float = READ_TIMEOUT
    max_attempts: int = MAX_ATTEMPTS
    pid: int = attrs.field(factory=os.getpid)


_clients: dict[ClientKey, Any] = {}
_lock = threading.Lock()


def get_client(key: ClientKey) -> Any:
    """The boto3 S3 client for ``key``, built once per process."""
    client = _clients.get(key)
    if client is not None:
        return client
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = _build(key)
        return client


def _build(key: ClientKey) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=key.connect_timeout,
        read_timeout=key.read_timeout,
        # total_max_attempts counts the first try; botocore's max_attempts would count retries.
        retries={"total_max_attempts": key.max_attempts, "mode": "standard"},
        max_pool_connections=MAX_POOL_CONNECTIONS,
        # Send a checksum only when the operation needs one: some S3-compatible
        # servers refuse the trailing checksums newer boto3 adds by default.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session per client: sessions are not thread-safe, clients are.
    session = boto3.session.Session()
    return session.client(
        "s3",
        aws_access_key_id=key.aws_access_key_id,
        aws_secret_access_key=key.aws_secret_access_key,
        endpoint_url=key.endpoint_url,
        region_name=key.region_name,
        config=config,
    )


def clear_clients() -> None:
    """Forget every cached client (tests; after changing AWS environment variables)."""
    with _lock:
        _clients.clear()


def cached_client_count() -> int:
    return len(_clients)
