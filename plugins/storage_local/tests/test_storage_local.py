"""LocalFileSystem specifics beyond the conformance suite: atomic writes, paths, errors."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from conveyor.exceptions import InvalidKeyError, ResultNotFoundError, StorageError
from conveyor.filesystems import LocalFileSystem, default_storage


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.tmp"))


def test_creates_folders(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path / "not" / "yet"))
    where = block.write_path("deep/er/key", b"v")
    assert where == str(tmp_path / "not" / "yet" / "deep" / "er" / "key")
    assert Path(where).read_bytes() == b"v"


def test_write_path_is_atomic_temp_fsync_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bytes go to a temp file in the key's folder, are fsync-ed, then renamed."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(
            ("fsync", os.readlink(f"/proc/self/fd/{fd}") if sys.platform == "linux" else "?")
        )
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        events.append(("replace", f"{src} -> {dst}"))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    block = LocalFileSystem(basepath=str(tmp_path))
    block.write_path("a/key", b"value")
    with block.open_write("a/streamed") as fh:
        fh.write(b"value")
    kinds = [kind for kind, _ in events]
    assert kinds == ["fsync", "replace", "fsync", "replace"]
    for kind, detail in events:
        if kind == "replace":
            src, dst = detail.split(" -> ")
            assert Path(src).parent == Path(dst).parent == tmp_path / "a"
            assert Path(src).name.startswith(".") and src.endswith(".tmp")
        elif sys.platform == "linux":
            assert detail.endswith(".tmp")
    assert leftovers(tmp_path) == []


def test_open_write_streams_to_the_temp_file(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    with block.open_write("k") as fh:
        fh.write(b"x" * (3 << 20))  # larger than the write buffer: on disk already
        temps = leftovers(tmp_path)
        assert len(temps) == 1 and temps[0].startswith(".k.")
        assert (tmp_path / temps[0]).stat().st_size >= 2 << 20
        assert not (tmp_path / "k").exists()
    assert (tmp_path / "k").stat().st_size == 3 << 20
    assert leftovers(tmp_path) == []


def test_failed_open_write_removes_temp_and_keeps_old(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    block.write_path("k", b"old")
    with pytest.raises(RuntimeError), block.open_write("k") as fh:
        fh.write(b"new")
        raise RuntimeError("serializer failed")
    assert (tmp_path / "k").read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_failed_write_path_removes_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(StorageError) as info:
        block.write_path("k", b"v")
    assert "free some disk space" in str(info.value)
    assert str(tmp_path / "k") in str(info.value)
    assert not (tmp_path / "k").exists()
    assert leftovers(tmp_path) == []


def test_closing_inside_the_block_still_commits(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    with block.open_write("k") as fh:
        fh.write(b"v")
        fh.close()
    assert block.read_path("k") == b"v"


def test_missing_key_error_names_block_and_full_path(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    with pytest.raises(ResultNotFoundError) as info:
        block.read_path("no/such")
    message = str(info.value)
    assert "LocalFileSystem" in message
    assert str(tmp_path / "no" / "such") in message
    assert isinstance(info.value, FileNotFoundError)


def test_open_read_yields_a_real_seekable_file(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    block.write_path("k", b"0123456789")
    with block.open_read("k") as fh:
        assert fh.seekable()
        assert os.fstat(fh.fileno()).st_size == 10
        fh.seek(-3, os.SEEK_END)
        assert fh.read() == b"789"
        fh.seek(0)
        buf = bytearray(4)
        assert fh.readinto(buf) == 4 and bytes(buf) == b"0123"
    assert fh.closed


def test_relative_basepath_resolves_against_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    block = LocalFileSystem(basepath="results")
    assert block.write_path("k", b"v") == str(tmp_path / "results" / "k")
    assert block.basepath == "results"  # the configuration stays as given


def test_pathlike_basepath_is_stored_as_text(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=tmp_path)  # type: ignore[arg-type]
    assert block.config() == {"basepath": str(tmp_path)}


def test_default_storage_uses_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVEYOR_LOCAL_STORAGE_PATH", str(tmp_path / "here"))
    block = default_storage()
    assert isinstance(block, LocalFileSystem)
    assert block.basepath == str(tmp_path / "here")


@pytest.mark.parametrize("basepath", ["", "   ", "a\x00b"])
def test_bad_basepath(basepath: str) -> None:
    with pytest.raises(StorageError, match="basepath"):
        LocalFileSystem(basepath=basepath)


def test_unwritable_folder_is_a_storage_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(StorageError, match="permissions"):
            LocalFileSystem(basepath=str(folder)).write_path("k", b"v")
    finally:
        folder.chmod(0o700)


def test_a_file_in_the_way_is_a_storage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    block = LocalFileSystem(basepath=str(tmp_path))
    with pytest.raises(StorageError) as info:
        block.write_path("file/k", b"v")
    assert not isinstance(info.value, InvalidKeyError)
    assert "\n" not in str(info.value)
