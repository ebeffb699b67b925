"""Turn botocore's exceptions into one-line conveyor errors that never carry a secret.

Only the text that comes from botocore or the server can hold a secret; it is scrubbed
of the block's secret values where they appear as values (whole tokens), never as
substrings of other words: with a secret ``a``, ``failed: cannot`` stays as it is.
"""

from __future__ import annotations

import re
from typing import Any

from conveyor.exceptions import StorageError

_CREDENTIAL_CODES = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "ExpiredToken",
    "InvalidToken",
    "InvalidClientTokenId",
    "AuthorizationHeaderMalformed",
    "403",
    "Forbidden",
}
_MISSING_BUCKET_CODES = {"NoSuchBucket"}


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def is_missing_key(exc: BaseException) -> bool:
    return error_code(exc) in ("NoSuchKey", "404", "NotFound")


def storage_error(
    exc: BaseException,
    *,
    action: str,
    bucket: str,
    endpoint: str,
    location: str,
    secrets: tuple[str | None, ...] = (),
    waits: tuple[float, float, int] | None = None,
) -> StorageError:
    """Build the StorageError for a failed S3 call (the caller raises it ``from exc``).

    ``waits`` is the block's ``(connect_timeout, read_timeout, max_attempts)``, named in
    the message of a timeout.
    """
    from botocore import exceptions as bce

    where = f"bucket {bucket!r} at endpoint {endpoint}"
    code = error_code(exc)
    connect, read, attempts = waits or (None, None, None)
    tries = f" ({attempts} tries)" if attempts else ""
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        message = (
            f"S3 {action} of {location} failed: no AWS credentials found for {where}; pass "
            f"aws_access_key_id and aws_secret_access_key to the block, or configure boto3's "
            f"usual credential chain (AWS_ACCESS_KEY_ID, ~/.aws/credentials, an instance role)"
        )
    elif isinstance(exc, bce.ReadTimeoutError):
        limit = f" within read_timeout={read:g} s" if read else ""
        message = (
            f"S3 {action} of {location} failed: {where} accepted the connection but did not "
            f"answer{limit}{tries}; check that the server behind endpoint_url is healthy, or "
            f"give the block a longer read_timeout"
        )
    elif isinstance(exc, bce.ConnectTimeoutError):
        limit = f" within connect_timeout={connect:g} s" if connect else ""
        message = (
            f"S3 {action} of {location} failed: cannot reach {where}: no connection{limit}"
            f"{tries}; check endpoint_url and the network (or give a longer connect_timeout)"
        )
    elif isinstance(exc, bce.EndpointConnectionError | bce.ConnectionClosedError):
        message = (
            f"S3 {action} of {location} failed: cannot reach {where} ({type(exc).__name__}); "
            f"check endpoint_url and that the server is running"
        )
    elif code in _MISSING_BUCKET_CODES:
        message = (
            f"S3 {action} of {location} failed: {where} does not exist; create the bucket "
            f"or fix the block's bucket_path"
        )
    elif code in _CREDENTIAL_CODES:
        message = (
            f"S3 {action} of {location} failed: {where} refused the credentials ({code}); "
            f"check aws_access_key_id / aws_secret_access_key (or the AWS credential chain) "
            f"and the bucket's permissions"
        )
    else:
        detail = code or type(exc).__name__
        text = scrub(_message(exc), secrets)  # the server's words: they might quote a secret
        if text:
            detail += f": {text}"
        message = f"S3 {action} of {location} failed on {where}: {detail}"
    return StorageError(" ".join(message.split()))


def _message(exc: BaseException) -> str:
    response: Any = getattr(exc, "response", None)
    if response:
        return str(response.get("Error", {}).get("Message", ""))
    return str(exc)


#: A secret is masked where it is not part of a longer word: not right after or before one
#: of these (so ``Credential=AKID/...`` is masked, the ``a`` of ``cannot`` is not).
_TOKEN = r"A-Za-z0-9"


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """One line, with every secret value replaced by ``********`` where it appears as a
    value (a whole token), never inside other words."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        pattern = rf"(?<![{_TOKEN}]){re.escape(secret)}(?![{_TOKEN}])"
        text = re.sub(pattern, "********", text)
    return " ".join(text.split())
