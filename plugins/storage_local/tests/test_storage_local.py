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
            # staged in the block's own folder (one file system: the rename is atomic)
            assert Path(src).parent == tmp_path / ".conveyor-tmp"
            assert Path(dst).parent == tmp_path / "a"
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
        assert (tmp_path / ".conveyor-tmp" / temps[0]).stat().st_size >= 2 << 20
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


# -- path objects as keys ----------------------------------------------------------------


class _Key:
    """An os.PathLike that is not a pathlib path (any object with ``__fspath__`` will do)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return self.path


def test_every_key_taking_method_accepts_a_relative_path_object(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    key = Path("folder") / "x.txt"
    where = block.write_path(key, b"one")
    assert where == str(tmp_path / "folder" / "x.txt")
    assert (tmp_path / "folder" / "x.txt").read_bytes() == b"one"
    # The same key as text and as a path object names the same file, both ways round.
    assert block.read_path(key) == block.read_path("folder/x.txt") == b"one"
    assert block.exists(key) and block.exists(_Key("folder/x.txt"))
    assert block.full_path(key) == block.full_path("folder/x.txt") == tmp_path / "folder" / "x.txt"
    assert block.describe(key) == str(tmp_path / "folder" / "x.txt")
    assert block.fingerprint(key) == block.fingerprint("folder/x.txt")
    with block.open_read(key) as fh:
        assert fh.read() == b"one"
    with block.open_write(_Key("folder/y.txt")) as fh:
        fh.write(b"two")
    assert block.read_path("folder/y.txt") == b"two"
    block.delete(key)
    assert not block.exists("folder/x.txt") and not (tmp_path / "folder" / "x.txt").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "key",
    [
        Path("/etc/passwd"),
        Path("..") / "outside",
        Path("folder") / ".." / ".." / "outside",
        Path("."),
        _Key("/abs"),
        _Key("a/../.."),
        _Key(""),
    ],
    ids=repr,
)
def test_path_object_keys_that_escape_are_refused_by_every_method(
    tmp_path: Path, key: os.PathLike[str]
) -> None:
    base = tmp_path / "base"
    block = LocalFileSystem(basepath=str(base))

    def open_write() -> None:
        with block.open_write(key) as fh:
            fh.write(b"x")

    def open_read() -> None:
        with block.open_read(key):
            pass

    calls = {
        "write_path": lambda: block.write_path(key, b"x"),
        "read_path": lambda: block.read_path(key),
        "open_write": open_write,
        "open_read": open_read,
        "exists": lambda: block.exists(key),
        "fingerprint": lambda: block.fingerprint(key),
        "delete": lambda: block.delete(key),
        "full_path": lambda: block.full_path(key),
        "describe": lambda: block.describe(key),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidKeyError) as info:
            call()
        message = str(info.value)
        assert repr(key) in message and "LocalFileSystem" in message, (name, message)
        assert "\n" not in message
    assert not (tmp_path / "outside").exists()
    assert not base.exists() or not any(base.rglob("*"))


def test_bytes_path_objects_are_refused_as_keys(tmp_path: Path) -> None:
    class _BytesKey:
        def __fspath__(self) -> bytes:
            return b"folder/x.txt"

    block = LocalFileSystem(basepath=str(tmp_path))
    with pytest.raises(InvalidKeyError, match="is empty or not text"):
        block.write_path(_BytesKey(), b"x")  # type: ignore[arg-type]


def test_temporaries_of_a_killed_writer_are_removed_by_the_next_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    from conveyor_storage_local import local as local_module

    folder = tmp_path / ".conveyor-tmp"  # the block's staging folder
    folder.mkdir()
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    dead = int(ended.stdout)
    stale = folder / f".value.{dead}-0123456789ab.tmp"
    mine = folder / f".other.{os.getpid()}-0123456789ab.tmp"  # this process: in progress
    unrelated = folder / ".notes.tmp"  # not of conveyor's shape: never touched
    for path in (stale, mine, unrelated):
        path.write_bytes(b"partial")
    local_module._swept.discard(str(folder))
    LocalFileSystem(basepath=str(tmp_path)).write_path("results/new", b"x")
    assert not stale.exists()
    assert mine.exists() and unrelated.exists()
    assert (tmp_path / "results" / "new").read_bytes() == b"x"
