"""The distribution's own entry point is really installed and registers its class."""

import importlib_metadata
from conveyor.plugins import list_plugins, make_plugin_manager
from conveyor_storage_s3 import S3


def test_entry_point_is_installed():
    eps = {ep.name: ep for ep in importlib_metadata.entry_points(group="conveyor")}
    assert "storage-s3" in eps
    ep = eps["storage-s3"]
    assert ep.value == "conveyor_storage_s3.hooks"
    assert ep.dist.metadata["Name"] == "conveyor-storage-s3"


def test_entry_point_registers_the_class():
    pm = make_plugin_manager()
    info = {i.name: i for i in list_plugins(pm)}["storage-s3"]
    assert info.distribution == "conveyor-storage-s3"
    provided = info.serializers + info.storage
    assert provided == (getattr(S3, "type", None) or S3.block_type,)
