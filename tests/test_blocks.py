"""Saved blocks and block documents: save / load by slug, errors, dedup of configurations."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from conveyor import blocks, hookimpl, plugins
from conveyor.exceptions import BlockExistsError, ConfigurationError, UnknownNameError
from conveyor.filesystems import S3, LocalFileSystem, StorageBlock, resolve_storage
from conveyor.metadata import get_store
from conveyor.testing.storage import StorageBlockConformance


def document_count() -> int:
    return int(get_store().query("SELECT COUNT(*) FROM block_documents")[0][0])


# -- save / load ---------------------------------------------------------------------------


def test_save_and_load_local(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    assert block.save("scratch") == "local-file-system/scratch"
    assert LocalFileSystem.load("scratch") == block
    assert blocks.load_block("local-file-system/scratch") == block


def test_save_and_load_s3_by_slug() -> None:
    block = S3(
        bucket_path="results/prod", aws_secret_access_key="s3cr3t-value", region_name="eu-west-1"
    )
    assert block.save("prod") == "s3/prod"
    assert S3.load("prod") == block
    loaded = blocks.load_block("s3/prod")
    assert isinstance(loaded, S3)
    assert loaded.aws_secret_access_key == "s3cr3t-value"  # the store keeps the secret


def test_save_over_existing_name_needs_overwrite(tmp_path: Path) -> None:
    LocalFileSystem(basepath=str(tmp_path / "a")).save("dev")
    with pytest.raises(BlockExistsError) as info:
        LocalFileSystem(basepath=str(tmp_path / "b")).save("dev")
    message = str(info.value)
    assert "local-file-system/dev" in message and "overwrite=True" in message
    assert LocalFileSystem.load("dev").basepath == str(tmp_path / "a")
    LocalFileSystem(basepath=str(tmp_path / "b")).save("dev", overwrite=True)
    assert LocalFileSystem.load("dev").basepath == str(tmp_path / "b")


def test_same_name_different_types_are_separate(tmp_path: Path) -> None:
    LocalFileSystem(basepath=str(tmp_path)).save("prod")
    S3(bucket_path="bucket").save("prod")
    assert isinstance(blocks.load_block("local-file-system/prod"), LocalFileSystem)
    assert isinstance(blocks.load_block("s3/prod"), S3)


def test_unknown_name_lists_saved_names_of_that_type(tmp_path: Path) -> None:
    S3(bucket_path="bucket-one").save("alpha")
    S3(bucket_path="bucket-two").save("beta")
    LocalFileSystem(basepath=str(tmp_path)).save("gamma")
    with pytest.raises(UnknownNameError) as info:
        blocks.load_block("s3/prod")
    message = str(info.value)
    assert "'s3'" in message and "'prod'" in message
    assert "alpha, beta" in message
    assert "gamma" not in message
    assert "\n" not in message
    with pytest.raises(UnknownNameError) as info:
        S3.load("prod")
    assert "alpha, beta" in str(info.value)


def test_unknown_name_when_nothing_saved() -> None:
    with pytest.raises(UnknownNameError, match="saved s3 blocks: none"):
        blocks.load_block("s3/prod")


@pytest.mark.parametrize("slug", ["prod", "s3", "", "s3/", "/prod", "s3/prod/extra"])
def test_slug_without_the_form_says_the_form(slug: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        blocks.load_block(slug)
    assert "'<block_type>/<name>'" in str(info.value)
    assert "s3/prod" in str(info.value)


def test_unknown_block_type_lists_available() -> None:
    with pytest.raises(UnknownNameError) as info:
        blocks.load_block("ftp/prod")
    message = str(info.value)
    assert "'ftp'" in message and "local-file-system" in message and "s3" in message


def test_load_through_the_wrong_class(tmp_path: Path) -> None:
    LocalFileSystem(basepath=str(tmp_path)).save("x")
    with pytest.raises(UnknownNameError):
        S3.load("x")


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-lead", "../x"])
def test_bad_names_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError):
        LocalFileSystem(basepath=str(tmp_path)).save(name)


def test_list_and_delete_mask_secrets(tmp_path: Path) -> None:
    S3(
        bucket_path="bucket", aws_access_key_id="AKIDVISIBLE", aws_secret_access_key="TOPSECRET"
    ).save("prod")
    LocalFileSystem(basepath=str(tmp_path)).save("scratch")
    listed = dict(blocks.list_blocks())
    assert set(listed) == {"s3/prod", "local-file-system/scratch"}
    assert listed["s3/prod"]["aws_secret_access_key"] == "********"
    assert listed["s3/prod"]["aws_access_key_id"] == "********"
    assert "TOPSECRET" not in repr(listed) and "AKIDVISIBLE" not in repr(listed)
    assert [slug for slug, _ in blocks.list_blocks("s3")] == ["s3/prod"]
    blocks.delete_block("s3/prod")
    with pytest.raises(UnknownNameError):
        blocks.load_block("s3/prod")
    with pytest.raises(UnknownNameError):
        blocks.delete_block("s3/prod")


def test_saved_slugs(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    assert blocks.saved_slugs(block) == []
    block.save("one")
    block.save("two")
    assert blocks.saved_slugs(block) == ["local-file-system/one", "local-file-system/two"]


# -- block documents: recorded once per distinct configuration ------------------------------


def test_unsaved_block_recorded_once_per_configuration(tmp_path: Path) -> None:
    before = document_count()
    first = blocks.record_block(LocalFileSystem(basepath=str(tmp_path / "a")))
    for _ in range(20):  # e.g. twenty runs writing through equal, unsaved blocks
        assert blocks.record_block(LocalFileSystem(basepath=str(tmp_path / "a"))) == first
    other = blocks.record_block(LocalFileSystem(basepath=str(tmp_path / "b")))
    assert other != first
    assert document_count() == before + 2
    assert blocks.block_from_document(first) == LocalFileSystem(basepath=str(tmp_path / "a"))


def test_dedup_holds_across_store_instances(tmp_path: Path) -> None:
    """A second process (a fresh Store object on the same file) does not add a duplicate."""
    from conveyor.metadata import SQLiteStore
    from conveyor.settings import get_settings

    block = S3(bucket_path="bucket/p", endpoint_url="http://127.0.0.1:1")
    doc = blocks.record_block(block)
    other = SQLiteStore(get_settings().database_path)
    assert other.put_block_document(block.block_type, block.config()) == doc
    assert int(other.query("SELECT COUNT(*) FROM block_documents WHERE id = ?", (doc,))[0][0]) == 1
    other.close()


def test_saving_reuses_the_document(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    doc = blocks.record_block(block)
    block.save("named")
    assert document_count() == 1
    assert blocks.block_from_document(doc) == blocks.load_block("local-file-system/named")


def test_block_from_unknown_document() -> None:
    with pytest.raises(UnknownNameError):
        blocks.block_from_document("0" * 32)


# -- resolve_storage -------------------------------------------------------------------------


def test_resolve_storage_forms(tmp_path: Path) -> None:
    block = LocalFileSystem(basepath=str(tmp_path))
    assert resolve_storage(block) is block
    block.save("r")
    assert resolve_storage("local-file-system/r") == block
    with pytest.raises(TypeError, match="saved block slug"):
        resolve_storage(42)  # type: ignore[arg-type]
    with pytest.raises(UnknownNameError):
        resolve_storage("s3/missing")


# -- a block that defines only write_path and read_path is complete -------------------------


@attrs.frozen
class DictShelf(StorageBlock):
    """A minimal third-party block: two methods, everything else from the base class."""

    block_type: ClassVar[str] = "test-dict-shelf"
    _data: ClassVar[dict[tuple[str, str], bytes]] = {}

    name: str

    def write_path(self, path: str, content: bytes) -> str:
        from conveyor.filesystems import normalize_key

        key = normalize_key(path, block=self)
        self._data[(self.name, key)] = bytes(content)
        return f"dict:{self.name}/{key}"

    def read_path(self, path: str) -> bytes:
        from conveyor.exceptions import ResultNotFoundError
        from conveyor.filesystems import normalize_key

        key = normalize_key(path, block=self)
        try:
            return self._data[(self.name, key)]
        except KeyError:
            raise ResultNotFoundError(f"{self!r} has no key {path!r}") from None


class DictShelfPlugin:
    @hookimpl
    def conveyor_register_storage(self) -> list[type[StorageBlock]]:
        return [DictShelf]


@pytest.fixture
def dict_shelf_plugin():
    pm = plugins.make_plugin_manager(load_entry_points=False, plugins=[DictShelfPlugin()])
    with plugins.use_plugin_manager(pm):
        yield pm


class TestMinimalBlockConformance(StorageBlockConformance):
    """The base class's defaults make a two-method block pass the suite (delete aside)."""

    supports_delete = False
    supports_listing = False
    large_size = 3 << 20

    @pytest.fixture
    def storage_block(self, dict_shelf_plugin: object, tmp_path: Path) -> DictShelf:
        return DictShelf(name=str(tmp_path))

    def test_delete_default_says_it_cannot(self, storage_block: DictShelf) -> None:
        with pytest.raises(NotImplementedError, match="test-dict-shelf"):
            storage_block.delete("k")
