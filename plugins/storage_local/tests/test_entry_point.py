"""The distribution's own entry point is really installed and registers its class."""

import importlib_metadata
from conveyor.plugins import list_plugins, make_plugin_manager
from conveyor_storage_local import LocalFileSystem


def test_entry_point_is_installed():
    eps = {ep.name: ep for ep in importlib_metadata.entry_points(group="conveyor")}
    assert "storage-local" in eps
    ep = eps["storage-local"]
    assert ep.value == "conveyor_storage_local.hooks"
    assert ep.dist.metadata["Name"] == "conveyor-storage-local"


def test_entry_point_registers_the_class():
    pm = make_plugin_manager()
    info = {i.name: i for i in list_plugins(pm)}["storage-local"]
    assert info.distribution == "conveyor-storage-local"
    provided = info.serializers + info.storage
    assert provided == (getattr(LocalFileSystem, "type", None) or LocalFileSystem.block_type,)
