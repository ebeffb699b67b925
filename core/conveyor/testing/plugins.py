"""A test class that checks a plugin's entry point, for plugin authors.

A plugin's tests subclass :class:`EntryPointConformance` and set class attributes; the
subclass (named ``Test...`` so pytest collects it) gets the tests::

    from conveyor.testing.plugins import EntryPointConformance
    from conveyor_storage_webdav import WebDAV


    class TestEntryPoint(EntryPointConformance):
        distribution = "conveyor-storage-webdav"
        entry_point = "storage-webdav"
        storage = (WebDAV,)

They need the distribution to be installed (``pip install -e .``): they read the
installed entry points, as conveyor does at run time.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING, ClassVar

import importlib.metadata as importlib_metadata

from conveyor import plugins
from conveyor.plugins.listing import list_plugins
from conveyor.markers import ClassRef

if TYPE_CHECKING:
    from conveyor.filesystems import StorageBlock
    from conveyor.serializers import Serializer
    from conveyor.task_runners import TaskRunner

#: The entry-point group conveyor loads its plugins from.
ENTRY_POINT_GROUP = "conveyor"

_REGISTER_HOOKS = {
    "serializers": "conveyor_register_serializers",
    "storage": "conveyor_register_storage",
    "metadata_backends": "conveyor_register_metadata_backends",
    "task_runners": "conveyor_register_task_runners",
}


class EntryPointConformance:
    """The plugin's entry point is installed and registers exactly the expected classes.

    Set on the subclass:

    - ``distribution``: the distribution's name, e.g. ``"conveyor-storage-s3"``.
    - ``entry_point``: the entry point's name in the group ``conveyor``, e.g.
      ``"storage-s3"``.
    - ``serializers``, ``storage``, ``metadata_backends`` and/or ``task_runners``: the
      serializer classes, the storage block classes, the metadata store classes and the
      task runner classes the plugin registers (a tuple each; at least one class in all).
    - ``hooks_module`` (optional): the entry point's value; by default the package
      named after the distribution, then ``.hooks`` (``"conveyor_storage_s3.hooks"``).
    """

    distribution: ClassVar[str] = ""
    entry_point: ClassVar[str] = ""
    serializers: ClassVar[tuple[type[Serializer], ...]] = ()
    storage: ClassVar[tuple[type[StorageBlock], ...]] = ()
    metadata_backends: ClassVar[tuple[type, ...]] = ()
    task_runners: ClassVar[tuple[type[TaskRunner], ...]] = ()
    hooks_module: ClassVar[str | None] = None

    # -- what the subclass declares ------------------------------------------------------

    @classmethod
    def expected_hooks_module(cls) -> str:
        """The entry point's expected value: ``hooks_module``, or ``<package>.hooks``."""
        return cls.hooks_module or cls.distribution.replace("-", "_") + ".hooks"

    @classmethod
    def expected_serializers(cls) -> dict[str, type[Serializer]]:
        return {klass.type: klass for klass in cls.serializers}

    @classmethod
    def expected_task_runners(cls) -> dict[str, type[TaskRunner]]:
        return {klass.name: klass for klass in cls.task_runners}

    @classmethod
    def expected_storage(cls) -> dict[str, type[StorageBlock]]:
        return {klass.block_type: klass for klass in cls.storage}

    @classmethod
    def expected_metadata_backends(cls) -> dict[str, type]:
        return {scheme: klass for klass in cls.metadata_backends for scheme in klass.schemes}

    def installed_entry_point(self) -> importlib_metadata.EntryPoint:
        """The installed entry point named ``entry_point`` in the group ``conveyor``."""
        found = {ep.name: ep for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP)}
        assert self.entry_point in found, (
            f"no entry point {self.entry_point!r} in the group {ENTRY_POINT_GROUP!r} "
            f"(installed: {', '.join(sorted(found)) or 'none'}); is {self.distribution} "
            f"installed (pip install -e .)?"
        )
        return found[self.entry_point]

    def hooks(self) -> ModuleType:
        return importlib.import_module(self.expected_hooks_module())

    # -- the tests -----------------------------------------------------------------------

    def test_subclass_declares_what_the_plugin_provides(self) -> None:
        assert isinstance(self.distribution, str) and self.distribution, "set distribution"
        assert isinstance(self.entry_point, str) and self.entry_point, "set entry_point"
        assert self.serializers or self.storage or self.metadata_backends or self.task_runners, (
            "set serializers, storage, metadata_backends and/or task_runners"
        )
        for klass in self.metadata_backends:
            schemes = getattr(klass, "schemes", None)
            assert isinstance(schemes, tuple) and schemes, f"{klass!r} has no tuple 'schemes'"
            assert callable(getattr(klass, "from_url", None)), f"{klass!r} has no from_url"
        for klass in self.serializers:
            assert isinstance(getattr(klass, "type", None), str), f"{klass!r} has no str 'type'"
        for klass in self.storage:
            assert isinstance(getattr(klass, "block_type", None), str), (
                f"{klass!r} has no str 'block_type'"
            )
        assert len(self.expected_serializers()) == len(self.serializers), "a serializer type twice"
        assert len(self.expected_storage()) == len(self.storage), "a block type twice"
        assert len(self.expected_task_runners()) == len(self.task_runners), "a runner name twice"

    def test_entry_point_is_installed(self) -> None:
        ep = self.installed_entry_point()
        assert ep.group == ENTRY_POINT_GROUP
        assert ep.value == self.expected_hooks_module()
        assert ep.dist is not None and ep.dist.metadata["Name"] == self.distribution

    def test_entry_point_loads_the_hooks_module(self) -> None:
        ep = self.installed_entry_point()
        assert ep.load() is self.hooks()

    def test_entry_point_registers_the_class(self) -> None:
        """A fresh plugin manager registers the hooks module under the entry point's name,
        the module's registration hooks return the expected classes (or ClassRefs naming
        them), and the registries hold them."""
        pm = plugins.make_plugin_manager()
        hooks = self.hooks()
        assert pm.get_plugin(self.entry_point) is hooks
        for kind, hook_name in _REGISTER_HOOKS.items():
            hook = getattr(hooks, hook_name, None)
            returned = list(hook() or ()) if hook is not None else []
            # a ClassRef names the class by import path: it must name the expected one
            classes = [item.load() if isinstance(item, ClassRef) else item for item in returned]
            assert set(classes) == set(getattr(self, kind)), f"what {hook_name}() returns"
        with plugins.use_plugin_manager(pm):
            serializers = plugins.serializer_classes()
            storage = plugins.storage_classes()
            backends = plugins.metadata_backends().classes
            runners = plugins.task_runner_classes()
        for scheme, klass in self.expected_metadata_backends().items():
            assert backends.get(scheme) is klass, f"metadata URL scheme {scheme!r}"
        for name, klass in self.expected_task_runners().items():
            assert runners.get(name) is klass, f"task runner {name!r}"
        for name, klass in self.expected_serializers().items():
            assert serializers.get(name) is klass, f"serializer type {name!r}"
        for name, klass in self.expected_storage().items():
            assert storage.get(name) is klass, f"block type {name!r}"

    def test_registries_hold_exactly_the_expected_classes(self) -> None:
        """A manager with only the built-ins and this entry point: the plugin adds exactly
        the expected classes to the registries, and replaces none."""
        builtin = plugins.make_plugin_manager(load_entry_points=False, disabled=())
        alone = plugins.make_plugin_manager(
            entry_points=[self.installed_entry_point()], disabled=()
        )
        with plugins.use_plugin_manager(builtin):
            base_serializers = dict(plugins.serializer_classes())
            base_storage = dict(plugins.storage_classes())
            base_backends = dict(plugins.metadata_backends().classes)
            base_runners = dict(plugins.task_runner_classes())
        with plugins.use_plugin_manager(alone):
            serializers = dict(plugins.serializer_classes())
            storage = dict(plugins.storage_classes())
            backends = dict(plugins.metadata_backends().classes)
            runners = dict(plugins.task_runner_classes())
        added_backends = {k: v for k, v in backends.items() if k not in base_backends}
        assert added_backends == self.expected_metadata_backends()
        assert {k: backends[k] for k in base_backends} == base_backends
        added_runners = {k: v for k, v in runners.items() if k not in base_runners}
        assert added_runners == self.expected_task_runners()
        assert {k: runners[k] for k in base_runners} == base_runners
        added_serializers = {k: v for k, v in serializers.items() if k not in base_serializers}
        added_storage = {k: v for k, v in storage.items() if k not in base_storage}
        assert added_serializers == self.expected_serializers()
        assert added_storage == self.expected_storage()
        assert {k: serializers[k] for k in base_serializers} == base_serializers
        assert {k: storage[k] for k in base_storage} == base_storage

    def test_list_plugins_reports_it(self) -> None:
        pm = plugins.make_plugin_manager()
        info = {i.name: i for i in list_plugins(pm)}[self.entry_point]
        assert info.entry_point == self.expected_hooks_module()
        assert info.distribution == self.distribution
        assert info.version is not None
        assert info.version == importlib_metadata.version(self.distribution)
        assert info.serializers == tuple(sorted(self.expected_serializers()))
        assert info.storage == tuple(sorted(self.expected_storage()))
        assert info.metadata == tuple(sorted(self.expected_metadata_backends()))
        assert info.task_runners == tuple(sorted(self.expected_task_runners()))
        expected_hooks = {_REGISTER_HOOKS[kind] for kind in _REGISTER_HOOKS if getattr(self, kind)}
        assert expected_hooks <= set(info.hooks)
