"""The distribution's own entry point is really installed and registers its class."""

import importlib_metadata
from conveyor.plugins import list_plugins, make_plugin_manager
from conveyor_serializer_json import JSONSerializer


def test_entry_point_is_installed():
    eps = {ep.name: ep for ep in importlib_metadata.entry_points(group="conveyor")}
    assert "serializer-json" in eps
    ep = eps["serializer-json"]
    assert ep.value == "conveyor_serializer_json.hooks"
    assert ep.dist.metadata["Name"] == "conveyor-serializer-json"


def test_entry_point_registers_the_class():
    pm = make_plugin_manager()
    info = {i.name: i for i in list_plugins(pm)}["serializer-json"]
    assert info.distribution == "conveyor-serializer-json"
    provided = info.serializers + info.storage
    assert provided == (getattr(JSONSerializer, "type", None) or JSONSerializer.block_type,)
