"""Task runners are plugins (``conveyor_register_task_runners``), chosen per flow or by
``CONVEYOR_TASK_RUNNER``; a remote runner's call (engine/remote.py) travels alone."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest
from conveyor import flow, plugins, task
from conveyor.engine.remote import Refused, RemoteCall, WritePlan, Written
from conveyor.exceptions import DuplicatePluginError, SettingsError
from conveyor.filesystems import LocalFileSystem
from conveyor.markers import hookimpl
from conveyor.serializers import resolve_serializer
from conveyor.task_runners import (
    SequentialTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    resolve_task_runner,
    task_runner_classes,
)


class _Recording(TaskRunner):
    """A runner of a test plugin: runs each submitted run at once, counting them."""

    name = "recording"
    submitted = 0

    def duplicate(self):
        return _Recording()

    def submit(self, fn):
        type(self).submitted += 1
        return SequentialTaskRunner().submit(fn)


class _Plugin:
    @hookimpl
    def conveyor_register_task_runners(self):
        return [_Recording]


def test_the_built_in_runners_are_registered_through_the_hook():
    classes = task_runner_classes()
    assert classes["thread-pool"] is ThreadPoolTaskRunner
    assert classes["sequential"] is SequentialTaskRunner
    info = {i.name: i for i in plugins.list_plugins()}["conveyor.task-runners"]
    assert info.task_runners == ("sequential", "thread-pool") and info.distribution == "conveyor"


def test_a_plugin_runner_is_importable_by_name_and_selected_by_the_setting(monkeypatch):
    pm = plugins.make_plugin_manager(plugins=[_Plugin()])
    with plugins.use_plugin_manager(pm):
        from conveyor.task_runners import _Recording as found  # via the module's __getattr__

        assert found is _Recording
        monkeypatch.setenv("CONVEYOR_TASK_RUNNER", "recording")

        @task
        def one():
            return 1

        @flow
        def pipeline():
            return one.submit().result()

        before = _Recording.submitted
        assert pipeline() == 1
        assert _Recording.submitted == before + 1


def test_the_setting_takes_an_argument_and_refuses_what_it_does_not_know(monkeypatch):
    monkeypatch.setenv("CONVEYOR_TASK_RUNNER", "thread-pool:3")
    runner = resolve_task_runner(None)
    assert isinstance(runner, ThreadPoolTaskRunner) and runner.max_workers == 3
    monkeypatch.setenv("CONVEYOR_TASK_RUNNER", "sequential")
    assert isinstance(resolve_task_runner(None), SequentialTaskRunner)
    for value, message in (
        ("thread-pool:many", r"whole number of threads"),
        ("sequential:2", r"takes no argument"),
        ("warp-drive", r"unknown task runner 'warp-drive'; available: .*sequential, thread-pool"),
    ):
        monkeypatch.setenv("CONVEYOR_TASK_RUNNER", value)
        with pytest.raises(SettingsError, match=rf"CONVEYOR_TASK_RUNNER={value!r}: .*{message}"):
            resolve_task_runner(None)
    monkeypatch.delenv("CONVEYOR_TASK_RUNNER")
    assert isinstance(resolve_task_runner(None), ThreadPoolTaskRunner)
    assert isinstance(resolve_task_runner(SequentialTaskRunner()), SequentialTaskRunner)


def test_the_dask_runner_without_its_plugin_says_what_to_install(monkeypatch):
    pm = plugins.make_plugin_manager(load_entry_points=False)
    with plugins.use_plugin_manager(pm):
        with pytest.raises(ImportError, match=r"DaskTaskRunner.*pip install .*'conveyor\[dask\]'"):
            from conveyor.task_runners import DaskTaskRunner  # noqa: F401
        monkeypatch.setenv("CONVEYOR_TASK_RUNNER", "dask")
        with pytest.raises(SettingsError, match=r"unknown task runner 'dask'.*conveyor-runner-dask"):
            resolve_task_runner(None)


def test_two_plugins_providing_one_runner_name_is_an_error():
    class _Other(_Recording):
        pass

    class _Again:
        @hookimpl
        def conveyor_register_task_runners(self):
            return [_Other]

    with pytest.raises(DuplicatePluginError, match=r"name 'recording' is provided twice"):
        plugins.make_plugin_manager(plugins=[_Plugin(), _Again()])


# -- the remote call --------------------------------------------------------------------


def _call(fn, plan, *args):
    return RemoteCall(fn, args, {}, None, plan, False, "t", "run-1", 1)


def test_a_remote_call_writes_a_value_to_persist_and_returns_only_where_it_is(tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path))
    serializer = resolve_serializer("pickle")
    plan = WritePlan(storage, serializer, "x/result.pickle", "anonymous/abc")
    call = cloudpickle.loads(cloudpickle.dumps(_call(lambda n: list(range(n)), plan, 5)))
    written = call()
    assert type(written) is Written and written.key == "x/result.pickle" and written.size > 0
    assert written.checksum.startswith("blake3:")
    assert pickle.loads(pickle.dumps(written)).checksum == written.checksum
    assert serializer.loads(storage.read_path("x/result.pickle")) == [0, 1, 2, 3, 4]


def test_a_remote_call_hands_back_literals_unpersisted_values_and_refusals(tmp_path):
    storage = LocalFileSystem(basepath=str(tmp_path))
    plan = WritePlan(storage, resolve_serializer("json"), "x/result.json", "anonymous/abc")
    assert _call(lambda: None, plan)() is None  # a literal: never written
    assert _call(lambda: {"a": 1}, None)() == {"a": 1}  # nothing to persist
    refused = _call(lambda: object(), plan)()
    assert type(refused) is Refused and "JSON" in str(refused.error)
    assert not (tmp_path / "x" / "result.json").exists()  # nothing under the key
