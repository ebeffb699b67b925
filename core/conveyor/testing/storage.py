"""The storage half of conveyor's conformance suite.

A storage plugin subclasses :class:`StorageBlockConformance` in its tests and provides
one fixture, ``storage_block``, returning a block that writes somewhere empty::

    import pytest
    from conveyor.testing.storage import StorageBlockConformance
    from my_plugin import ReversedDir

    class TestReversedDir(StorageBlockConformance):
        @pytest.fixture
        def storage_block(self, tmp_path):
            return ReversedDir(root=str(tmp_path))

The tests that save a block use the ``conveyor_home`` fixture from
``conveyor.testing.fixtures``; add ``pytest_plugins = ["conveyor.testing.fixtures"]`` to
your ``conftest.py``. Class attributes tune the suite: ``large_size`` (bytes of the
large streamed value), ``supports_delete`` and ``supports_listing`` (whether the block
offers the optional ``delete_path`` and ``list_paths``).
"""

from __future__ import annotations

import hashlib
import os
import threading
import traceback
from pathlib import Path
from typing import Any

import attrs
import pytest

from conveyor.blocks import load_block
from conveyor.exceptions import InvalidKeyError, ResultNotFoundError
from conveyor.filesystems import StorageBlock, block_from_dict, offers, secret_field_names

BAD_KEYS = [
    "",
    "   ",
    "/abs",
    "/",
    "../up",
    "a/../../up",
    "..",
    "a/..",
    "C:\\x",
    "\\\\server\\share",
]
ODD_KEYS = [
    "plain",
    "nested/deeper/key",
    "with space/and-dash_und.er",
    "ümlaut/κλειδί",
    "./dot/./key",
]


class _Boom(Exception):
    pass


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


