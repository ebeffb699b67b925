"""One version for every conveyor distribution: check that the copies agree, or set a new one.

The one source is ``__version__`` in ``core/conveyor/__init__.py``. The core's build reads
it from there (hatchling's version source); the file is inside the core's sdist and
wheel, so a wheel built from the sdist gets the same version, and ``conveyor plugins``
reports it at run time. A plugin is built from its own folder alone (its sdist must
build anywhere, so its build may read nothing outside that folder): its
``pyproject.toml`` carries a copy in ``version`` and in its ``conveyor==`` requirement,
and the core's ``pyproject.toml`` pins each plugin of ours with ``==``. This script keeps
those copies equal to the source:

    python .ci/versions.py check        # every copy that differs, one line each; exit 1 if any
    python .ci/versions.py set 0.2.0    # rewrite the source and every copy (make version V=0.2.0)

``make dist`` runs ``check`` before building; ``tests/test_versions.py`` runs it too.
The plugins are the folders ``plugins/*/`` with a ``pyproject.toml`` (the template
included, so a plugin stamped from it starts with the right version and pin).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO / "core" / "conveyor" / "__init__.py"
ROOT_PYPROJECT = REPO / "pyproject.toml"

_SOURCE_LINE = re.compile(r'^__version__ = "(?P<version>[^"]+)"$', re.MULTILINE)
_VERSION_LINE = re.compile(r'^version = "(?P<version>[^"]+)"$', re.MULTILINE)
#: A requirement on a distribution of ours, inside quotes: "conveyor-storage-s3==0.1.0".
_OUR_PIN = re.compile(r'"(?P<name>conveyor(?:-[a-z0-9]+)*)(?P<extras>\[[^\]]*\])?(?P<spec>[^"]*)"')
_VERSION_FORM = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def plugin_pyprojects() -> list[Path]:
    return sorted((REPO / "plugins").glob("*/pyproject.toml"))


def source_version() -> str:
    found = _SOURCE_LINE.search(SOURCE.read_text(encoding="utf-8"))
    if not found:
        raise SystemExit(f"{SOURCE}: no line `__version__ = \"X.Y.Z\"`")
    return found["version"]


def _requirements(project: dict) -> list[str]:
    extras = project.get("optional-dependencies", {})
    return [*project.get("dependencies", []), *(r for reqs in extras.values() for r in reqs)]


def problems() -> list[str]:
    """One line per copy that differs from the source (empty: all agree)."""
    version = source_version()
    found: list[str] = []
    root = tomllib.loads(ROOT_PYPROJECT.read_text(encoding="utf-8"))["project"]
    if "version" in root or "version" not in root.get("dynamic", []):
        found.append(
            f"{ROOT_PYPROJECT.name}: the core's version must be dynamic (read from {SOURCE.relative_to(REPO)})"
        )
    for path in [ROOT_PYPROJECT, *plugin_pyprojects()]:
        where = path.relative_to(REPO)
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
        if path != ROOT_PYPROJECT and project.get("version") != version:
            found.append(f"{where}: version {project.get('version')!r}, not {version!r}")
        for requirement in _requirements(project):
            match = _OUR_PIN.fullmatch(f'"{requirement}"')
            if match and match["spec"].replace(" ", "") != f"=={version}":
                found.append(f"{where}: requirement {requirement!r} is not pinned to =={version}")
    return found


def set_version(version: str) -> list[Path]:
    """Write ``version`` into the source and every copy; return the files changed."""
    if not _VERSION_FORM.match(version):
        raise SystemExit(f"{version!r} is not a version like 1.2.3 (or 1.2.3rc1, 1.2.3.dev0)")

    def pin(match: re.Match[str]) -> str:
        if not match["spec"].startswith("=="):
            return match.group()
        name, extras = match["name"], match["extras"] or ""
        return f'"{name}{extras}=={version}"'

    changed = []
    for path in [SOURCE, ROOT_PYPROJECT, *plugin_pyprojects()]:
        text = path.read_text(encoding="utf-8")
        if path == SOURCE:
            new = _SOURCE_LINE.sub(f'__version__ = "{version}"', text, count=1)
        else:
            new = _OUR_PIN.sub(pin, text)
            if path != ROOT_PYPROJECT:
                new = _VERSION_LINE.sub(f'version = "{version}"', new, count=1)
        if new != text:
            path.write_text(new, encoding="utf-8")
            changed.append(path)
    return changed


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 1:
        found = problems()
        for line in found:
            print(f"version mismatch: {line}; run `make version V={source_version()}`", file=sys.stderr)
        return 1 if found else 0
    if argv[:1] == ["set"] and len(argv) == 2:
        for path in set_version(argv[1]):
            print(f"set {argv[1]} in {path.relative_to(REPO)}")
        return 0 if not problems() else 1
    print("usage: python .ci/versions.py check | set X.Y.Z", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
