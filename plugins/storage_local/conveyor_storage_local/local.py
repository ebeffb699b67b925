"""``LocalFileSystem``: results in a folder of the local file system.

Every write is atomic: the bytes go to a temporary file in the block's staging folder
``<basepath>/.conveyor-tmp`` (``.<name>.<pid>-<random>.tmp``), are flushed and
``fsync``-ed, and only then renamed over the final name. A crash or an exception
therefore leaves either the old value or the new one under a key, never half of one; a
temporary file abandoned by a killed writer is removed by the next process's first write.

Every method that takes a key takes text or an ``os.PathLike`` (``Path("folder") / "x.txt"``),
relative to ``basepath``: :func:`~conveyor.filesystems.normalize_key` refuses absolute keys
and keys that climb out with ``..`` either way.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, ClassVar

import attrs
from conveyor.exceptions import ResultNotFoundError, StorageError
from conveyor.filesystems import StorageBlock, normalize_key

#: A storage key: text or a path object, relative to the block's basepath.
Key = str | os.PathLike[str]

#: The folder under ``basepath`` where writes are staged before their atomic rename.
STAGING = ".conveyor-tmp"
#: Folders this process has swept for stale temporary files (see ``_open_temp``).
_swept: set[str] = set()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_swept.clear)

_TEMP = re.compile(r"^\..+\.(\d+)-[0-9a-f]{12}\.tmp$")


def _process_ended(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's (or cannot tell): keep its files
        return False
    return False


def sweep_stale_temporaries(folder: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files of conveyor's own writes in ``folder`` whose writing
    process has ended; return their paths. Other files are never touched."""
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for entry in names:
        match = _TEMP.match(entry)
        if match and _process_ended(int(match.group(1))):
            path = os.path.join(folder, entry)
            with contextlib.suppress(OSError):
                os.unlink(path)
                removed.append(path)
    return removed


_WRITE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
)