class StorageBlockConformance:
    """What every storage block must do. Subclass it and provide ``storage_block``."""

    #: Bytes of the value streamed by the large tests (above S3's multipart threshold).
    large_size: int = 17 * (1 << 20)
    #: Whether ``delete_path`` is implemented (the base class default raises NotImplementedError).
    supports_delete: bool = True
    #: Whether ``list_paths`` is implemented (optional too).
    supports_listing: bool = True

    @pytest.fixture
    def storage_block(self) -> StorageBlock:
        raise NotImplementedError("a conformance test class must define the storage_block fixture")

    # -- basics ------------------------------------------------------------------------

    def test_is_a_storage_block(self, storage_block: StorageBlock) -> None:
        assert isinstance(storage_block, StorageBlock)
        assert isinstance(type(storage_block).block_type, str) and storage_block.block_type
        assert attrs.has(type(storage_block)), "a storage block is an attrs class"

    def test_write_then_read(self, storage_block: StorageBlock) -> None:
        for size in (0, 1, 1000, 70_000):
            content = os.urandom(size)
            where = storage_block.write_path(f"round/{size}", content)
            assert isinstance(where, str) and where
            assert storage_block.read_path(f"round/{size}") == content

    def test_every_byte_value_survives(self, storage_block: StorageBlock) -> None:
        content = bytes(range(256)) * 4 + b"\r\n\x00\n\r"
        storage_block.write_path("bytes", content)
        assert storage_block.read_path("bytes") == content

    def test_keys(self, storage_block: StorageBlock) -> None:
        for key in ODD_KEYS:
            storage_block.write_path(key, key.encode())
        for key in ODD_KEYS:
            assert storage_block.read_path(key) == key.encode(), key
            assert storage_block.exists(key), key

    def test_uri_is_none_or_names_the_key(self, storage_block: StorageBlock) -> None:
        """``uri(path)`` is optional: None, or a URI (``scheme://...``) that ends with the
        key (URL-quoted where it must be)."""
        uri = storage_block.uri("folder/result.json")
        if uri is not None:
            assert isinstance(uri, str) and "://" in uri, uri
            assert uri.endswith("folder/result.json"), uri

    def test_overwrite_replaces(self, storage_block: StorageBlock) -> None:
        storage_block.write_path("k", b"first, and longer")
        storage_block.write_path("k", b"second")
        assert storage_block.read_path("k") == b"second"

    def test_keys_are_independent(self, storage_block: StorageBlock) -> None:
        storage_block.write_path("a/1", b"one")
        storage_block.write_path("a/2", b"two")
        assert storage_block.read_path("a/1") == b"one"
        assert storage_block.read_path("a/2") == b"two"

    # -- missing keys and bad keys -----------------------------------------------------

    def test_missing_key(self, storage_block: StorageBlock) -> None:
        with pytest.raises(ResultNotFoundError) as info:
            storage_block.read_path("never/written")
        message = str(info.value)
        assert "never/written" in message
        assert "\n" not in message
        assert not storage_block.exists("never/written")

    def test_missing_key_open_read(self, storage_block: StorageBlock) -> None:
        with pytest.raises(ResultNotFoundError), storage_block.open_read("never/written") as fh:
            fh.read()

    def test_bad_keys_refused(self, storage_block: StorageBlock) -> None:
        for key in BAD_KEYS:
            with pytest.raises(InvalidKeyError):
                storage_block.write_path(key, b"x")
            with pytest.raises(InvalidKeyError):
                storage_block.read_path(key)
            with pytest.raises(InvalidKeyError), storage_block.open_write(key) as fh:
                fh.write(b"x")
            with pytest.raises(InvalidKeyError), storage_block.open_read(key):
                pass
            with pytest.raises(InvalidKeyError):
                storage_block.exists(key)
            if self.supports_delete:
                with pytest.raises(InvalidKeyError):
                    storage_block.delete(key)

    def test_climbing_key_writes_nothing_outside(
        self, storage_block: StorageBlock, tmp_path: Path
    ) -> None:
        with pytest.raises(InvalidKeyError):
            storage_block.write_path(f"../{tmp_path.name}-escaped", b"x")
        assert not (tmp_path.parent / f"{tmp_path.name}-escaped").exists()

    # -- exists / delete ---------------------------------------------------------------

    def test_exists(self, storage_block: StorageBlock) -> None:
        assert not storage_block.exists("e")
        storage_block.write_path("e", b"")
        assert storage_block.exists("e")

    def test_fingerprint_changes_on_rewrite_and_removal(self, storage_block: StorageBlock) -> None:
        """Optional: a block whose ``fingerprint`` is not None must notice every change."""
        storage_block.write_path("fp/key", b"one")
        first = storage_block.fingerprint("fp/key")
        if first is None:
            return  # the block does not offer fingerprints: values are always re-read
        assert storage_block.fingerprint("fp/key") == first
        storage_block.write_path("fp/key", b"two")
        assert storage_block.fingerprint("fp/key") != first
        with pytest.raises(ResultNotFoundError):
            storage_block.fingerprint("fp/absent")

    def test_delete(self, storage_block: StorageBlock) -> None:
        if not self.supports_delete:
            pytest.skip("this block does not delete")
        storage_block.write_path("d", b"x")
        storage_block.delete("d")
        assert not storage_block.exists("d")
        with pytest.raises(ResultNotFoundError):
            storage_block.read_path("d")
        storage_block.delete("d")  # deleting what is not there is not an error

    def test_delete_path(self, storage_block: StorageBlock) -> None:
        assert offers(storage_block, "delete_path") is self.supports_delete
        if not self.supports_delete:
            with pytest.raises(NotImplementedError, match=storage_block.block_type):
                storage_block.delete_path("x")
            return
        storage_block.write_path("gone/deep/a", b"x")
        storage_block.write_path("gone/b", b"y")
        storage_block.delete_path("gone/deep/a")
        assert not storage_block.exists("gone/deep/a") and storage_block.read_path("gone/b") == b"y"
        storage_block.delete_path("gone/deep/a")  # not there: not an error
        storage_block.write_path("gone/deep/a", b"z")  # its folder can be written again
        assert storage_block.read_path("gone/deep/a") == b"z"

    def test_list_paths(self, storage_block: StorageBlock) -> None:
        assert offers(storage_block, "list_paths") is self.supports_listing
        if not self.supports_listing:
            with pytest.raises(NotImplementedError, match=storage_block.block_type):
                list(storage_block.list_paths(""))
            return
        for key in ("ls/run-1/a.json", "ls/run-1/b.pickle", "ls/run-10/c", "ls/other"):
            storage_block.write_path(key, b"v")
        assert sorted(storage_block.list_paths("ls/run-1/")) == ["ls/run-1/a.json", "ls/run-1/b.pickle"]
        assert sorted(storage_block.list_paths("ls/run-1")) == [
            "ls/run-1/a.json", "ls/run-1/b.pickle", "ls/run-10/c"
        ]
        assert list(storage_block.list_paths("ls/nothing/")) == []
        listed = set(storage_block.list_paths(""))
        assert {"ls/other", "ls/run-10/c"} <= listed
        assert all(not k.startswith(".") and "/." not in k for k in listed)  # no staging files
        if self.supports_delete:
            storage_block.delete_path("ls/run-1/a.json")
            assert sorted(storage_block.list_paths("ls/run-1/")) == ["ls/run-1/b.pickle"]

    # -- streaming ---------------------------------------------------------------------

    def test_open_write_then_open_read(self, storage_block: StorageBlock) -> None:
        pieces = [os.urandom(n) for n in (1, 0, 4096, 100_000, 3)]
        with storage_block.open_write("streamed") as fh:
            for piece in pieces:
                fh.write(piece)
        expected = b"".join(pieces)
        with storage_block.open_read("streamed") as fh:
            first = fh.read(10)
            rest = fh.read()
        assert first + rest == expected
        assert storage_block.read_path("streamed") == expected

    def test_open_write_accepts_buffers(self, storage_block: StorageBlock) -> None:
        with storage_block.open_write("buffers") as fh:
            fh.write(bytearray(b"ab"))
            fh.write(memoryview(b"cd"))
        assert storage_block.read_path("buffers") == b"abcd"

    def test_open_write_empty(self, storage_block: StorageBlock) -> None:
        with storage_block.open_write("empty"):
            pass
        assert storage_block.exists("empty")
        assert storage_block.read_path("empty") == b""

    def test_open_write_failure_leaves_nothing(self, storage_block: StorageBlock) -> None:
        with pytest.raises(_Boom), storage_block.open_write("failed") as fh:
            fh.write(b"half a value")
            raise _Boom()
        assert not storage_block.exists("failed")

    def test_open_write_failure_keeps_old_value(self, storage_block: StorageBlock) -> None:
        storage_block.write_path("kept", b"old value")
        with pytest.raises(_Boom), storage_block.open_write("kept") as fh:
            fh.write(b"new value that never completes")
            raise _Boom()
        assert storage_block.read_path("kept") == b"old value"

    def test_open_write_not_visible_before_exit(self, storage_block: StorageBlock) -> None:
        with storage_block.open_write("pending") as fh:
            fh.write(b"x" * 1000)
            assert not storage_block.exists("pending")
        assert storage_block.exists("pending")

    def test_open_read_in_pieces(self, storage_block: StorageBlock) -> None:
        content = os.urandom(300_000)
        storage_block.write_path("pieces", content)
        got = bytearray()
        with storage_block.open_read("pieces") as fh:
            while True:
                piece = fh.read(65_536)
                if not piece:
                    break
                assert len(piece) <= 65_536
                got += piece
        assert bytes(got) == content

    def test_large_value_streams(self, storage_block: StorageBlock) -> None:
        piece = os.urandom(1 << 20)
        count = max(1, self.large_size // len(piece))
        digest = hashlib.sha256()
        with storage_block.open_write("large") as fh:
            for i in range(count):
                chunk = piece[i % 7 :] + piece[: i % 7]
                digest.update(chunk)
                fh.write(chunk)
        got = hashlib.sha256()
        total = 0
        with storage_block.open_read("large") as fh:
            while chunk := fh.read(1 << 20):
                got.update(chunk)
                total += len(chunk)
        assert total == count * len(piece)
        assert got.hexdigest() == digest.hexdigest()

    def test_large_value_failure_leaves_nothing(self, storage_block: StorageBlock) -> None:
        piece = os.urandom(1 << 20)
        with pytest.raises(_Boom), storage_block.open_write("large-failed") as fh:
            for _ in range(max(1, self.large_size // len(piece))):
                fh.write(piece)
            raise _Boom()
        assert not storage_block.exists("large-failed")

    def test_large_write_path(self, storage_block: StorageBlock) -> None:
        content = os.urandom(self.large_size)
        storage_block.write_path("large-bytes", content)
        assert storage_block.read_path("large-bytes") == content

    # -- concurrency -------------------------------------------------------------------

    def test_concurrent_writers(self, storage_block: StorageBlock) -> None:
        values = {i: os.urandom(5000 + i) for i in range(8)}
        errors: list[BaseException] = []

        def work(i: int) -> None:
            try:
                storage_block.write_path(f"threads/{i}", values[i])
                with storage_block.open_write("threads/shared") as fh:
                    fh.write(values[i])
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(i,)) for i in values]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for i, value in values.items():
            assert storage_block.read_path(f"threads/{i}") == value
        assert storage_block.read_path("threads/shared") in values.values()

    # -- configuration, display and secrets --------------------------------------------

    def test_config_round_trip(self, storage_block: StorageBlock) -> None:
        config = storage_block.config()
        assert type(storage_block).from_config(config) == storage_block
        assert block_from_dict(storage_block.to_dict()) == storage_block

    def test_config_is_json(self, storage_block: StorageBlock) -> None:
        import json

        assert json.loads(json.dumps(storage_block.to_dict())) == storage_block.to_dict()

    def test_secrets_are_never_shown(self, storage_block: StorageBlock) -> None:
        config = storage_block.config()
        secrets = [config[n] for n in secret_field_names(type(storage_block)) if config.get(n)]
        shown = [
            repr(storage_block),
            str(storage_block),
            storage_block.describe(),
            storage_block.describe("some/key"),
            str(storage_block.public_config()),
        ]
        try:
            storage_block.read_path("never/written")
        except ResultNotFoundError as exc:
            shown.append("".join(traceback.format_exception(exc)))
        for secret in secrets:
            for text in shown:
                assert secret not in text

    def test_describe_names_the_key(self, storage_block: StorageBlock) -> None:
        assert "some/key" in storage_block.describe("some/key").replace(os.sep, "/")

    def test_save_and_load(self, storage_block: StorageBlock, conveyor_home: Any) -> None:
        slug = storage_block.save("conformance")
        assert slug == f"{storage_block.block_type}/conformance"
        assert type(storage_block).load("conformance") == storage_block
        loaded = load_block(slug)
        assert loaded == storage_block
        loaded.write_path("through-loaded", b"v")
        assert storage_block.read_path("through-loaded") == b"v"
