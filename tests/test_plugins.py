"""The plugin manager: registration, entry points, failure paths, registries."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import attrs
import importlib.metadata as importlib_metadata
import pytest
from conveyor import hookimpl, plugins
from conveyor.exceptions import DuplicatePluginError, PluginLoadError, UnknownNameError
from conveyor.filesystems import StorageBlock
from conveyor.serializers import Serializer, get_serializer_class, resolve_serializer


@attrs.frozen
class UpperSerializer(Serializer):
    type: ClassVar[str] = "upper-test"

    def dumps(self, obj):
        return str(obj).upper().encode()

    def loads(self, data):
        return data.decode()


@attrs.frozen
class MemoryBlock(StorageBlock):
    block_type: ClassVar[str] = "memory-test"
    label: str = "x"

    def write_path(self, path, content):
        return path

    def read_path(self, path):
        return b""


class ThrowawayPlugin:
    @hookimpl
    def conveyor_register_serializers(self):
        return [UpperSerializer]

    @hookimpl
    def conveyor_register_storage(self):
        return [MemoryBlock]


def make_dist(tmp_path: Path, name: str, version: str, entry_points: dict[str, str], modules: dict[str, str]):
    """A real distribution on disk (dist-info + modules) and its entry points."""
    site = tmp_path / f"site-{name}"
    site.mkdir()
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in entry_points.items())
    (info / "entry_points.txt").write_text(f"[conveyor]\n{lines}\n")
    for mod, source in modules.items():
        (site / f"{mod}.py").write_text(textwrap.dedent(source))
    sys.path.insert(0, str(site))
    dist = next(iter(importlib_metadata.distributions(path=[str(site)])))
    return list(dist.entry_points.select(group="conveyor"))


@pytest.fixture(autouse=True)
def _restore_sys_path():
    saved = list(sys.path)
    saved_modules = set(sys.modules)
    yield
    sys.path[:] = saved
    for mod in set(sys.modules) - saved_modules:
        if mod.startswith("fakeplugin_"):
            del sys.modules[mod]


def test_throwaway_plugin_registers_and_unregisters():
    plugin = ThrowawayPlugin()
    pm = plugins.make_plugin_manager(plugins=[plugin])
    with plugins.use_plugin_manager(pm):
        assert get_serializer_class("upper-test") is UpperSerializer
        assert plugins.storage_classes()["memory-test"] is MemoryBlock
        assert resolve_serializer("upper-test").dumps("abc") == b"ABC"
        from conveyor.filesystems import MemoryBlock as imported

        assert imported is MemoryBlock
    # Outside the block the process's own manager is back and knows nothing of it.
    with pytest.raises(UnknownNameError, match="unknown serializer 'upper-test'; available: "):
        get_serializer_class("upper-test")


def test_builtin_plugins_are_registered_on_every_manager():
    pm = plugins.make_plugin_manager(load_entry_points=False)
    assert pm.get_plugin("conveyor.policy") is not None
    # Without entry points there are no serializers at all, and the error says so.
    with plugins.use_plugin_manager(pm), pytest.raises(UnknownNameError) as info:
        get_serializer_class("json")
    assert "unknown serializer 'json'; available: compressed;" in str(info.value)  # built in
    assert "install conveyor-serializer-json" in str(info.value)


def test_installed_plugins_provide_defaults():
    names = plugins.serializer_classes()
    assert {"json", "pickle"} <= set(names)
    assert {"local-file-system", "s3"} <= set(plugins.storage_classes())
    assert list(names) == sorted(names)


def test_plugin_that_fails_to_import_names_entry_point_distribution_and_version(tmp_path):
    eps = make_dist(
        tmp_path,
        "conveyor-broken",
        "1.2.3",
        {"broken": "fakeplugin_broken"},
        {"fakeplugin_broken": "raise RuntimeError('boom at import')\n"},
    )
    with pytest.raises(PluginLoadError) as info:
        plugins.make_plugin_manager(entry_points=eps)
    message = str(info.value)
    assert "'broken'" in message
    assert "conveyor-broken 1.2.3" in message
    assert "boom at import" in message
    assert "CONVEYOR_DISABLE_PLUGINS=broken" in message
    assert isinstance(info.value.__cause__, RuntimeError)


def test_plugin_with_missing_module_is_a_load_error(tmp_path):
    eps = make_dist(tmp_path, "conveyor-ghost", "0.1", {"ghost": "fakeplugin_does_not_exist"}, {})
    with pytest.raises(PluginLoadError, match="conveyor-ghost 0.1") as info:
        plugins.make_plugin_manager(entry_points=eps)
    assert isinstance(info.value.__cause__, ImportError)


def test_misspelt_hook_fails_at_once(tmp_path):
    eps = make_dist(
        tmp_path,
        "conveyor-typo",
        "0.2",
        {"typo": "fakeplugin_typo"},
        {
            "fakeplugin_typo": """
            from conveyor import hookimpl

            @hookimpl
            def conveyor_register_serialisers():
                return []
            """
        },
    )
    with pytest.raises(Exception, match="conveyor_register_serialisers"):
        plugins.make_plugin_manager(entry_points=eps)


def test_disabled_plugin_is_not_loaded(tmp_path):
    eps = make_dist(
        tmp_path, "conveyor-broken2", "1.0", {"broken2": "fakeplugin_broken2"},
        {"fakeplugin_broken2": "raise RuntimeError('never imported')\n"},
    )
    pm = plugins.make_plugin_manager(entry_points=eps, disabled=["broken2"])
    assert pm.get_plugin("broken2") is None


def test_disable_plugins_setting(monkeypatch):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "storage-s3, serializer-json")
    pm = plugins.make_plugin_manager()
    names = {name for name, _ in pm.list_name_plugin()}
    assert "storage-s3" not in names and "serializer-json" not in names
    assert "storage-local" in names
    with plugins.use_plugin_manager(pm):
        # Installed but disabled: the error names the setting to change, not "install ...".
        with pytest.raises(ImportError) as imported:
            from conveyor.filesystems import S3  # noqa: F401
        assert "its plugin conveyor-storage-s3 is installed but disabled by " in str(imported.value)
        assert "CONVEYOR_DISABLE_PLUGINS=storage-s3; remove 'storage-s3'" in str(imported.value)
        assert "pip install" not in str(imported.value)
        with pytest.raises(UnknownNameError) as info:
            resolve_serializer("json")
        message = str(info.value)
        assert message.startswith("unknown serializer 'json'; available: compressed, pickle; ")
        assert "conveyor-serializer-json is installed but disabled by CONVEYOR_DISABLE_PLUGINS" in message
        assert "install conveyor-serializer-json" not in message
    # Not installed at all (no entry points loaded): the install hint, as before.
    bare = plugins.make_plugin_manager(load_entry_points=False)
    with plugins.use_plugin_manager(bare), pytest.raises(UnknownNameError, match="install conveyor-serializer-json"):
        resolve_serializer("json")


def test_disabling_storage_local_says_so(monkeypatch):
    from conveyor.filesystems import default_storage

    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "storage-local")
    with plugins.use_plugin_manager(plugins.make_plugin_manager()), pytest.raises(UnknownNameError) as info:
        default_storage()
    assert "disabled by CONVEYOR_DISABLE_PLUGINS=storage-local" in str(info.value)
    assert "install conveyor-storage-local" not in str(info.value)


def test_an_unknown_name_in_disable_plugins_is_reported(monkeypatch, caplog):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "storage-lokal, serializer-json")
    with caplog.at_level("WARNING", logger="conveyor.plugins"):
        pm = plugins.make_plugin_manager()
    assert pm.get_plugin("storage-local") is not None
    warnings = [r.getMessage() for r in caplog.records if r.name == "conveyor.plugins"]
    assert len(warnings) == 1, warnings
    assert "CONVEYOR_DISABLE_PLUGINS names 'storage-lokal'" in warnings[0]
    assert "installed entry points: metadata-postgres, runner-dask, serializer-json, serializer-pickle, storage-local, storage-s3" in warnings[0]
    assert "serializer-json'" not in warnings[0].split("installed")[0]  # a real one is not reported


def test_two_plugins_with_the_same_serializer_type_name_both(tmp_path):
    source = """
        from typing import ClassVar
        import attrs
        from conveyor import hookimpl
        from conveyor.serializers import Serializer

        @attrs.frozen
        class Clash(Serializer):
            type: ClassVar[str] = "json"
            def dumps(self, obj): return b""
            def loads(self, data): return None

        @hookimpl
        def conveyor_register_serializers():
            return [Clash]
    """
    eps = make_dist(tmp_path, "conveyor-clash", "9.9", {"clash": "fakeplugin_clash"}, {"fakeplugin_clash": source})
    installed = list(importlib_metadata.entry_points(group="conveyor"))
    with pytest.raises(DuplicatePluginError) as info:
        plugins.make_plugin_manager(entry_points=installed + eps)
    message = str(info.value)
    assert "type 'json' is provided twice" in message
    assert "conveyor-serializer-json" in message and "conveyor-clash 9.9" in message
    assert "JSONSerializer" in message and "Clash" in message


def test_two_plugins_with_the_same_block_type_name_both():
    @attrs.frozen
    class OtherLocal(StorageBlock):
        block_type: ClassVar[str] = "local-file-system"

        def write_path(self, path, content):
            return path

        def read_path(self, path):
            return b""

    class Clasher:
        @hookimpl
        def conveyor_register_storage(self):
            return [OtherLocal]

    with pytest.raises(DuplicatePluginError, match="block_type 'local-file-system' is provided twice") as info:
        plugins.make_plugin_manager(plugins=[Clasher()])
    assert "conveyor-storage-local" in str(info.value) and "OtherLocal" in str(info.value)


def test_class_without_its_name_attribute_is_refused():
    class Nameless(Serializer):
        def dumps(self, obj):
            return b""

        def loads(self, data):
            return None

    class Bad:
        @hookimpl
        def conveyor_register_serializers(self):
            return [Nameless]

    with pytest.raises(PluginLoadError, match="without a string class attribute 'type'"):
        plugins.make_plugin_manager(plugins=[Bad()])


def test_list_plugins_describes_entry_points():
    infos = {i.name: i for i in plugins.list_plugins()}
    local = infos["storage-local"]
    assert local.entry_point == "conveyor_storage_local.hooks"
    assert local.distribution == "conveyor-storage-local"
    assert local.storage == ("local-file-system",)
    assert "conveyor_register_storage" in local.hooks
    assert infos["conveyor.policy"].distribution == "conveyor"


def test_result_persisted_hook_failures_are_logged_not_raised(caplog):
    calls = []

    class Listener:
        @hookimpl
        def conveyor_result_persisted(self, run_id, run_kind, reference):
            calls.append((run_id, run_kind, reference))

    class Broken:
        @hookimpl
        def conveyor_result_persisted(self, run_id, run_kind, reference):
            raise RuntimeError("listener broke")

    pm = plugins.make_plugin_manager(plugins=[Listener(), Broken()])
    with plugins.use_plugin_manager(pm):
        plugins.result_persisted("run-1", "task", "ref")
    assert calls == [("run-1", "task", "ref")]
    assert "listener broke" in caplog.text


def test_plugin_manager_factory_gives_independent_managers():
    a = plugins.make_plugin_manager()
    b = plugins.make_plugin_manager()
    assert a is not b
    a.register(ThrowawayPlugin(), name="only-in-a")
    assert b.get_plugin("only-in-a") is None
