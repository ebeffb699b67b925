"""Turn botocore's exceptions into one-line conveyor errors that never carry a secret."""

from __future__ import annotations

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
) -> StorageError:
    """Build the StorageError for a failed S3 call (the caller raises it ``from exc``)."""
    from botocore import exceptions as bce

    where = f"bucket {bucket!r} at endpoint {endpoint}"
    code = error_code(exc)
    if isinstance(exc, bce.NoCredentialsError | bce.PartialCredentialsError):
        message = (
            f"S3 {action} of {location} failed: no AWS credentials found for {where}; pass "
            f"aws_access_key_id and aws_secret_access_key to the block, or configure boto3's "
            f"usual credential chain (AWS_ACCESS_KEY_ID, ~/.aws/credentials, an instance role)"
        )
    elif isinstance(
        exc,
        bce.EndpointConnectionError
        | bce.ConnectTimeoutError
        | bce.ConnectionClosedError
        | bce.ReadTimeoutError,
    ):
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
        text = _message(exc)
        if text:
            detail += f": {text}"
        message = f"S3 {action} of {location} failed on {where}: {detail}"
    return StorageError(scrub(message, secrets))


def _message(exc: BaseException) -> str:
    response: Any = getattr(exc, "response", None)
    if response:
        return str(response.get("Error", {}).get("Message", ""))
    return str(exc)


def scrub(text: str, secrets: tuple[str | None, ...]) -> str:
    """One line, with every secret replaced by ``********``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "********")
    return " ".join(text.split())
