"""Classes registered by name (``ClassRef``): imported on first use, failures named then."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from conveyor import hookimpl, plugins
from conveyor.exceptions import DuplicatePluginError, PluginLoadError, UnknownNameError
from conveyor.markers import ClassRef

SERIALIZER = """
from typing import ClassVar
import attrs
from conveyor.serializers import Serializer

@attrs.frozen
class Shout(Serializer):
    type: ClassVar[str] = "shout-test"
    def dumps(self, obj): return str(obj).upper().encode()
    def loads(self, data): return bytes(data).decode()
"""


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Path]:
    """A folder on sys.path for the tests' plugin modules (forgotten afterwards)."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [m for m in sys.modules if m.startswith("refplugin_")]:
        del sys.modules[name]


def _module(site: Path, name: str, source: str) -> None:
    (site / f"{name}.py").write_text(textwrap.dedent(source))


def _plugin(*refs: ClassRef) -> object:
    class RefPlugin:
        @hookimpl
        def conveyor_register_serializers(self):
            return list(refs)

    return RefPlugin()


def _manager(*plugin_objects: object) -> plugins.PluginManager:
    return plugins.make_plugin_manager(load_entry_points=False, plugins=plugin_objects, disabled=())


def test_a_named_class_is_imported_only_when_first_used(site: Path) -> None:
    _module(site, "refplugin_shout", SERIALIZER)
    pm = _manager(_plugin(ClassRef("shout-test", "refplugin_shout:Shout")))
    registry = pm.serializers
    assert "shout-test" in registry.names
    assert "refplugin_shout" not in sys.modules  # registered, listed, not imported
    assert [i.serializers for i in plugins.list_plugins(pm) if "shout-test" in i.serializers]
    assert "refplugin_shout" not in sys.modules
    with plugins.use_plugin_manager(pm):
        from conveyor.serializers import resolve_serializer

        shout = resolve_serializer("shout-test")
    assert "refplugin_shout" in sys.modules
    assert type(shout).__name__ == "Shout" and shout.dumps("a") == b"A"
    assert registry.get("shout-test") is type(shout)  # imported once, kept


def test_a_named_class_is_found_by_its_python_name(site: Path) -> None:
    _module(site, "refplugin_shout", SERIALIZER)
    pm = _manager(_plugin(ClassRef("shout-test", "refplugin_shout:Shout")))
    with plugins.use_plugin_manager(pm):
        from conveyor.serializers import Shout  # type: ignore[attr-defined]
    assert Shout.type == "shout-test"


def test_a_named_class_that_fails_to_import_is_reported_at_first_use(site: Path) -> None:
    _module(site, "refplugin_broken", "raise RuntimeError('boom at import')\n")
    pm = _manager(_plugin(ClassRef("broken-test", "refplugin_broken:Broken")))  # loads fine
    with pytest.raises(PluginLoadError) as info:
        pm.serializers.get("broken-test")
    message = str(info.value)
    assert "registers serializer 'broken-test' as refplugin_broken:Broken" in message
    assert "failed to import: RuntimeError: boom at import" in message
    assert "CONVEYOR_DISABLE_PLUGINS=" in message
    assert isinstance(info.value.__cause__, RuntimeError)
    with pytest.raises(UnknownNameError, match="available: .*broken-test"):
        pm.serializers.get("no-such-test")  # the other names still answer


def test_a_named_class_with_another_name_is_refused(site: Path) -> None:
    _module(site, "refplugin_shout", SERIALIZER)
    pm = _manager(_plugin(ClassRef("whisper-test", "refplugin_shout:Shout")))
    with pytest.raises(PluginLoadError, match="that class's type is 'shout-test'"):
        pm.serializers.get("whisper-test")


def test_a_name_given_twice_is_refused_when_the_manager_is_built(site: Path) -> None:
    with pytest.raises(DuplicatePluginError, match="'json' is provided twice.*refplugin_other.Json"):
        plugins.make_plugin_manager(plugins=[_plugin(ClassRef("json", "refplugin_other:Json"))])
    assert "refplugin_other" not in sys.modules  # found by name alone


def test_a_class_and_a_classref_of_that_class_are_one_provider(site: Path) -> None:
    _module(site, "refplugin_shout", SERIALIZER)
    from refplugin_shout import Shout  # type: ignore[import-not-found]

    class ByClass:
        @hookimpl
        def conveyor_register_serializers(self):
            return [Shout]

    pm = _manager(ByClass(), _plugin(ClassRef("shout-test", "refplugin_shout:Shout")))
    assert pm.serializers.get("shout-test") is Shout


@pytest.mark.parametrize(
    ("name", "path"),
    [("", "m:C"), (("a", ""), "m:C"), ("x", "m.C"), ("x", ":C"), ("x", "m:")],
)
def test_a_classref_says_what_is_wrong_with_it(name: object, path: str) -> None:
    with pytest.raises(ValueError, match="ClassRef"):
        ClassRef(name, path)  # type: ignore[arg-type]


def test_our_plugins_register_their_classes_by_name() -> None:
    """Loading every installed plugin imports none of their classes' modules."""
    code = textwrap.dedent("""
        import json, sys
        from conveyor import plugins
        pm = plugins.get_plugin_manager()
        names = [pm.serializers.names, pm.storage.names, pm.task_runners.names,
                 pm.metadata_backends.names]
        print(json.dumps([names, sorted(sys.modules)]))
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=120)
    names, loaded = json.loads(done.stdout)
    assert {"json", "pickle", "compressed"} <= set(names[0])
    assert {"local-file-system", "s3"} <= set(names[1])
    assert "dask" in names[2] and {"sqlite", "postgresql"} <= set(names[3])
    for module in (
        "conveyor_storage_s3.s3", "conveyor_storage_local.local", "conveyor_runner_dask.dask",
        "conveyor_serializer_json.json_serializer", "conveyor_serializer_pickle.pickle_serializer",
        "conveyor.serialization.compressed", "boto3", "distributed", "psycopg",
    ):
        assert module not in loaded, f"loading the plugins imported {module}"
