"""Sending large values to S3: boto3's transfer settings and the streaming upload.

A streamed write (``S3.open_write``) buffers the first :data:`MULTIPART_THRESHOLD`
bytes; past that, a background thread runs boto3's ``upload_fileobj`` on a bounded pipe
the caller writes into, as a multipart upload that S3 shows only once it is complete.

May import: conveyor (exceptions), the sibling ``streams``; boto3 lazily.
"""

from __future__ import annotations

import functools
import io
import logging
import threading
from typing import TYPE_CHECKING, Any

from conveyor_storage_s3.streams import Pipe, PipeAborted

if TYPE_CHECKING:
    from conveyor_storage_s3.s3 import S3

log = logging.getLogger("conveyor.storage.s3")

#: What boto3 raises for a failed call (turned into StorageError by ``S3._fail``).
@functools.cache
def s3_errors() -> tuple[type[BaseException], ...]:
    """The exceptions boto3 and botocore raise; imported on first need, since importing
    boto3 costs a quarter of a second and plugins are loaded by every conveyor process."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, Boto3Error)

MiB = 1 << 20
#: Values at least this large are uploaded in parts (S3's minimum part size is 5 MiB).
MULTIPART_THRESHOLD = 8 * MiB
#: Size of one part of a multipart upload.
CHUNK_SIZE = 8 * MiB
#: Parts uploaded at once by one transfer.
TRANSFER_CONCURRENCY = 4
#: Parts held in memory at once by one streaming upload (boto3 waits beyond this).
MAX_IN_MEMORY_CHUNKS = 4
#: The largest object ``CopyObject`` copies in one request (S3's limit).
MAX_COPY_OBJECT = 5 << 30
#: Read buffer of ``open_read``.
READ_BUFFER = 1 * MiB


def transfer_config() -> Any:
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=MULTIPART_THRESHOLD,
        multipart_chunksize=CHUNK_SIZE,
        max_concurrency=TRANSFER_CONCURRENCY,
        use_threads=True,
    )
    # Not a keyword of boto3's TransferConfig, but an attribute of s3transfer's (its base).
    config.max_in_memory_upload_chunks = MAX_IN_MEMORY_CHUNKS
    return config


class StreamingUpload(io.RawIOBase):
    """The writable of ``S3.open_write``.

    Buffers up to ``MULTIPART_THRESHOLD`` bytes; a value that ends below it is sent in
    one PUT by :meth:`finish`. Past it, a thread runs ``upload_fileobj`` on a
    :class:`~conveyor_storage_s3.streams.Pipe` and writes go into the pipe.
    """

    def __init__(self, block: S3, key: str, metadata: dict[str, str] | None = None) -> None:
        self._block = block
        self._key = key
        self._metadata = metadata
        self._started_with: dict[str, str] = {}
        self._buffer = bytearray()
        self._pipe: Pipe | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.bytes_written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("write to a closed S3 stream")
        view = memoryview(data).cast("B")
        n = len(view)
        self.bytes_written += n
        if self._pipe is None:
            if len(self._buffer) + n < MULTIPART_THRESHOLD:
                self._buffer += view
                return n
            self._start()  # hands the buffered bytes to the pipe
            assert self._pipe is not None
        # A huge single write (pickle hands over large buffers whole) is not copied
        # whole: the pipe takes it piece by piece as the upload makes room.
        self._pipe.write(view)
        return n

    def _start(self) -> None:
        client = self._block.client()
        config = transfer_config()
        pipe = Pipe(capacity=max(MULTIPART_THRESHOLD, CHUNK_SIZE))
        self._started_with = dict(self._metadata or {})
        extra = {"Metadata": self._started_with} if self._started_with else None

        def upload() -> None:
            try:
                client.upload_fileobj(
                    pipe, self._block.bucket, self._key, Config=config, ExtraArgs=extra
                )
            except BaseException as exc:  # noqa: BLE001 - reported to the writer by finish()/write()
                self._error = exc
                pipe.break_(exc)

        self._thread = threading.Thread(
            target=upload, name=f"conveyor-s3-upload:{self._key}", daemon=True
        )
        self._thread.start()
        self._pipe = pipe
        buffered, self._buffer = self._buffer, bytearray()
        pipe.write(buffered)

    def finish(self) -> None:
        """The with-block ended cleanly: complete the PUT or the multipart upload."""
        block, key = self._block, self._key
        super().close()
        metadata = dict(self._metadata or {})
        if self._pipe is None:
            meta = {"Metadata": metadata} if metadata else {}
            try:
                block.client().put_object(
                    Bucket=block.bucket, Key=key, Body=bytes(self._buffer), **meta
                )
            except s3_errors() as exc:
                block._fail(exc, "write", key)
            finally:
                self._buffer = bytearray()
            return
        self._pipe.close()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            block._fail(self._error, "write", key)
        log.debug("streamed %d bytes to s3://%s/%s", self.bytes_written, block.bucket, key)
        if metadata != self._started_with:
            self._complete_metadata(metadata)

    def _complete_metadata(self, metadata: dict[str, str]) -> None:
        """Give a completed multipart upload the metadata known only at its end (the
        checksum): a server-side copy onto itself, replacing the metadata."""
        block, key = self._block, self._key
        if self.bytes_written > MAX_COPY_OBJECT:
            log.debug("s3://%s/%s is over 5 GiB: its metadata stays as when it started",
                      block.bucket, key)
            return
        try:
            block.client().copy_object(
                Bucket=block.bucket, Key=key, CopySource={"Bucket": block.bucket, "Key": key},
                Metadata=metadata, MetadataDirective="REPLACE",
            )
        except s3_errors() as exc:
            block._fail(exc, "metadata copy", key)

    def abandon(self) -> BaseException | None:
        """The with-block failed: make sure nothing appears; return the upload's error."""
        super().close()
        self._buffer = bytearray()
        if self._pipe is not None:
            self._pipe.abort()
            assert self._thread is not None
            self._thread.join()
            if isinstance(self._error, PipeAborted):
                return None
        return self._error

    def close(self) -> None:
        # Closing inside the with-block is allowed and changes nothing: the value is
        # committed (or not) when the block exits.
        pass


__all__ = ["CHUNK_SIZE", "MULTIPART_THRESHOLD", "StreamingUpload", "s3_errors", "transfer_config"]
