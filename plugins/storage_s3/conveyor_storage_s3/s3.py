"""``S3``: results in an Amazon S3 (or S3-compatible) bucket, through boto3."""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from conveyor.exceptions import ResultNotFoundError
from conveyor.filesystems import StorageBlock, normalize_key, secret_field


@attrs.frozen
class S3(StorageBlock):
    """Store results under ``bucket_path`` (``"bucket"`` or ``"bucket/prefix"``)."""

    block_type: ClassVar[str] = "s3"

    bucket_path: str
    aws_access_key_id: str | None = secret_field(default=None)
    aws_secret_access_key: str | None = secret_field(default=None)
    endpoint_url: str | None = None
    region_name: str | None = None

    @property
    def bucket(self) -> str:
        return self.bucket_path.split("/", 1)[0]

    @property
    def prefix(self) -> str:
        parts = self.bucket_path.split("/", 1)
        return parts[1].strip("/") if len(parts) > 1 else ""

    def _key(self, path: str) -> str:
        key = normalize_key(path, block=self)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
        )

    def write_path(self, path: str, content: bytes) -> str:
        key = self._key(path)
        self._client().put_object(Bucket=self.bucket, Key=key, Body=content)
        return f"s3://{self.bucket}/{key}"

    def read_path(self, path: str) -> bytes:
        key = self._key(path)
        client = self._client()
        try:
            return client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            raise ResultNotFoundError(f"{self!r} has no key {path!r} (s3://{self.bucket}/{key})") from None