@attrs.frozen
class LocalFileSystem(StorageBlock):
    """Store results under ``basepath``.

    A relative ``basepath`` (and ``~``) is resolved when the block is used, against the
    working directory of that moment. Folders are created as needed.
    """

    block_type: ClassVar[str] = "local-file-system"

    basepath: str = attrs.field(converter=str)

    @basepath.validator
    def _check_basepath(self, _attribute: attrs.Attribute[str], value: str) -> None:
        if not value.strip() or "\x00" in value:
            raise StorageError(
                f"LocalFileSystem basepath {value!r} is not a usable folder path; "
                f"give a folder such as 'results' or '/data/results'"
            )

    # -- paths -------------------------------------------------------------------------

    @property
    def root(self) -> Path:
        """The base folder, made absolute against the current working directory."""
        return Path(self._root())

    def _root(self) -> str:
        base = self.basepath
        if base[0] == "~":
            base = os.path.expanduser(base)
        return base if os.path.isabs(base) else os.path.join(os.getcwd(), base)

    def _full(self, path: Key) -> str:
        # Plain strings, not pathlib: this runs for every read and write of a small value.
        key = normalize_key(path, block=self)
        if os.sep != "/":
            key = key.replace("/", os.sep)
        return os.path.join(self._root(), key)

    def full_path(self, path: Key) -> Path:
        """The file that holds key ``path`` (checked with :func:`normalize_key`)."""
        return Path(self._full(path))

    def describe(self, path: Key | None = None) -> str:
        return self._full(path) if path else self._root()

    def uri(self, path: Key) -> str:
        """``file:///<basepath>/<key>``: the key's file as an absolute ``file`` URI."""
        return Path(os.path.abspath(self._full(path))).as_uri()

    def _error(self, action: str, full: str, exc: OSError) -> StorageError:
        reason = exc.strerror or type(exc).__name__
        hint = {
            errno.EACCES: "check the folder's permissions",
            errno.EPERM: "check the folder's permissions",
            errno.ENOSPC: "free some disk space",
            errno.EROFS: "choose a writable basepath",
            errno.ENOTDIR: "a file is in the way of a folder in this path",
            errno.EISDIR: "a folder is in the way of this key",
        }.get(exc.errno or 0, "check the path")
        return StorageError(f"{self!r} cannot {action} {full}: {reason}; {hint}")

    # -- writing -----------------------------------------------------------------------

    def _open_temp(self, full: str) -> tuple[int, str]:
        """Create a fresh temporary file for ``full``; make folders when missing.

        Temporary files live in the block's staging folder ``<basepath>/.conveyor-tmp``
        (the same file system, so the final rename is atomic) and their names carry the
        writing process's id (``.<name>.<pid>-<random>.tmp``): a process's first write
        removes those there whose process has ended (a writer killed mid-write), so none
        outlives the next run, wherever its key's folder was.
        """
        folder, name = os.path.split(full)
        staging = os.path.join(self._root(), STAGING)
        if staging not in _swept:
            _swept.add(staging)
            sweep_stale_temporaries(staging)
        for attempt in range(2):
            tmp = os.path.join(staging, f".{name[:100]}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
            try:
                fd = os.open(tmp, _WRITE_FLAGS, 0o644)
                if not os.path.isdir(folder):
                    os.makedirs(folder, exist_ok=True)
                return fd, tmp
            except FileNotFoundError as exc:
                if attempt:
                    raise self._error("write", full, exc) from exc
                try:
                    os.makedirs(staging, exist_ok=True)
                except OSError as exc:
                    raise self._error("create the folder of", full, exc) from exc
            except OSError as exc:
                raise self._error("write", full, exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _commit(self, tmp: str, full: str) -> None:
        try:
            os.replace(tmp, full)
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise self._error("write", full, exc) from exc
            # the key's folder is another file system (a mount below basepath): copy the
            # finished file next to the key, then rename it there
            folder, name = os.path.split(full)
            near = os.path.join(folder, f".{name[:100]}.{os.getpid()}-{secrets.token_hex(6)}.tmp")
            try:
                shutil.copyfile(tmp, near)
                _fsync_path(near)
                os.replace(near, full)
            except OSError as exc2:
                self._discard(near)
                raise self._error("write", full, exc2) from exc2
            finally:
                self._discard(tmp)

    @staticmethod
    def _discard(tmp: str) -> None:
        with contextlib.suppress(OSError):
            os.unlink(tmp)

    def write_path(self, path: Key, content: bytes) -> str:
        """Write ``content`` at ``path`` atomically (temporary file, fsync, rename)."""
        full = self._full(path)
        fd, tmp = self._open_temp(full)
        try:
            try:
                view = memoryview(content)
                while view:
                    view = view[os.write(fd, view) :]
                os.fsync(fd)
            finally:
                os.close(fd)
            self._commit(tmp, full)
        except OSError as exc:
            self._discard(tmp)
            raise self._error("write", full, exc) from exc
        except BaseException:
            self._discard(tmp)
            raise
        return str(full)

    @contextlib.contextmanager
    def open_write(self, path: Key) -> Iterator[BinaryIO]:
        """Stream into a temporary file; it becomes ``path`` when the block exits cleanly.

        On an exception the temporary file is removed and ``path`` keeps its old value.
        """
        full = self._full(path)
        fd, tmp = self._open_temp(full)
        try:
            # Small writes are coalesced; a write larger than the buffer goes straight through.
            fh = os.fdopen(fd, "wb", buffering=128 << 10)
        except BaseException:
            os.close(fd)
            self._discard(tmp)
            raise
        try:
            yield fh  # type: ignore[misc]
        except BaseException:
            with contextlib.suppress(OSError):
                fh.close()
            self._discard(tmp)
            raise
        try:
            if fh.closed:  # the caller closed it: sync through a new descriptor
                _fsync_path(tmp)
            else:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
            self._commit(tmp, full)
        except OSError as exc:
            with contextlib.suppress(OSError):
                fh.close()
            self._discard(tmp)
            raise self._error("write", full, exc) from exc
        except BaseException:
            self._discard(tmp)
            raise

    # -- reading -----------------------------------------------------------------------

    def _missing(self, path: Key, full: str) -> ResultNotFoundError:
        return ResultNotFoundError(
            f"{self!r} has no key {path!r}: {full} does not exist; check the key and the "
            f"basepath (relative basepaths resolve against the working directory)"
        )

    def read_path(self, path: Key) -> bytes:
        full = self._full(path)
        try:
            with open(full, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            raise self._missing(path, full) from None
        except OSError as exc:
            raise self._error("read", full, exc) from exc

    @contextlib.contextmanager
    def open_read(self, path: Key) -> Iterator[BinaryIO]:
        """The key's file itself, opened for reading (seekable, with a real ``fileno``)."""
        full = self._full(path)
        try:
            fh = open(full, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            raise self._missing(path, full) from None
        except OSError as exc:
            raise self._error("read", full, exc) from exc
        with fh:
            yield fh

    def exists(self, path: Key) -> bool:
        return os.path.isfile(self._full(path))

    def fingerprint(self, path: Key) -> object | None:
        """``(inode, size, mtime)`` of the key's file: any rewrite (always a new file,
        renamed into place) or removal changes it."""
        full = self._full(path)
        try:
            st = os.stat(full)
        except FileNotFoundError:
            raise self._missing(path, full) from None
        except OSError as exc:
            raise self._error("stat", full, exc) from exc
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def delete_path(self, path: Key) -> None:
        """Remove ``path``, and the folders it leaves empty up to the basepath; a key that
        does not exist is not an error."""
        full = self._full(path)
        try:
            os.unlink(full)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._error("delete", full, exc) from exc
        root, folder = self._root(), os.path.dirname(full)
        while folder != root and folder.startswith(root):
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                break
            folder = os.path.dirname(folder)

    def list_paths(self, prefix: str = "") -> Iterator[str]:
        """Keys under the basepath that start with ``prefix`` (not the staging folder)."""
        root = self._root()
        folder = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = os.path.join(root, *folder.split("/")) if folder else root
        for here, dirs, files in os.walk(start):
            if here == root and STAGING in dirs:
                dirs.remove(STAGING)
            rel = os.path.relpath(here, root).replace(os.sep, "/")
            for name in files:
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix):
                    yield key


def _fsync_path(path: str) -> None:
    """fsync a file the caller has already closed (the writer closed it inside the block)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
