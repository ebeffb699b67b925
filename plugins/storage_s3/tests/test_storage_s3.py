"""S3 specifics beyond the conformance suite, against real servers on 127.0.0.1.

``s3_server`` / ``s3_bucket`` run a test on SeaweedFS and on moto's server mode;
``seaweedfs_*`` fixtures are used where only SeaweedFS behaves like AWS (it checks
credentials; moto accepts any).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import tracemalloc

import attrs
import pytest
from conveyor.exceptions import ResultNotFoundError, StorageError
from conveyor.filesystems import S3
from conveyor_storage_s3 import clients
from conveyor_storage_s3.s3 import MULTIPART_THRESHOLD
from conveyor_storage_s3.testing import S3Server

MiB = 1 << 20


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def etag(server: S3Server, bucket: str, key: str) -> str:
    return str(server.client().head_object(Bucket=bucket, Key=key)["ETag"]).strip('"')


def assert_clean_error(
    error: BaseException, *, bucket: str, endpoint: str, secrets: list[str]
) -> None:
    message = str(error)
    assert "\n" not in message
    assert bucket in message
    assert endpoint in message
    full = "".join(traceback.format_exception(error))
    for secret in secrets:
        assert secret not in message
        assert secret not in full


# -- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bucket_path",
    ["", "/", "s3://bucket/x", "/bucket", "ab", "b" * 64, "bucket/../up", "bucket//abs/../../x"],
)
def test_bad_bucket_path(bucket_path: str) -> None:
    with pytest.raises(StorageError, match="bucket_path"):
        S3(bucket_path=bucket_path)


def test_prefix_and_keys() -> None:
    assert S3(bucket_path="bucket").object_key("a/b") == "a/b"
    assert S3(bucket_path="bucket/").object_key("a") == "a"
    assert S3(bucket_path="bucket/pre/fix/").object_key("./a//b") == "pre/fix/a/b"
    assert S3(bucket_path="bucket/pre").describe("k") == "s3://bucket/pre/k"
    assert S3(bucket_path="bucket/pre").describe() == "s3://bucket/pre"


def test_secrets_hidden_from_repr_str_and_public_config() -> None:
    block = S3(
        bucket_path="bucket", aws_access_key_id="AKIDHIDDEN", aws_secret_access_key="SECRETHIDDEN"
    )
    for text in (repr(block), str(block), block.describe("k"), str(block.public_config())):
        assert "AKIDHIDDEN" not in text and "SECRETHIDDEN" not in text
    assert block.config()["aws_secret_access_key"] == "SECRETHIDDEN"  # the store needs it


# -- the client cache -------------------------------------------------------------------------


def test_one_client_per_configuration() -> None:
    clients.clear_clients()
    a = S3(bucket_path="bucket-a", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    same = S3(
        bucket_path="bucket-b/other-prefix",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
    )
    other = attrs.evolve(a, aws_access_key_id="x", aws_secret_access_key="y")
    assert a.client() is a.client()
    assert same.client() is a.client()  # the bucket is not part of the client
    assert other.client() is not a.client()
    assert clients.cached_client_count() == 2


def test_client_cache_is_thread_safe() -> None:
    clients.clear_clients()
    block = S3(bucket_path="bucket", endpoint_url="http://127.0.0.1:9", region_name="us-east-1")
    seen: list[object] = []
    barrier = threading.Barrier(12)

    def get() -> None:
        barrier.wait()
        seen.append(block.client())

    threads = [threading.Thread(target=get) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(c) for c in seen}) == 1
    assert clients.cached_client_count() == 1


# -- PUT versus multipart ---------------------------------------------------------------------


@pytest.mark.s3
def test_small_values_are_one_put_large_ones_multipart(s3_server: S3Server, s3_bucket: str) -> None:
    block = s3_server.block(s3_bucket)
    block.write_path("small", b"x" * 1000)
    with block.open_write("small-streamed") as fh:
        fh.write(b"y" * (MULTIPART_THRESHOLD - 1))
    big = os.urandom(MULTIPART_THRESHOLD + 3 * MiB)
    block.write_path("large", big)
    with block.open_write("large-streamed") as fh:
        for start in range(0, len(big), MiB):
            fh.write(big[start : start + MiB])
    assert "-" not in etag(s3_server, s3_bucket, "small")
    assert "-" not in etag(s3_server, s3_bucket, "small-streamed")
    assert etag(s3_server, s3_bucket, "large").endswith("-2")
    assert etag(s3_server, s3_bucket, "large-streamed").endswith("-2")
    assert block.read_path("large-streamed") == big


@pytest.mark.s3
def test_one_huge_write_call_is_split(s3_server: S3Server, s3_bucket: str) -> None:
    block = s3_server.block(s3_bucket)
    big = os.urandom(3 * MULTIPART_THRESHOLD + 5)
    with block.open_write("one-call") as fh:
        assert fh.write(memoryview(big)) == len(big)
    assert block.read_path("one-call") == big


@pytest.mark.s3
def test_failed_multipart_is_aborted(s3_server: S3Server, s3_bucket: str) -> None:
    block = s3_server.block(s3_bucket)
    piece = os.urandom(MiB)
    with pytest.raises(KeyError), block.open_write("abandoned") as fh:
        for _ in range(3 * MULTIPART_THRESHOLD // MiB):
            fh.write(piece)
        raise KeyError("serializer failed")
    assert not block.exists("abandoned")
    uploads = s3_server.client().list_multipart_uploads(Bucket=s3_bucket).get("Uploads", [])
    assert uploads == []


@pytest.mark.s3
def test_streaming_write_memory_is_bounded(
    seaweedfs_server: S3Server, seaweedfs_bucket: str
) -> None:
    """Streaming 128 MiB holds far less than 128 MiB of Python objects at any time."""
    block = seaweedfs_server.block(seaweedfs_bucket)
    piece = os.urandom(MiB)
    block.client()  # build the client outside the measurement
    tracemalloc.start()
    try:
        with block.open_write("bounded") as fh:
            for _ in range(128):
                fh.write(piece)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 72 * MiB, f"peak {peak / MiB:.1f} MiB"
    head = seaweedfs_server.client().head_object(Bucket=seaweedfs_bucket, Key="bounded")
    assert head["ContentLength"] == 128 * MiB


@pytest.mark.s3
def test_one_huge_write_is_not_copied_whole(
    seaweedfs_server: S3Server, seaweedfs_bucket: str
) -> None:
    """pickle hands a large buffer over in one write(); the writer must not copy it whole."""
    block = seaweedfs_server.block(seaweedfs_bucket)
    value = os.urandom(MiB) * 96
    block.client()
    tracemalloc.start()
    try:
        with block.open_write("whole") as fh:
            fh.write(b"small header first")
            fh.write(value)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 72 * MiB, f"peak {peak / MiB:.1f} MiB"
    assert block.read_path("whole") == b"small header first" + value


@pytest.mark.s3
def test_open_read_is_a_buffered_stream(s3_server: S3Server, s3_bucket: str) -> None:
    block = s3_server.block(s3_bucket)
    block.write_path("lines", b"first\nsecond\n" + b"z" * 100)
    with block.open_read("lines") as fh:
        assert fh.readline() == b"first\n"
        buf = bytearray(3)
        assert fh.readinto(buf) == 3 and bytes(buf) == b"sec"
        assert fh.read(4) == b"ond\n"
        assert fh.read() == b"z" * 100
        assert fh.read(1) == b""


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.s3
def test_missing_bucket(s3_server: S3Server) -> None:
    block = s3_server.block("no-such-bucket-here/prefix")
    actions = {
        "read": lambda: block.read_path("k"),
        "write": lambda: block.write_path("k", b"v"),
        "exists": lambda: block.exists("k"),
        "delete": lambda: block.delete("k"),
    }
    for name, action in actions.items():
        with pytest.raises(StorageError) as info:
            action()
        assert not isinstance(info.value, ResultNotFoundError), name
        assert "does not exist" in str(info.value), name
        assert_clean_error(
            info.value,
            bucket="no-such-bucket-here",
            endpoint=s3_server.endpoint_url,
            secrets=[s3_server.aws_secret_access_key],
        )
    for size in (10, MULTIPART_THRESHOLD + MiB):
        with pytest.raises(StorageError) as info, block.open_write("k") as fh:
            fh.write(b"v" * size)
        assert "does not exist" in str(info.value)
        assert_clean_error(
            info.value,
            bucket="no-such-bucket-here",
            endpoint=s3_server.endpoint_url,
            secrets=[s3_server.aws_secret_access_key],
        )


@pytest.mark.s3
def test_wrong_credentials(
    seaweedfs_server: S3Server, seaweedfs_bucket: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="conveyor")
    wrong = "WRONG-secret-" + "q" * 20
    block = attrs.evolve(seaweedfs_server.block(seaweedfs_bucket), aws_secret_access_key=wrong)
    for action in (
        lambda: block.read_path("k"),
        lambda: block.write_path("k", b"v"),
        lambda: block.exists("k"),
    ):
        with pytest.raises(StorageError) as info:
            action()
        assert "refused the credentials" in str(info.value)
        assert_clean_error(
            info.value,
            bucket=seaweedfs_bucket,
            endpoint=seaweedfs_server.endpoint_url,
            secrets=[wrong, seaweedfs_server.aws_access_key_id],
        )
    assert wrong not in caplog.text


@pytest.mark.s3
def test_unknown_access_key(seaweedfs_server: S3Server, seaweedfs_bucket: str) -> None:
    block = attrs.evolve(
        seaweedfs_server.block(seaweedfs_bucket), aws_access_key_id="NOSUCHKEYID00"
    )
    with pytest.raises(StorageError) as info:
        block.write_path("k", b"v")
    assert "refused the credentials" in str(info.value)
    assert_clean_error(
        info.value,
        bucket=seaweedfs_bucket,
        endpoint=seaweedfs_server.endpoint_url,
        secrets=["NOSUCHKEYID00", seaweedfs_server.aws_secret_access_key],
    )


def test_unreachable_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    block = S3(
        bucket_path="some-bucket/p",
        aws_access_key_id="AKIDX",
        aws_secret_access_key="SECRETX",
        endpoint_url=endpoint,
        region_name="us-east-1",
    )
    for action in (
        lambda: block.read_path("k"),
        lambda: block.write_path("k", b"v"),
        lambda: block.exists("k"),
    ):
        with pytest.raises(StorageError) as info:
            action()
        assert "cannot reach" in str(info.value)
        assert_clean_error(
            info.value, bucket="some-bucket", endpoint=endpoint, secrets=["SECRETX", "AKIDX"]
        )


def test_no_credentials_anywhere(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for var in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/none")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    clients.clear_clients()
    try:
        endpoint = f"http://127.0.0.1:{closed_port()}"
        block = S3(bucket_path="some-bucket", endpoint_url=endpoint, region_name="us-east-1")
        with pytest.raises(StorageError) as info:
            block.write_path("k", b"v")
        assert "no AWS credentials" in str(info.value)
        assert_clean_error(info.value, bucket="some-bucket", endpoint=endpoint, secrets=[])
    finally:
        clients.clear_clients()


@pytest.mark.s3
def test_credentials_default_to_the_boto3_chain(
    seaweedfs_server: S3Server, seaweedfs_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweedfs_server.aws_access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweedfs_server.aws_secret_access_key)
    clients.clear_clients()
    try:
        block = S3(
            bucket_path=f"{seaweedfs_bucket}/env",
            endpoint_url=seaweedfs_server.endpoint_url,
            region_name="us-east-1",
        )
        block.write_path("k", b"from the environment")
        assert (
            seaweedfs_server.block(f"{seaweedfs_bucket}/env").read_path("k")
            == b"from the environment"
        )
        assert "AWS_SECRET_ACCESS_KEY" not in repr(block.config())
        assert block.config()["aws_secret_access_key"] is None  # nothing secret is saved
    finally:
        clients.clear_clients()


@pytest.mark.s3
def test_saved_s3_block_round_trip(seaweedfs_server: S3Server, seaweedfs_bucket: str) -> None:
    from conveyor.blocks import list_blocks, load_block

    block = seaweedfs_server.block(f"{seaweedfs_bucket}/prod")
    block.save("prod")
    loaded = load_block("s3/prod")
    loaded.write_path("k", b"v")
    assert S3.load("prod").read_path("k") == b"v"
    shown = repr(list_blocks("s3"))
    assert seaweedfs_server.aws_secret_access_key not in shown
    assert seaweedfs_server.aws_access_key_id not in shown
