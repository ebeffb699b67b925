"""The distribution's own entry point is really installed and registers its class."""

import importlib_metadata
from conveyor.plugins import list_plugins, make_plugin_manager
from conveyor_serializer_pickle import PickleSerializer


def test_entry_point_is_installed():
    eps = {ep.name: ep for ep in importlib_metadata.entry_points(group="conveyor")}
    assert "serializer-pickle" in eps
    ep = eps["serializer-pickle"]
    assert ep.value == "conveyor_serializer_pickle.hooks"
    assert ep.dist.metadata["Name"] == "conveyor-serializer-pickle"


def test_entry_point_registers_the_class():
    pm = make_plugin_manager()
    info = {i.name: i for i in list_plugins(pm)}["serializer-pickle"]
    assert info.distribution == "conveyor-serializer-pickle"
    provided = info.serializers + info.storage
    assert provided == (getattr(PickleSerializer, "type", None) or PickleSerializer.block_type,)
