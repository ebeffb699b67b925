"""Storage blocks against the raw operation they wrap: throughput ratios and peak memory.

    .venv/bin/python bench/bench_storage.py            # everything (about a minute or two)
    .venv/bin/python bench/bench_storage.py --quick    # 64 MiB instead of 256 MiB

For each block (LocalFileSystem; S3 on a SeaweedFS server this script starts on
127.0.0.1 with the test suite's helper) and each case, the block's operation and the raw
operation are timed in separate subprocesses, so each gets a clean peak-memory figure:

- raw local: ``open`` / ``write`` / ``flush`` / ``os.fsync`` (and ``read``);
- raw S3: boto3 ``upload_fileobj`` (large), ``put_object`` (1 KiB), ``get_object``.

``ratio`` is the block's throughput over the raw one (1.00 = as fast; the target is at
least 0.90). ``+peak MiB`` is how much the subprocess's peak RSS grew during the
operation, beyond what it held before (the value itself, for the cases that start from
an in-memory ``bytes``). The ``stream`` cases generate the value in 1 MiB pieces, so
their memory must not grow with the value's size: compare the two stream sizes.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1 << 20
PIECE = MiB
SMALL_COUNT = 1000
SMALL_SIZE = 1024


# -- child side: one measured operation per process -----------------------------------------


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


class _Generated(io.RawIOBase):
    """A non-seekable source of ``size`` bytes made from one 1 MiB piece (for raw streaming)."""

    def __init__(self, piece: bytes, size: int) -> None:
        self._piece, self._left, self._pos = piece, size, 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = self._left
        n = min(n, self._left)
        out = bytearray()
        while len(out) < n:
            take = min(n - len(out), len(self._piece) - self._pos)
            out += self._piece[self._pos : self._pos + take]
            self._pos = (self._pos + take) % len(self._piece)
        self._left -= n
        return bytes(out)


def _s3_env() -> dict[str, str]:
    return {
        "endpoint_url": os.environ["BENCH_S3_ENDPOINT"],
        "aws_access_key_id": os.environ["BENCH_S3_KEY"],
        "aws_secret_access_key": os.environ["BENCH_S3_SECRET"],
        "region_name": "us-east-1",
    }


def _block(target: str, where: str) -> Any:
    if target == "local":
        from conveyor_storage_local import LocalFileSystem

        return LocalFileSystem(basepath=where)
    from conveyor_storage_s3 import S3

    return S3(bucket_path=where, **_s3_env())


def _raw_s3() -> Any:
    import boto3
    from botocore.config import Config

    env = _s3_env()
    return boto3.session.Session().client(
        "s3",
        config=Config(
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
        **env,
    )


def child(case: str, target: str, who: str, where: str, size: int, round_: int) -> dict[str, Any]:
    """Run one case once; return seconds and memory.

    The write cases write new keys in every round (results go to fresh keys); the read
    cases read what round 0 of the write cases wrote (the parent runs them in that
    order), so nothing is set up inside the measurement.
    """
    piece = os.urandom(PIECE)
    small = [os.urandom(SMALL_SIZE) for _ in range(SMALL_COUNT)] if case == "small-write" else []
    data = piece * (size // PIECE) if case == "write" else None
    block = _block(target, where) if who == "block" else None
    raw = _raw_s3() if (who == "raw" and target == "s3") else None
    if block is not None and target == "s3":
        block.client()  # built once per configuration; not part of the operation
    transfer = None
    if raw is not None:
        from boto3.s3.transfer import TransferConfig

        transfer = TransferConfig()  # boto3's defaults
    bucket, _, prefix = where.partition("/")
    stream_key = f"stream-{size}"
    fresh = f"r{round_}"
    if case == "stream-write":
        stream_key = f"stream-{size}" if round_ == 0 else f"{fresh}/stream-{size}"

    def raw_path(key: str) -> Path:
        path = Path(where) / "raw" / key
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def raw_key(key: str) -> str:
        return f"{prefix}/raw/{key}"

    small_dir = "small" if round_ == 0 else f"{fresh}/small"
    if target == "local" and who == "raw":  # the folders exist (the block makes its own)
        raw_path(f"{small_dir}/0")
        raw_path(f"{fresh}/x")

    before = _rss_mib()
    start = time.perf_counter()
    moved = size
    if case == "write":
        assert data is not None
        if block is not None:
            block.write_path(f"{fresh}/write", data)
        elif raw is None:
            with open(raw_path(f"{fresh}/write"), "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            raw.upload_fileobj(io.BytesIO(data), bucket, raw_key(f"{fresh}/write"), Config=transfer)
    elif case == "stream-write":
        if block is not None:
            with block.open_write(stream_key) as fh:
                for _ in range(size // PIECE):
                    fh.write(piece)
        elif raw is None:
            with open(raw_path(stream_key), "wb") as fh:
                for _ in range(size // PIECE):
                    fh.write(piece)
                fh.flush()
                os.fsync(fh.fileno())
        else:
            raw.upload_fileobj(
                _Generated(piece, size), bucket, raw_key(stream_key), Config=transfer
            )
    elif case == "read":
        if block is not None:
            got = len(block.read_path(stream_key))
        elif raw is None:
            with open(raw_path(stream_key), "rb") as fh:
                got = len(fh.read())
        else:
            got = len(raw.get_object(Bucket=bucket, Key=raw_key(stream_key))["Body"].read())
        assert got == size, got
    elif case == "stream-read":
        got = 0
        if block is not None:
            with block.open_read(stream_key) as fh:
                while chunk := fh.read(PIECE):
                    got += len(chunk)
        elif raw is None:
            with open(raw_path(stream_key), "rb") as fh:
                while chunk := fh.read(PIECE):
                    got += len(chunk)
        else:
            body = raw.get_object(Bucket=bucket, Key=raw_key(stream_key))["Body"]
            while chunk := body.read(PIECE):
                got += len(chunk)
        assert got == size, got
    elif case == "small-write":
        moved = SMALL_COUNT * SMALL_SIZE
        for i, value in enumerate(small):
            if block is not None:
                block.write_path(f"{small_dir}/{i}", value)
            elif raw is None:
                with open(Path(where) / "raw" / small_dir / str(i), "wb") as fh:
                    fh.write(value)
                    fh.flush()
                    os.fsync(fh.fileno())
            else:
                raw.put_object(Bucket=bucket, Key=raw_key(f"{small_dir}/{i}"), Body=value)
    elif case == "small-read":
        moved = SMALL_COUNT * SMALL_SIZE
        for i in range(SMALL_COUNT):
            if block is not None:
                block.read_path(f"small/{i}")
            elif raw is None:
                with open(Path(where) / "raw" / "small" / str(i), "rb") as fh:
                    fh.read()
            else:
                raw.get_object(Bucket=bucket, Key=raw_key(f"small/{i}"))["Body"].read()
    else:
        raise SystemExit(f"unknown case {case!r}")
    seconds = time.perf_counter() - start
    after = _rss_mib()
    return {"seconds": seconds, "bytes": moved, "grew_mib": max(0.0, after - before)}


# -- parent side ---------------------------------------------------------------------------------


def run_child(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="64 MiB instead of 256 MiB")
    parser.add_argument("--only", choices=["local", "s3"], help="one block only")
    parser.add_argument(
        "--child", nargs=6, metavar=("CASE", "TARGET", "WHO", "WHERE", "SIZE", "ROUND")
    )
    args = parser.parse_args()
    if args.child:
        case, target, who, where, size, round_ = args.child
        print(json.dumps(child(case, target, who, where, int(size), int(round_))))
        return

    big = (64 if args.quick else 256) * MiB
    # Order matters: the read cases read what stream-write wrote.
    cases: list[tuple[str, int]] = [
        ("write", big),
        ("stream-write", big // 4),
        ("stream-write", big),
        ("read", big),
        ("stream-read", big),
        ("small-write", 0),
        ("small-read", 0),
    ]

    # Figures are noisy on a shared machine: best of alternating rounds (fewer where slow).
    def rounds(target: str, case: str) -> int:
        if target == "local":
            return 3
        return 2 if case in ("read", "stream-read") else 1

    targets = [args.only] if args.only else ["local", "s3"]
    from conveyor_storage_s3.testing import start_seaweedfs

    started = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp,
        start_seaweedfs(Path(tmp) / "weed") as server,
    ):
        bucket = server.create_bucket("conveyor-bench")
        env = dict(
            os.environ,
            BENCH_S3_ENDPOINT=server.endpoint_url,
            BENCH_S3_KEY=server.aws_access_key_id,
            BENCH_S3_SECRET=server.aws_secret_access_key,
        )
        print(
            f"SeaweedFS at {server.endpoint_url}; local folder {tmp}; large value "
            f"{big // MiB} MiB; small values {SMALL_COUNT} x {SMALL_SIZE} B",
            flush=True,
        )
        header = (
            f"{'block':6} {'case':22} {'block s':>8} {'raw s':>8} {'block MiB/s':>11} "
            f"{'raw MiB/s':>10} {'ratio':>6} {'+peak MiB block':>15} {'+peak MiB raw':>13}"
        )
        print(header)
        print("-" * len(header), flush=True)
        for target in targets:
            section = time.perf_counter()
            where = str(Path(tmp) / "local") if target == "local" else f"{bucket}/bench"
            for case, size in cases:
                best: dict[str, dict[str, Any]] = {}
                for n in range(rounds(target, case)):
                    order = ("raw", "block") if n % 2 == 0 else ("block", "raw")
                    for who in order:
                        got = run_child(env, case, target, who, where, str(size), str(n))
                        if who not in best or got["seconds"] < best[who]["seconds"]:
                            got["grew_mib"] = max(got["grew_mib"], best.get(who, got)["grew_mib"])
                            best[who] = got
                b, r = best["block"], best["raw"]
                b_tp = b["bytes"] / MiB / b["seconds"]
                r_tp = r["bytes"] / MiB / r["seconds"]
                label = f"{case} {size // MiB} MiB" if size else f"{case} {SMALL_COUNT}x1KiB"
                print(
                    f"{target:6} {label:22} {b['seconds']:8.2f} {r['seconds']:8.2f} {b_tp:11.1f} "
                    f"{r_tp:10.1f} {b_tp / r_tp:6.2f} {b['grew_mib']:15.1f} {r['grew_mib']:13.1f}",
                    flush=True,
                )
            print(f"{target}: {time.perf_counter() - section:.0f}s", flush=True)
    print(f"total {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
