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

#: Short enough that an unreachable endpoint fails within a few seconds.
CONNECT_TIMEOUT = 2.0
#: Per socket read, not per transfer: a slow large object is fine, a dead server is not.
READ_TIMEOUT = 60.0
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
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
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
