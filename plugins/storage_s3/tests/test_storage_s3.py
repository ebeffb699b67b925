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


# -- waits are bounded (issue 12, point 4) -------------------------------------------------------


class SilentServer:
    """A socket on 127.0.0.1 that accepts every connection and never answers."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted: list[socket.socket] = []
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                continue
            self.accepted.append(conn)  # held open, never read from or written to

    def close(self) -> None:
        self._stop = True
        self._thread.join()
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def bounded(fn, limit: float = 30.0) -> BaseException:
    """Run ``fn`` in a thread; it must raise, and return within ``limit`` seconds."""
    box: dict[str, BaseException] = {}

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"still waiting after {limit} s on a silent endpoint"
    assert "error" in box, "the call succeeded against a server that never answers"
    return box["error"]


def test_fields_set_the_waits(silent_server) -> None:
    block = S3(bucket_path="b-waits", endpoint_url=silent_server.endpoint, connect_timeout=1.5,
               read_timeout=0.5, max_attempts=1, aws_access_key_id="A", aws_secret_access_key="B")
    config = block.client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (1.5, 0.5)
    assert config.retries["total_max_attempts"] == 1  # the first try included
    defaults = S3(bucket_path="b-waits")
    assert (defaults.connect_timeout, defaults.read_timeout, defaults.max_attempts) == (
        clients.CONNECT_TIMEOUT, clients.READ_TIMEOUT, clients.MAX_ATTEMPTS
    )
    assert defaults.max_attempts * defaults.read_timeout <= 15  # "fails within a few seconds"
    for bad in ({"read_timeout": 0}, {"connect_timeout": -1}, {"max_attempts": 0},
                {"max_attempts": 1.5}, {"read_timeout": "5"}):
        with pytest.raises(StorageError, match=next(iter(bad))):
            S3(bucket_path="b-waits", **bad)  # type: ignore[arg-type]


def test_a_silent_endpoint_fails_a_small_persist_within_30_s(silent_server) -> None:
    from conveyor.results import persist_value
    from conveyor.serializers import PickleSerializer

    block = S3(bucket_path="silent-bucket/p", endpoint_url=silent_server.endpoint,
               aws_access_key_id="AKIDSILENT", aws_secret_access_key="SECRETSILENT",
               region_name="us-east-1")
    error = bounded(lambda: persist_value({"small": 1}, storage=block,
                                          serializer=PickleSerializer(), key="k"))
    assert isinstance(error, StorageError), repr(error)
    message = str(error)
    assert "did not answer within read_timeout=5 s (2 tries)" in message, message
    assert_clean_error(error, bucket="silent-bucket", endpoint=silent_server.endpoint,
                       secrets=["AKIDSILENT", "SECRETSILENT"])
    assert silent_server.accepted, "the request reached the silent socket"
    read_error = bounded(lambda: block.read_path("k"))
    assert isinstance(read_error, StorageError) and "did not answer" in str(read_error)


def test_a_silent_endpoint_fails_a_task_within_30_s(silent_server, conveyor_home) -> None:
    from conveyor import flow, task
    from conveyor.client import get_client

    block = S3(bucket_path="silent-bucket", endpoint_url=silent_server.endpoint,
               aws_access_key_id="AKIDSILENT", aws_secret_access_key="SECRETSILENT",
               region_name="us-east-1")

    @task(result_storage=block, persist_result=True)
    def produce() -> dict[str, int]:
        return {"rows": 3}

    @flow
    def pipeline() -> dict[str, int]:
        return produce()

    error = bounded(pipeline)
    assert isinstance(error, StorageError) and "did not answer" in str(error), repr(error)
    assert "\n" not in str(error)
    runs = get_client().read_flow_runs()
    assert runs and runs[0].state.is_failed()


def test_masking_replaces_secret_values_not_letters_of_other_words() -> None:
    from conveyor_storage_s3.errors import scrub

    text = "PutObject failed: cannot write: key a, token 'a' and a/b (secret=a)"
    assert scrub(text, ("a",)) == (
        "PutObject failed: cannot write: key ********, token '********' and ********/b "
        "(secret=********)"
    )
    assert scrub("the key AKIDEXAMPLE was refused", ("AKIDEXAMPLE",)) == (
        "the key ******** was refused"
    )
    assert scrub("Credential=AKIDEXAMPLE/20240101/us-east-1", ("AKIDEXAMPLE",)) == (
        "Credential=********/20240101/us-east-1"
    )
    assert scrub("AKIDEXAMPLE2 is another key", ("AKIDEXAMPLE",)) == "AKIDEXAMPLE2 is another key"
    assert scrub("nothing", (None, "")) == "nothing"


def test_a_one_letter_secret_leaves_the_message_readable(silent_server) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    block = S3(bucket_path="some-bucket", aws_access_key_id="a", aws_secret_access_key="e",
               endpoint_url=endpoint, region_name="us-east-1")
    with pytest.raises(StorageError) as info:
        block.write_path("k", b"v")
    message = str(info.value)
    assert "failed: cannot reach" in message and "*" not in message, message
