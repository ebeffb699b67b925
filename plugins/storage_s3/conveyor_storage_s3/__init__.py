"""Amazon S3 (and S3-compatible) storage for conveyor results, on boto3."""

from conveyor_storage_s3.s3 import S3

__all__ = ["S3"]
