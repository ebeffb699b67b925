"""conveyor and two third-party plugins really pip-installed into a fresh virtual environment.

One venv per test session (``real_venv``), built from the folders of this repository
(not editable): the core, its local/json/pickle plugins, and the two example plugins
of ``examples/plugins/`` (``conveyor-serializer-rot13``, ``conveyor-storage-reversed``).
``conveyor-storage-s3`` is not installed there. Everything below runs in child
processes of that venv; nothing in conveyor knows about the example plugins.
"""

from __future__ import annotations

import codecs
import json
import shutil
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


_venv = sys.modules["conveyor_tests_venv_helper"]  # loaded by tests/conftest.py


@pytest.fixture(scope="session")
def real_venv(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator:
    start = time.perf_counter()
    venv = _venv.build_venv(tmp_path_factory.mktemp("real-install") / "venv")
    total = time.perf_counter() - start
    steps = ", ".join(f"{name}: {secs:.1f} s" for name, secs in venv.timings)
    line = f"real-install venv built in {total:.1f} s ({steps})"
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capman = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is not None and capman is not None:
        with capman.global_and_fixture_disabled():
            reporter.write_line("")
            reporter.write_line(line)
    else:  # pragma: no cover
        print(line)
    yield venv


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory outside the repository, so nothing is imported from it."""
    work = tmp_path / "work"
    work.mkdir()
    return work


def _plugins_json(venv, workdir: Path, **env: str) -> dict[str, dict]:
    proc = venv.run(["conveyor", "plugins", "--json"], cwd=workdir, env=venv.env(workdir, **env))
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}


def test_conveyor_is_imported_from_the_venv_not_the_repo(real_venv, workdir):
    code = "import conveyor, conveyor_serializer_rot13 as r; print(conveyor.__file__, r.__file__)"
    proc = real_venv.run(["python", "-c", code], cwd=workdir, env=real_venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.split():
        assert str(real_venv.path) in line, line
        assert "site-packages" in line


def test_plugins_json_lists_both_example_plugins(real_venv, workdir):
    plugins = _plugins_json(real_venv, workdir)

    rot13 = plugins["serializer-rot13"]
    assert rot13["distribution"] == "conveyor-serializer-rot13"
    assert rot13["version"] == "0.1.0"
    assert rot13["entry_point"] == "conveyor_serializer_rot13.hooks"
    assert rot13["serializers"] == ["rot13-json"]
    assert rot13["storage"] == []

    reversed_ = plugins["storage-reversed"]
    assert reversed_["distribution"] == "conveyor-storage-reversed"
    assert reversed_["version"] == "0.1.0"
    assert reversed_["entry_point"] == "conveyor_storage_reversed.hooks"
    assert reversed_["storage"] == ["reversed-dir"]
    assert reversed_["serializers"] == []

    # The core's own plugins are there as real installs too; S3 is not installed.
    assert plugins["storage-local"]["distribution"] == "conveyor-storage-local"
    assert "storage-s3" not in plugins


def test_plugins_text_output_names_them(real_venv, workdir):
    proc = real_venv.run(["conveyor", "plugins"], cwd=workdir, env=real_venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    assert "conveyor-serializer-rot13 0.1.0" in proc.stdout
    assert "conveyor-storage-reversed 0.1.0" in proc.stdout


def test_disable_plugins_hides_one(real_venv, workdir):
    plugins = _plugins_json(real_venv, workdir, CONVEYOR_DISABLE_PLUGINS="serializer-rot13")
    assert "serializer-rot13" not in plugins
    assert "storage-reversed" in plugins

    plugins = _plugins_json(
        real_venv, workdir, CONVEYOR_DISABLE_PLUGINS="serializer-rot13, storage-reversed"
    )
    assert "serializer-rot13" not in plugins and "storage-reversed" not in plugins


def test_disabled_serializer_is_unknown_with_the_list_of_available_ones(real_venv, workdir):
    code = "from conveyor.serializers import resolve_serializer; resolve_serializer('rot13-json')"
    proc = real_venv.run(
        ["python", "-c", code],
        cwd=workdir,
        env=real_venv.env(workdir, CONVEYOR_DISABLE_PLUGINS="serializer-rot13"),
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "unknown serializer 'rot13-json'; available: " in last
    available = last.split("available: ", 1)[1].split(";")[0].split(", ")
    assert {"json", "pickle"} <= set(available) and "rot13-json" not in available


def test_missing_plugin_class_names_the_distribution_to_install(real_venv, workdir):
    proc = real_venv.run(
        ["python", "-c", "from conveyor.filesystems import S3"],
        cwd=workdir,
        env=real_venv.env(workdir),
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError")
    assert "conveyor-storage-s3" in last


def test_example_classes_are_reachable_through_the_registries(real_venv, workdir):
    code = textwrap.dedent(
        """
        from conveyor.filesystems import ReversedDir
        from conveyor.serializers import Rot13JSON, resolve_serializer
        assert resolve_serializer("rot13-json") == Rot13JSON()
        s = Rot13JSON()
        assert s.dumps({"a": "hello"}) == b'{"n": "uryyb"}', s.dumps({"a": "hello"})
        assert s.loads(s.dumps([1, "x", None])) == [1, "x", None]
        print(ReversedDir.__module__, Rot13JSON.__module__)
        """
    )
    proc = real_venv.run(["python", "-c", code], cwd=workdir, env=real_venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [
        "conveyor_storage_reversed.reversed_dir",
        "conveyor_serializer_rot13.rot13",
    ]


def test_blocks_cli_saves_a_block_of_a_plugin_type(real_venv, workdir):
    env = real_venv.env(workdir)
    root = workdir / "reversed-store"
    proc = real_venv.run(
        ["conveyor", "blocks", "create", "reversed-dir", "demo", "--root", str(root)],
        cwd=workdir,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    proc = real_venv.run(["conveyor", "blocks", "ls", "--json"], cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"slug": "reversed-dir/demo", "config": {"root": str(root)}}]
    code = (
        "from conveyor.blocks import load_block; b = load_block('reversed-dir/demo'); "
        "print(type(b).__name__, b.root)"
    )
    proc = real_venv.run(["python", "-c", code], cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ReversedDir", str(root)]


FLOW_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    from conveyor import flow, task
    from conveyor.filesystems import ReversedDir

    storage = sys.argv[1]          # a directory, or a saved block's slug
    if "/" not in storage or storage.startswith("/"):
        storage = ReversedDir(root=storage)


    @task
    def words(n):
        return ["alpha", "beta", "gamma"][:n]


    @flow(result_serializer="rot13-json", result_storage=storage)
    def report(n):
        return {"n": n, "words": words(n)}


    state = report(2, return_state=True)
    print(json.dumps({"run_id": state.run_id, "value": state.result()}))
    """
)

