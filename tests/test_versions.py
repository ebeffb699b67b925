"""One version for every distribution: ``.ci/versions.py`` keeps the copies equal to the source.

The source is ``__version__`` in ``core/conveyor/__init__.py``; the copies are each
plugin's ``version`` and every ``==`` pin between our distributions (see the script's
docstring for why the plugins carry copies). ``make dist`` runs the same check.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import conveyor

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / ".ci" / "versions.py"


def _run(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(repo / ".ci" / "versions.py"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _copy_of_the_tree(tmp_path: Path) -> Path:
    """The files the script reads and writes, in a scratch repository."""
    copy = tmp_path / "repo"
    for rel in [".ci/versions.py", "core/conveyor/__init__.py", "pyproject.toml"]:
        (copy / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, copy / rel)
    for pyproject in (REPO / "plugins").glob("*/pyproject.toml"):
        target = copy / pyproject.relative_to(REPO)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(pyproject, target)
    return copy


def _project(path: Path) -> dict:
    return tomllib.loads(path.read_text(encoding="utf-8"))["project"]


def test_every_copy_of_the_version_agrees_with_the_source() -> None:
    proc = _run(REPO, "check")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_the_core_reads_its_version_from_the_source_and_the_plugins_copy_it() -> None:
    assert "version" in _project(REPO / "pyproject.toml")["dynamic"]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["tool"]["hatch"]["version"]["path"] == "core/conveyor/__init__.py"
    for plugin in (REPO / "plugins").glob("*/pyproject.toml"):
        assert _project(plugin)["version"] == conveyor.__version__, plugin


def test_a_copy_that_differs_is_named(tmp_path: Path) -> None:
    copy = _copy_of_the_tree(tmp_path)
    s3 = copy / "plugins" / "storage_s3" / "pyproject.toml"
    s3.write_text(s3.read_text().replace(f'version = "{conveyor.__version__}"', 'version = "9.9.9"'))
    root = copy / "pyproject.toml"
    root.write_text(root.read_text().replace("conveyor-serializer-json==", "conveyor-serializer-json>="))
    proc = _run(copy, "check")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, lines
    assert any("plugins/storage_s3/pyproject.toml: version '9.9.9'" in line for line in lines)
    assert any("conveyor-serializer-json>=" in line and "not pinned" in line for line in lines)
    assert all(line.endswith(f"run `make version V={conveyor.__version__}`") for line in lines)


def test_set_rewrites_the_source_and_every_copy(tmp_path: Path) -> None:
    copy = _copy_of_the_tree(tmp_path)
    proc = _run(copy, "set", "2.3.4rc1")
    assert proc.returncode == 0, proc.stderr
    assert 'set 2.3.4rc1 in core/conveyor/__init__.py' in proc.stdout
    assert '__version__ = "2.3.4rc1"' in (copy / "core" / "conveyor" / "__init__.py").read_text()
    root = _project(copy / "pyproject.toml")
    assert "conveyor-storage-local==2.3.4rc1" in root["dependencies"]
    assert root["optional-dependencies"]["s3"] == ["conveyor-storage-s3==2.3.4rc1"]
    for plugin in (copy / "plugins").glob("*/pyproject.toml"):
        project = _project(plugin)
        assert project["version"] == "2.3.4rc1"
        assert "conveyor==2.3.4rc1" in project["dependencies"]
    assert _run(copy, "check").returncode == 0
    # Nothing else moved: third-party requirements keep their own specifiers.
    assert "attrs>=23.1" in root["dependencies"] and "pytest>=8" in root["optional-dependencies"]["dev"]


def test_set_refuses_what_is_not_a_version(tmp_path: Path) -> None:
    copy = _copy_of_the_tree(tmp_path)
    before = (copy / "core" / "conveyor" / "__init__.py").read_text()
    proc = _run(copy, "set", "latest")
    assert proc.returncode != 0 and "'latest' is not a version" in proc.stderr
    assert (copy / "core" / "conveyor" / "__init__.py").read_text() == before
