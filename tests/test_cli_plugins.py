"""``conveyor plugins [--json]``, in-process through ``conveyor.cli.main``."""

from __future__ import annotations

import json
from typing import Any, ClassVar

import attrs
import pytest
from conveyor import hookimpl, plugins
from conveyor.cli import main
from conveyor.filesystems import StorageBlock
from conveyor.serializers import Serializer


@attrs.frozen
class Upper(Serializer):
    type: ClassVar[str] = "test-upper"

    def dumps(self, obj: Any) -> bytes:
        return str(obj).upper().encode()

    def loads(self, data: bytes) -> Any:
        return data.decode()


@attrs.frozen
class Nowhere(StorageBlock):
    block_type: ClassVar[str] = "test-nowhere"

    def write_path(self, path: str, content: bytes) -> str:  # pragma: no cover - not used
        return path

    def read_path(self, path: str) -> bytes:  # pragma: no cover - not used
        return b""


class ThrowawayPlugin:
    @hookimpl
    def conveyor_register_serializers(self) -> list[type[Serializer]]:
        return [Upper]

    @hookimpl
    def conveyor_register_storage(self) -> list[type[StorageBlock]]:
        return [Nowhere]


def plugins_output(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert main(["plugins", *extra]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


@pytest.fixture
def with_throwaway():
    pm = plugins.make_plugin_manager(plugins=[ThrowawayPlugin()])
    with plugins.use_plugin_manager(pm):
        yield pm


def test_json_lists_installed_plugins_with_distribution_version_and_provides(
    capsys, fresh_plugin_manager
):
    listed = {p["name"]: p for p in json.loads(plugins_output(capsys, "--json"))}
    assert {"storage-local", "storage-s3", "serializer-json", "serializer-pickle"} <= set(listed)
    local = listed["storage-local"]
    assert local == {
        "name": "storage-local",
        "entry_point": "conveyor_storage_local.hooks",
        "distribution": "conveyor-storage-local",
        "version": local["version"],
        "serializers": [],
        "storage": ["local-file-system"],
        "hooks": ["conveyor_register_storage"],
        "metadata": [],
        "task_runners": [],
    }
    assert isinstance(local["version"], str) and local["version"]
    assert listed["serializer-json"]["serializers"] == ["json"]
    assert listed["serializer-pickle"]["serializers"] == ["pickle"]
    assert listed["storage-s3"]["storage"] == ["s3"]
    # the built-in policy rules are a plugin too, shipped by the core
    assert listed["conveyor.policy"]["distribution"] == "conveyor"
    assert "conveyor_resolve_persistence" in listed["conveyor.policy"]["hooks"]


def test_json_is_sorted_by_name(capsys, fresh_plugin_manager):
    names = [p["name"] for p in json.loads(plugins_output(capsys, "--json"))]
    assert names == sorted(names)


def test_text_output_names_distribution_entry_point_and_what_it_provides(
    capsys, fresh_plugin_manager
):
    out = plugins_output(capsys)
    block = out.split("storage-local  ", 1)[1].split("\n\n")[0].splitlines()
    assert block[0].startswith("conveyor-storage-local ")
    assert "    entry point: conveyor_storage_local.hooks" in block
    assert "    block types: local-file-system" in block
    assert "    serializers: json" in out


def test_throwaway_plugin_registered_directly_shows_up(capsys, with_throwaway):
    listed = json.loads(plugins_output(capsys, "--json"))
    mine = [p for p in listed if p["serializers"] == ["test-upper"]]
    assert len(mine) == 1
    assert mine[0]["storage"] == ["test-nowhere"]
    assert mine[0]["entry_point"] is None and mine[0]["distribution"] is None
    assert sorted(mine[0]["hooks"]) == [
        "conveyor_register_serializers",
        "conveyor_register_storage",
    ]
    assert "(registered directly)" in plugins_output(capsys)


def test_disabled_plugin_is_not_listed(capsys, monkeypatch):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "serializer-json,storage-s3")
    with plugins.use_plugin_manager(plugins.make_plugin_manager()):
        names = {p["name"] for p in json.loads(plugins_output(capsys, "--json"))}
    assert "serializer-json" not in names and "storage-s3" not in names
    assert "serializer-pickle" in names


def test_help(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plugins", "--help"])
    assert exc.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_unknown_option_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["plugins", "--yaml"])
    assert exc.value.code == 2
    assert "unrecognized arguments: --yaml" in capsys.readouterr().err


@pytest.fixture
def broken_distribution(tmp_path, monkeypatch):
    """A distribution on sys.path whose conveyor entry point cannot be imported."""
    info = tmp_path / "conveyor_broken-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: conveyor-broken\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text("[conveyor]\nbroken = conveyor_broken_missing.hooks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.set_plugin_manager(None)
    yield
    plugins.set_plugin_manager(None)


def test_broken_plugin_is_one_line_error_naming_it(capsys, broken_distribution):
    assert main(["plugins", "--json"]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("conveyor: error: conveyor plugin entry point 'broken'")
    assert "conveyor-broken 2.0" in lines[0]
    assert "CONVEYOR_DISABLE_PLUGINS=broken" in lines[0]


def test_broken_plugin_can_be_disabled(capsys, monkeypatch, broken_distribution):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "broken")
    names = {p["name"] for p in json.loads(plugins_output(capsys, "--json"))}
    assert "broken" not in names and "storage-local" in names
