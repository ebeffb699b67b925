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


# -- plain payloads: other tools read the objects; conveyor still checks them ------------


def _get(s3_server, block, ref: ResultReference) -> dict:
    bucket, key = object_key(block, ref.key)
    return s3_server.client().get_object(Bucket=bucket, Key=key)


def test_json_object_is_the_serializers_bytes_described_by_its_metadata(s3_block, s3_server):
    value = {"rows": [1, 2, 3], "name": "daily"}
    ref = persist_value(value, storage=s3_block, serializer=JSONSerializer(), key="reports/daily.json")
    response = _get(s3_server, s3_block, ref)
    body = response["Body"].read()
    assert body == JSONSerializer().dumps(value) and json.loads(body) == value
    meta = response["Metadata"]
    assert meta["conveyor-checksum"] == ref.checksum
    assert meta["conveyor-size"] == str(ref.size) == str(len(body))
    assert meta["conveyor-serializer"] == "json" and meta["conveyor-format"] == "2"
    assert json.loads(meta["conveyor-serializer-config"]) == ref.serializer
    # conveyor verifies the checksum of the same object: a changed byte is refused.
    assert fresh(ref).get() == value and verify(fresh(ref)).ok
    bucket, key = object_key(s3_block, ref.key)
    changed = body.replace(b"daily", b"DAILY")
    assert len(changed) == len(body)
    s3_server.client().put_object(Bucket=bucket, Key=key, Body=changed)
    with pytest.raises(CorruptResultError) as info:
        fresh(ref).get()
    assert ref.checksum in str(info.value)
    assert verify(fresh(ref)).status == "corrupt"


def test_pickle_object_loads_with_pickle(s3_block, s3_server):
    import pickle

    value = {"a": (1, 2), "b": b"\x00" * 100}
    ref = persist_value(value, storage=s3_block, serializer=PickleSerializer(picklelib="pickle"))
    response = _get(s3_server, s3_block, ref)
    assert pickle.loads(response["Body"].read()) == value
    assert response["Metadata"]["conveyor-checksum"] == ref.checksum
    assert response["Metadata"]["conveyor-serializer"] == "pickle"


def test_multipart_object_gets_its_checksum_in_metadata_too(s3_block, s3_server):
    import blake3

    value = os.urandom(9 << 20)  # past the 8 MiB single-PUT threshold: a multipart upload
    ref = persist_value(value, storage=s3_block, serializer=PickleSerializer(picklelib="pickle"),
                        metadata={"flow-run": "run-1", "task-run": "task-1"})
    response = _get(s3_server, s3_block, ref)
    body = response["Body"].read()
    assert "blake3:" + blake3.blake3(body).hexdigest() == ref.checksum
    meta = response["Metadata"]
    assert meta["conveyor-checksum"] == ref.checksum and meta["conveyor-size"] == str(ref.size)
    assert meta["conveyor-flow-run"] == "run-1" and meta["conveyor-task-run"] == "task-1"
    assert fresh(ref).get() == value


def test_old_format_object_is_still_read(s3_block, s3_server):
    import sys

    old_format = sys.modules["conveyor_tests_old_format"]  # loaded by tests/conftest.py
    from conveyor.results import record_storage

    blob, record = old_format.fixture("pickle")
    s3_block.write_path(record["key"], blob)  # as the old code stored it
    document = record_storage(s3_block)
    ref = result_from_dict({**record, "storage": f"anonymous/{document}", "storage_document": document})
    assert ref.format == 1
    assert ref.get() == {"rows": (1, 2, 3), "name": "old"}
    assert verify(fresh(ref)).ok
    damaged = bytearray(blob)
    damaged[-60] ^= 1
    s3_block.write_path(record["key"], bytes(damaged))
    with pytest.raises(CorruptResultError):
        fresh(ref).get()