READ_BACK_SCRIPT = textwrap.dedent(
    """
    import json
    import sys

    from conveyor import get_client
    from conveyor.results import ResultReference

    run = get_client().read_flow_run(sys.argv[1])
    data = run.state.data
    assert isinstance(data, ResultReference), data
    print(json.dumps({
        "flow_name": run.flow_name,
        "value": run.state.result(),
        "serializer": data.serializer,
        "storage": data.storage,
        "key": data.key,
    }))
    """
)


def _run_flow(venv, workdir: Path, storage: str) -> tuple[str, dict]:
    (workdir / "flow.py").write_text(FLOW_SCRIPT)
    (workdir / "read_back.py").write_text(READ_BACK_SCRIPT)
    env = venv.env(workdir)
    proc = venv.run(["python", "flow.py", storage], cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    produced = json.loads(proc.stdout.strip().splitlines()[-1])
    assert produced["value"] == {"n": 2, "words": ["alpha", "beta"]}
    # A second process reads the run back from the metadata store and the value from storage.
    proc = venv.run(["python", "read_back.py", produced["run_id"]], cwd=workdir, env=env)
    assert proc.returncode == 0, proc.stderr
    return produced["run_id"], json.loads(proc.stdout.strip().splitlines()[-1])


def _stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def test_flow_persists_with_both_example_plugins_and_reads_back_elsewhere(real_venv, workdir):
    root = workdir / "reversed-store"
    _run_id, back = _run_flow(real_venv, workdir, str(root))

    assert back["flow_name"] == "report"
    assert back["value"] == {"n": 2, "words": ["alpha", "beta"]}
    assert back["serializer"] == {"type": "rot13-json"}
    assert back["storage"].startswith("anonymous/")

    # The plugin really wrote it: the file at the reference's key, bytes reversed, payload
    # rot13-encoded. (The flow run's parameters are kept there too, by reference: every
    # file under root is a whole stored result written through the plugin.)
    files = _stored_files(root)
    assert root / back["key"] in files, files
    # plain payloads: each file, unreversed, is exactly the serializer's output (JSON text)
    assert all(f.read_bytes()[::-1].lstrip().startswith(b"{") for f in files), files
    raw = (root / back["key"]).read_bytes()
    unreversed = raw[::-1]
    assert b'"jbeqf": ["nycun", "orgn"]' in unreversed  # rot13 of "words": ["alpha", "beta"]
    assert json.loads(codecs.decode(unreversed.decode(), "rot_13")) == back["value"]
    assert b"alpha" not in raw and b"alpha" not in unreversed
    # Nothing went to the default local storage.
    assert not (workdir / "conveyor-results").exists() or not _stored_files(
        workdir / "conveyor-results"
    )


def test_flow_uses_a_saved_plugin_block_by_slug(real_venv, workdir):
    env = real_venv.env(workdir)
    root = workdir / "saved-store"
    proc = real_venv.run(
        ["conveyor", "blocks", "create", "reversed-dir", "shelf", "--root", str(root)],
        cwd=workdir,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    _run_id, back = _run_flow(real_venv, workdir, "reversed-dir/shelf")
    assert back["storage"] == "reversed-dir/shelf"
    assert back["value"] == {"n": 2, "words": ["alpha", "beta"]}
    files = _stored_files(root)
    assert root / back["key"] in files, files
    assert all(f.read_bytes()[::-1].lstrip().startswith(b"{") for f in files), files


@pytest.mark.parametrize(
    ("folder", "package"),
    [
        ("conveyor-serializer-rot13", "conveyor_serializer_rot13"),
        ("conveyor-storage-reversed", "conveyor_storage_reversed"),
    ],
)
def test_example_plugin_passes_its_own_tests_when_installed(real_venv, workdir, folder, package):
    """The example's tests (conveyor's conformance suite) against the installed plugin.

    Only the tests and their configuration are copied, not the package, so what is
    imported is the installed distribution.
    """
    source = _venv.REPO / "examples" / "plugins" / folder
    copy = workdir / folder
    shutil.copytree(source / "tests", copy / "tests", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "conftest.py"):
        shutil.copy2(source / name, copy / name)
    assert not (copy / package).exists()
    proc = real_venv.run(
        ["python", "-m", "pytest", "-q", "-p", "no:randomly"],
        cwd=copy,
        env=real_venv.env(workdir),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and " failed" not in proc.stdout
