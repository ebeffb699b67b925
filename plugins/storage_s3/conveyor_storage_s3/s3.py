"""``S3``: results in an Amazon S3 (or S3-compatible) bucket, through boto3.

Writing
    A value smaller than :data:`MULTIPART_THRESHOLD` is sent in one ``PutObject``. A
    larger one goes through boto3's transfer manager (``upload_fileobj``) as a multipart
    upload, which S3 makes visible only when it is completed: a reader never sees half
    a value. ``open_write`` streams: the first :data:`MULTIPART_THRESHOLD` bytes are
    buffered (so a small value is still one PUT, with no thread); past that, a
    background thread runs ``upload_fileobj`` on a bounded pipe the caller writes into.
    Memory stays below about ``(MAX_IN_MEMORY_CHUNKS + 2) * CHUNK_SIZE`` whatever the
    value's size. An exception inside the ``with`` block aborts the multipart upload.

Object metadata
    ``write_path`` and ``open_write`` take ``metadata`` (text → text), stored as the
    object's user metadata (``x-amz-meta-<name>``): conveyor passes its description of a
    result there (``conveyor-checksum``, ``conveyor-size``, ``conveyor-serializer``,
    ``conveyor-format``...). ``open_write`` reads the dict when it commits, so entries
    added inside the ``with`` block (the checksum, known only at the end) are stored: in
    the PUT of a small value; for a multipart upload (whose metadata S3 takes when it
    starts) by a server-side copy of the object onto itself with the full metadata once
    it is complete (up to 5 GiB; a larger object keeps what was known at the start).

Reading
    ``read_path`` is one ``GetObject``; ``open_read`` yields a buffered reader over the
    streaming body, so a large value is never held in memory whole.

Waiting
    Every request is bounded: ``connect_timeout`` (default 2 s) to connect,
    ``read_timeout`` (default 5 s) per socket read, ``max_attempts`` (default 2) tries.
    An endpoint that accepts connections and never answers fails a small write in about
    ``max_attempts * read_timeout``; all three are fields of the block.

Errors
    A missing key is :class:`~conveyor.exceptions.ResultNotFoundError`; every other
    failure (missing bucket, refused credentials, unreachable or silent endpoint) is a
    one-line :class:`~conveyor.exceptions.StorageError` naming the bucket and endpoint.
    Secrets are never in ``repr``, ``str``, logs or messages.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import Any, BinaryIO, ClassVar, NoReturn

import attrs
from conveyor.exceptions import InvalidKeyError, ResultNotFoundError, StorageError
from conveyor.filesystems import StorageBlock, normalize_key, secret_field

from conveyor_storage_s3 import clients
from conveyor_storage_s3.clients import CONNECT_TIMEOUT, MAX_ATTEMPTS, READ_TIMEOUT
from conveyor_storage_s3.errors import is_missing_key, storage_error
from conveyor_storage_s3.streams import BodyReader, PipeBroken

log = logging.getLogger("conveyor.storage.s3")

from conveyor_storage_s3.transfer import (  # noqa: F401 - MULTIPART_THRESHOLD is part of the API
    CHUNK_SIZE,
    MAX_COPY_OBJECT,
    MAX_IN_MEMORY_CHUNKS,
    MULTIPART_THRESHOLD,
    READ_BUFFER,
    TRANSFER_CONCURRENCY,
    StreamingUpload,
    s3_errors,
    transfer_config,
)


def _check_bucket_path(_self: Any, _attribute: Any, value: str) -> None:
    problem = None
    if not isinstance(value, str) or not value.strip("/ "):
        problem = "is empty"
    elif value.startswith("s3://"):
        problem = "starts with 's3://'"
    elif value.startswith("/"):
        problem = "starts with '/'"
    else:
        bucket, _, prefix = value.partition("/")
        if not 3 <= len(bucket) <= 63:
            problem = f"names bucket {bucket!r}, but bucket names have 3 to 63 characters"
        elif prefix.strip("/"):
            try:
                normalize_key(prefix)
            except InvalidKeyError:
                problem = f"has a prefix {prefix!r} that is absolute or climbs out with '..'"
    if problem:
        raise StorageError(
            f"S3 bucket_path {value!r} {problem}; give 'bucket' or 'bucket/prefix', "
            f"e.g. S3(bucket_path='my-results/prod')"
        )


def _check_seconds(_self: Any, attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise StorageError(
            f"S3 {attribute.name}={value!r} must be a number of seconds above 0 (at most "
            f"3600), e.g. S3(..., {attribute.name}=10)"
        )


def _check_attempts(_self: Any, _attribute: Any, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 20:
        raise StorageError(
            f"S3 max_attempts={value!r} must be a whole number of tries from 1 to 20 "
            f"(the first one included), e.g. S3(..., max_attempts=3)"
        )


@attrs.frozen
class S3(StorageBlock):
    """Store results under ``bucket_path`` (``"bucket"`` or ``"bucket/prefix"``).

    :param bucket_path: ``"bucket"`` or ``"bucket/prefix"``; keys go below the prefix.
    :param aws_access_key_id: access key id; default: boto3's credential chain.
    :param aws_secret_access_key: secret access key; default: boto3's credential chain.
    :param endpoint_url: an S3-compatible server (SeaweedFS, MinIO, moto...); default AWS.
    :param region_name: the bucket's region; default boto3's.
    :param connect_timeout: seconds to wait for a connection to the endpoint.
    :param read_timeout: seconds to wait for each socket read (a silent server fails
        after this, per try).
    :param max_attempts: tries of each request, the first included.

    Credentials default to boto3's usual chain (environment, ``~/.aws``, instance
    role) when ``aws_access_key_id`` / ``aws_secret_access_key`` are not given.
    """

    block_type: ClassVar[str] = "s3"

    bucket_path: str = attrs.field(validator=_check_bucket_path)
    aws_access_key_id: str | None = secret_field(default=None)
    aws_secret_access_key: str | None = secret_field(default=None)
    endpoint_url: str | None = None
    region_name: str | None = None
    connect_timeout: float = attrs.field(default=CONNECT_TIMEOUT, validator=_check_seconds)
    read_timeout: float = attrs.field(default=READ_TIMEOUT, validator=_check_seconds)
    max_attempts: int = attrs.field(default=MAX_ATTEMPTS, validator=_check_attempts)

    # -- where things are --------------------------------------------------------------

    @property
    def bucket(self) -> str:
        return self.bucket_path.split("/", 1)[0]

    @property
    def prefix(self) -> str:
        """The key prefix inside the bucket, without slashes at either end ('' if none)."""
        parts = self.bucket_path.split("/", 1)
        return normalize_key(parts[1]) if len(parts) > 1 and parts[1].strip("/") else ""

    def object_key(self, path: str) -> str:
        """The S3 object key of ``path`` (checked with :func:`normalize_key`)."""
        key = normalize_key(path, block=self)
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, path: str) -> str:
        """``s3://<bucket>/<prefix>/<key>``: the object's full address."""
        return f"s3://{self.bucket}/{self.object_key(path)}"

    def describe(self, path: str | None = None) -> str:
        if path is None:
            return f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return f"s3://{self.bucket}/{self.object_key(path)}"

    @property
    def endpoint(self) -> str:
        """The endpoint requests go to, for messages (boto3's default when not set)."""
        if self.endpoint_url:
            return self.endpoint_url
        try:
            return str(self.client().meta.endpoint_url)
        except s3_errors():
            return "the default AWS endpoint"

    # -- the client --------------------------------------------------------------------

    def client(self) -> Any:
        """The boto3 S3 client shared by every block with this configuration."""
        return clients.get_client(
            clients.ClientKey(
                aws_access_key_id=self.aws_access_key_id,
                aws_secret_access_key=self.aws_secret_access_key,
                endpoint_url=self.endpoint_url,
                region_name=self.region_name,
                connect_timeout=float(self.connect_timeout),
                read_timeout=float(self.read_timeout),
                max_attempts=self.max_attempts,
            )
        )

    def _fail(self, exc: BaseException, action: str, key: str | None) -> NoReturn:
        location = f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"
        error = storage_error(
            exc,
            action=action,
            bucket=self.bucket,
            endpoint=self.endpoint,
            location=location,
            secrets=(self.aws_secret_access_key, self.aws_access_key_id),
            waits=(float(self.connect_timeout), float(self.read_timeout), self.max_attempts),
        )
        raise error from exc

    def _missing(self, path: str, key: str) -> ResultNotFoundError:
        return ResultNotFoundError(
            f"{self!r} has no key {path!r}: s3://{self.bucket}/{key} does not exist at "
            f"{self.endpoint}; check the key and the block's bucket_path"
        )

    # -- writing -----------------------------------------------------------------------

    def write_path(
        self, path: str, content: bytes, metadata: dict[str, str] | None = None
    ) -> str:
        """One PUT for a small value; a multipart upload (bounded memory) for a large one.

        ``metadata`` becomes the object's user metadata."""
        key = self.object_key(path)
        client = self.client()
        log.debug("writing %d bytes to s3://%s/%s", len(content), self.bucket, key)
        meta = {"Metadata": dict(metadata)} if metadata else {}
        try:
            if len(content) < MULTIPART_THRESHOLD:
                client.put_object(Bucket=self.bucket, Key=key, Body=content, **meta)
            else:
                client.upload_fileobj(
                    io.BytesIO(content), self.bucket, key, Config=transfer_config(),
                    ExtraArgs=meta or None,
                )
        except s3_errors() as exc:
            self._fail(exc, "write", key)
        return f"s3://{self.bucket}/{key}"

    @contextlib.contextmanager
    def open_write(
        self, path: str, *, metadata: dict[str, str] | None = None
    ) -> Iterator[BinaryIO]:
        """Stream a value to ``path``; it appears only when the block exits cleanly.

        ``metadata`` (read when the block exits) becomes the object's user metadata."""
        key = self.object_key(path)
        writer = StreamingUpload(self, key, metadata)
        try:
            yield writer  # type: ignore[misc]
        except BaseException as exc:
            upload_error = writer.abandon()
            if isinstance(exc, PipeBroken) and upload_error is not None:
                self._fail(upload_error, "write", key)
            raise
        writer.finish()

    # -- reading -----------------------------------------------------------------------

    def _get(self, path: str) -> tuple[str, Any]:
        key = self.object_key(path)
        client = self.client()
        try:
            return key, client.get_object(Bucket=self.bucket, Key=key)
        except s3_errors() as exc:
            if is_missing_key(exc):
                raise self._missing(path, key) from None
            self._fail(exc, "read", key)

    def read_path(self, path: str) -> bytes:
        key, response = self._get(path)
        try:
            with contextlib.closing(response["Body"]) as body:
                return bytes(body.read())
        except s3_errors() as exc:
            self._fail(exc, "read", key)

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[BinaryIO]:
        """A buffered reader over the object's body (``read(n)``, ``readinto``, ``readline``)."""
        _key, response = self._get(path)
        reader = io.BufferedReader(BodyReader(response["Body"]), buffer_size=READ_BUFFER)
        with reader:
            yield reader  # type: ignore[misc]

    def exists(self, path: str) -> bool:
        key = self.object_key(path)
        client = self.client()
        try:
            client.head_object(Bucket=self.bucket, Key=key)
            return True
        except s3_errors() as exc:
            if not is_missing_key(exc):
                self._fail(exc, "check", key)
        # HEAD says 404 both for a missing key and for a missing bucket: tell them apart.
        try:
            client.head_bucket(Bucket=self.bucket)
        except s3_errors() as exc:
            if is_missing_key(exc):
                from botocore.exceptions import ClientError

                exc = ClientError({"Error": {"Code": "NoSuchBucket", "Message": ""}}, "HeadBucket")
            self._fail(exc, "check", key)
        return False

    def delete_path(self, path: str) -> None:
        """Remove ``path``; a key that does not exist is not an error."""
        key = self.object_key(path)
        try:
            self.client().delete_object(Bucket=self.bucket, Key=key)
        except s3_errors() as exc:
            self._fail(exc, "delete", key)

    def list_paths(self, prefix: str = "") -> Iterator[str]:
        """Keys under the block's prefix that start with ``prefix`` (ListObjectsV2, by pages)."""
        base = f"{self.prefix}/" if self.prefix else ""
        pages = self.client().get_paginator("list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=base + prefix):
                for item in page.get("Contents", ()):
                    yield item["Key"][len(base):]
        except s3_errors() as exc:
            self._fail(exc, "list", base + prefix)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (handy for tests and local servers)."""
        client = self.client()
        try:
            client.head_bucket(Bucket=self.bucket)
            return
        except s3_errors() as exc:
            if not is_missing_key(exc):
                self._fail(exc, "check", None)
        try:
            client.create_bucket(Bucket=self.bucket)
        except s3_errors() as exc:
            if "BucketAlreadyOwnedByYou" not in str(exc):
                self._fail(exc, "create", None)
