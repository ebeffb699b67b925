"""Results on a real S3 server (SeaweedFS and moto's server mode on 127.0.0.1).

S3 bodies are not seekable, so reads go through the spooled path of the stored format.
"""

from __future__ import annotations

import json
import os

import pytest
from conveyor.exceptions import CorruptResultError, ResultNotFoundError
from conveyor.results import ResultReference, persist_value, result_from_dict, verify
from conveyor.serializers import JSONSerializer, PickleSerializer

pytestmark = pytest.mark.s3


def fresh(ref: ResultReference) -> ResultReference:
    return result_from_dict(json.loads(ref.json()))  # type: ignore[return-value]


def object_key(block, key: str) -> tuple[str, str]:
    bucket, _, prefix = block.bucket_path.partition("/")
    return bucket, f"{prefix}/{key}" if prefix else key


def test_round_trip_saved_and_anonymous(s3_block):
    anonymous = persist_value({"a": [1, 2]}, storage=s3_block, serializer=JSONSerializer())
    assert anonymous.storage.startswith("anonymous/")
    assert fresh(anonymous).get() == {"a": [1, 2]}
    slug = s3_block.save("results-test")
    saved = persist_value(
        b"x" * 1000, storage=s3_block, serializer=PickleSerializer(), storage_slug=slug
    )
    assert saved.storage == "s3/results-test"
    assert fresh(saved).get() == b"x" * 1000
    assert verify(fresh(saved)).ok
    assert (
        "secret" not in saved.json().lower() and s3_block.aws_secret_access_key not in saved.json()
    )


def test_large_value_spools_to_disk_and_round_trips(s3_block):
    value = os.urandom(40 << 20)  # above the 32 MiB in-memory spool
    ref = persist_value(value, storage=s3_block, serializer=PickleSerializer())
    assert ref.size > len(value)
    assert fresh(ref).get() == value


def test_damaged_object_is_corrupt_with_both_digests(s3_block, s3_server):
    ref = persist_value("y" * 10_000, storage=s3_block, serializer=PickleSerializer())
    client = s3_server.client()
    bucket, key = object_key(s3_block, ref.key)
    raw = bytearray(client.get_object(Bucket=bucket, Key=key)["Body"].read())
    raw[len(raw) // 2] ^= 0x40
    client.put_object(Bucket=bucket, Key=key, Body=bytes(raw))
    with pytest.raises(CorruptResultError) as info:
        fresh(ref).get()
    assert ref.checksum in str(info.value) and ref.key in str(info.value)
    client.put_object(Bucket=bucket, Key=key, Body=bytes(raw[:-10]))
    with pytest.raises(CorruptResultError, match="truncated"):
        fresh(ref).get()
    assert not verify(fresh(ref)).ok


def test_missing_object(s3_block, s3_server):
    ref = persist_value(1.25, storage=s3_block, serializer=PickleSerializer())
    bucket, key = object_key(s3_block, ref.key)
    s3_server.client().delete_object(Bucket=bucket, Key=key)
    with pytest.raises(ResultNotFoundError) as info:
        fresh(ref).get()
    assert ref.key in str(info.value)
