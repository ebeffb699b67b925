"""The hooks a conveyor plugin can implement.

Plugins are found through the entry-point group ``conveyor``; the entry point's value is
a module (by convention the plugin's ``hooks`` module) whose functions are marked with
:data:`hookimpl`. conveyor's own behaviour is registered through these same hooks
(the built-in plugins of :data:`conveyor.plugins.builtin.DEFAULT_PLUGINS`).

May import: conveyor.markers (and, for type hints only, the classes named in the specs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from conveyor.markers import PROJECT_NAME, hookimpl, hookspec

if TYPE_CHECKING:
    from conveyor.metadata.interface import MetadataStore
    from conveyor.policy import PersistenceDecision, PersistenceOptions
    from conveyor.runners.base import TaskRunner
    from conveyor.serialization.base import Serializer
    from conveyor.storage.base import StorageBlock

__all__ = [
    "PROJECT_NAME",
    "conveyor_register_metadata_backends",
    "conveyor_register_serializers",
    "conveyor_register_storage",
    "conveyor_register_task_runners",
    "conveyor_resolve_persistence",
    "conveyor_result_persisted",
    "hookimpl",
    "hookspec",
]


@hookspec
def conveyor_register_serializers() -> list[type[Serializer]]:
    """Return the serializer classes this plugin provides.

    Each class subclasses :class:`conveyor.serializers.Serializer` and carries its
    selection name in the class attribute ``type`` (what users pass as
    ``result_serializer="<type>"``). Two plugins providing the same ``type`` is an
    error naming both.

    :return: a list of ``Serializer`` subclasses (may be empty); each may
        instead be a :class:`conveyor.markers.ClassRef` naming the class, imported on first use.
    """


@hookspec
def conveyor_register_storage() -> list[type[StorageBlock]]:
    """Return the storage block classes this plugin provides.

    Each class subclasses :class:`conveyor.filesystems.StorageBlock` and carries its
    block type in the class attribute ``block_type`` (the first part of a saved block's
    slug, ``"<block_type>/<name>"``). Two plugins providing the same ``block_type`` is
    an error naming both.

    :return: a list of ``StorageBlock`` subclasses (may be empty); each may
        instead be a :class:`conveyor.markers.ClassRef` naming the class, imported on first use.
    """


@hookspec
def conveyor_register_metadata_backends() -> list[type[MetadataStore]]:
    """Return the metadata database backends this plugin provides.

    Each class implements :class:`conveyor.metadata.MetadataStore`, names the URL schemes
    it serves in the class attribute ``schemes`` (a tuple of strings, e.g.
    ``("postgresql", "postgres")``) and is built from a URL by the class method
    ``from_url(url: str)``. ``CONVEYOR_DATABASE_URL`` (or ``get_store(url)``) picks the
    class by the URL's scheme; conveyor's own SQLite store is the built-in backend of
    scheme ``sqlite`` (a plain path is a SQLite file too). Two plugins providing the same
    scheme is an error naming both.

    :return: a list of store classes (may be empty); each may
        instead be a :class:`conveyor.markers.ClassRef` naming the class, imported on first use.
    """


@hookspec
def conveyor_register_task_runners() -> list[type[TaskRunner]]:
    """Return the task runner classes this plugin provides.

    Each class subclasses :class:`conveyor.task_runners.TaskRunner` and carries its
    selection name in the class attribute ``name`` (what ``CONVEYOR_TASK_RUNNER=<name>``
    selects; ``<name>:<argument>`` calls the class's ``from_setting(argument)``), and is
    importable as ``conveyor.task_runners.<ClassName>``. The built-in ``thread-pool``
    and ``sequential`` runners are registered through this hook too. Two plugins
    providing the same ``name`` is an error naming both.

    :return: a list of ``TaskRunner`` subclasses (may be empty); each may
        instead be a :class:`conveyor.markers.ClassRef` naming the class, imported on first use.
    """


@hookspec(firstresult=True)
def conveyor_resolve_persistence(options: PersistenceOptions) -> PersistenceDecision | None:
    """Decide whether one task run or flow run persists its result.

    Called before a run's function is called: once per flow run, and once per task per
    flow run (a task's options cannot change within a flow run, so the answer is reused
    for its later calls in that flow run). The built-in rules of
    conveyor's documentation are registered ``trylast`` as the default, so a plugin's
    implementation runs first and can replace them.

    Stops at the first non-None result.

    :param options: everything that bears on the decision: the run's own explicit
        options, those of the nearest enclosing flow, whether a feature (retries,
        caching) needs the value later, and the settings' default.
    :return: a :class:`conveyor.policy.PersistenceDecision`, or ``None`` to leave the
        decision to the next implementation.
    """


@hookspec
def conveyor_result_persisted(
    run_id: str, run_kind: str, reference: Any
) -> None:
    """Called after a result has been written to storage and recorded.

    Use it to log, index or replicate results. An exception raised here is logged and
    does not fail the run.

    :param run_id: the id of the task run or flow run that produced the value.
    :param run_kind: ``"task"`` or ``"flow"``.
    :param reference: the :class:`conveyor.results.ResultReference` just written.
    """
