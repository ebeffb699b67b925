"""Every folder of plugins/ has the shape of plugins/_template, and the template stamps.

The shape: the template's top-level files (``pyproject.toml``, ``README.md``, the package,
``tests/``; a build hook ``hatch_build.py`` may be added); a package named after the distribution with the template's package files
(``__init__.py``, ``hooks.py``, ``py.typed``) and a classes module; one entry point in the
group ``conveyor`` named after the distribution, whose value is ``<package>.hooks``; and
``tests/test_entry_point.py`` with a subclass of
:class:`conveyor.testing.plugins.EntryPointConformance` for that distribution.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib.util
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import attrs
import importlib.metadata as importlib_metadata
import pytest
from conveyor.testing.plugins import ENTRY_POINT_GROUP, EntryPointConformance

REPO = Path(__file__).resolve().parent.parent
PLUGINS = REPO / "plugins"
TEMPLATE = PLUGINS / "_template"
TEMPLATE_PACKAGE = "conveyor_KIND_NAME"
TEMPLATE_CLASSES_MODULE = "NAME.py"
PLACEHOLDERS = re.compile(r"KIND|NAME|ClassName")
#: A file a plugin may add to the template's top level: the build hook of a compiled part
#: (the JSON serializer's optional C proof).
OPTIONAL_TOP = frozenset({"hatch_build.py"})
#: What tools leave in a folder; never part of a plugin's shape.
JUNK = ("__pycache__", ".*", "*.egg-info", "build", "dist")


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if not any(fnmatch.fnmatch(p.name, j) for j in JUNK)}


def plugin_folders() -> list[Path]:
    return sorted(PLUGINS / name for name in _names(PLUGINS) if name != TEMPLATE.name)


@attrs.frozen
class Declared:
    """What a plugin folder's pyproject.toml declares."""

    distribution: str
    package: str
    entry_points: dict[str, str]

    @property
    def entry_point(self) -> str:
        """The entry-point name the conventions give: the distribution without ``conveyor-``."""
        return self.distribution.removeprefix("conveyor-")


def declared(folder: Path) -> Declared:
    project = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    name = project["name"]
    return Declared(
        distribution=name,
        package=name.replace("-", "_"),
        entry_points=dict(project.get("entry-points", {}).get(ENTRY_POINT_GROUP, {})),
    )


def shape_problems(folder: Path, *, check_folder_name: bool = True) -> list[str]:
    """How ``folder`` differs from the template's shape (empty: it has the shape)."""
    problems: list[str] = []
    if not (folder / "pyproject.toml").is_file():
        return [f"{folder.name}: no pyproject.toml"]
    pyproject = tomllib.loads((folder / "pyproject.toml").read_text(encoding="utf-8"))
    decl = declared(folder)
    dist, package = decl.distribution, decl.package
    if not dist.startswith("conveyor-"):
        problems.append(f"distribution {dist!r} is not named conveyor-<kind>-<name>")
    if check_folder_name and folder.name != decl.entry_point.replace("-", "_"):
        problems.append(f"folder {folder.name!r} is not named after {dist} (<kind>_<name>)")
    if pyproject["project"].get("readme") != "README.md":
        problems.append("pyproject.toml: [project] readme is not README.md")
    wanted_eps = {decl.entry_point: f"{package}.hooks"}
    if decl.entry_points != wanted_eps:
        problems.append(
            f"pyproject.toml: entry points in the group {ENTRY_POINT_GROUP!r} are "
            f"{decl.entry_points}, not {wanted_eps}"
        )
    wheel = pyproject.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    if wheel.get("wheel", {}).get("packages") != [package]:
        problems.append(f"pyproject.toml: the wheel's packages are not [{package!r}]")

    template_top = {package if n == TEMPLATE_PACKAGE else n for n in _names(TEMPLATE)}
    top = _names(folder) - OPTIONAL_TOP
    if top != template_top:
        problems.append(
            f"top-level files {sorted(top)} are not the template's {sorted(template_top)}"
        )
    if (folder / package).is_dir():
        files = _names(folder / package)
        needed = _names(TEMPLATE / TEMPLATE_PACKAGE) - {TEMPLATE_CLASSES_MODULE}
        if not needed <= files:
            problems.append(f"package {package} lacks {sorted(needed - files)}")
        if not {f for f in files if f.endswith(".py")} - {"__init__.py", "hooks.py"}:
            problems.append(f"package {package} has no module for its classes")
    else:
        problems.append(f"no package {package}/ (named after the distribution {dist})")
    if (folder / "tests").is_dir():
        missing = _names(TEMPLATE / "tests") - _names(folder / "tests")
        if missing:
            problems.append(f"tests/ lacks {sorted(missing)}")
    return problems


def load_by_path(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def entry_point_tests(module: ModuleType) -> list[type[EntryPointConformance]]:
    return [
        value
        for name, value in vars(module).items()
        if name.startswith("Test")
        and isinstance(value, type)
        and issubclass(value, EntryPointConformance)
        and value is not EntryPointConformance
    ]


@pytest.fixture
def forget_modules() -> Iterator[list[str]]:
    """Module names (and their submodules) to drop from sys.modules after the test."""
    names: list[str] = []
    yield names
    for loaded in list(sys.modules):
        if any(loaded == n or loaded.startswith(n + ".") for n in names):
            del sys.modules[loaded]


# -- the plugins ------------------------------------------------------------------------


def test_there_are_plugins() -> None:
    assert plugin_folders(), f"no plugin folders in {PLUGINS}"


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda p: p.name)
def test_plugin_has_the_template_shape(folder: Path) -> None:
    assert shape_problems(folder) == []


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda p: p.name)
def test_plugin_is_installed_with_the_declared_entry_point(folder: Path) -> None:
    decl = declared(folder)
    try:
        dist = importlib_metadata.distribution(decl.distribution)
    except importlib_metadata.PackageNotFoundError:
        pytest.fail(f"{decl.distribution} is not installed: run make install", pytrace=False)
    installed = {ep.name: ep.value for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP}
    assert installed == decl.entry_points, (
        f"the installed entry points of {decl.distribution} are stale: "
        f"{sys.executable} -m pip install -e ./plugins/{folder.name}"
    )


@pytest.mark.parametrize("folder", plugin_folders(), ids=lambda p: p.name)
def test_plugin_tests_subclass_the_shared_entry_point_class(
    folder: Path, forget_modules: list[str]
) -> None:
    decl = declared(folder)
    name = f"_conveyor_shape_{folder.name}_test_entry_point"
    forget_modules.append(name)
    module = load_by_path(folder / "tests" / "test_entry_point.py", name)
    found = entry_point_tests(module)
    assert found, (
        f"tests/test_entry_point.py of {folder.name} has no EntryPointConformance subclass"
    )
    assert [(c.distribution, c.entry_point) for c in found] == [
        (decl.distribution, decl.entry_point)
    ]
    assert found[0].expected_hooks_module() == f"{decl.package}.hooks"


# -- the template -----------------------------------------------------------------------


def test_template_has_the_shape_with_placeholders() -> None:
    assert shape_problems(TEMPLATE, check_folder_name=False) == []
    decl = declared(TEMPLATE)
    assert decl.distribution == "conveyor-KIND-NAME"
    assert decl.entry_points == {"KIND-NAME": "conveyor_KIND_NAME.hooks"}
    assert (TEMPLATE / TEMPLATE_PACKAGE / TEMPLATE_CLASSES_MODULE).is_file()
    tree = ast.parse((TEMPLATE / "tests" / "test_entry_point.py").read_text(encoding="utf-8"))
    bases = {
        base.id
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test")
        for base in node.bases
        if isinstance(base, ast.Name)
    }
    assert bases == {"EntryPointConformance"}


def test_template_is_neither_installed_nor_collected(request: pytest.FixtureRequest) -> None:
    with pytest.raises(importlib_metadata.PackageNotFoundError):
        importlib_metadata.distribution("conveyor-KIND-NAME")
    # pytest leaves it out: a collect_ignore of the root conftest.py, or norecursedirs.
    root_conftests = [
        plugin
        for plugin in request.config.pluginmanager.get_plugins()
        if isinstance(plugin, ModuleType)
        and getattr(plugin, "__file__", None) == str(REPO / "conftest.py")
    ]
    ignored = {REPO / p for c in root_conftests for p in getattr(c, "collect_ignore", [])}
    norecurse = request.config.getini("norecursedirs")
    assert TEMPLATE in ignored or any(fnmatch.fnmatch(TEMPLATE.name, n) for n in norecurse)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_makefile_installs_every_plugin_but_the_template() -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "-s", "-f", "Makefile", "-f", "-", "print-plugins"],
        input="print-plugins:\n\t@echo $(PLUGINS)\n",
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    listed = sorted(Path(p).parent.name for p in proc.stdout.split())
    assert listed == [p.name for p in plugin_folders()]


def _stamp_script(line: str) -> str:
    """The stamping commands of the template's README, with their first line replaced."""
    readme = (TEMPLATE / "README.md").read_text(encoding="utf-8")
    found = re.search(
        r"^<!-- stamp -->\n```sh\n(?P<code>.*?)^```$", readme, re.MULTILINE | re.DOTALL
    )
    assert found, "plugins/_template/README.md has no <!-- stamp --> sh block"
    first, _, rest = found["code"].partition("\n")
    assert first.startswith("kind=storage kinds=storage name="), first
    return line + "\n" + rest


@pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("sed") is None, reason="needs bash and sed"
)
@pytest.mark.parametrize(
    ("kind", "kinds", "name", "cls"),
    [
        ("storage", "storage", "webdav", "WebDAV"),
        ("serializer", "serializers", "msgpack", "MsgPack"),
    ],
)
def test_stamping_the_template_gives_a_plugin_of_that_shape(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    forget_modules: list[str],
    kind: str,
    kinds: str,
    name: str,
    cls: str,
) -> None:
    shutil.copytree(TEMPLATE, tmp_path / "plugins" / "_template")
    script = _stamp_script(f"kind={kind} kinds={kinds} name={name} class={cls}")
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    stamped = tmp_path / "plugins" / f"{kind}_{name}"
    assert shape_problems(stamped) == []
    left = [
        f"{p.relative_to(stamped)}: {m.group()}"
        for p in sorted(stamped.rglob("*"))
        if p.is_file()
        for m in PLACEHOLDERS.finditer(str(p.relative_to(stamped)) + p.read_text())
    ]
    assert left == [], "placeholders left after stamping"
    assert "template notes" not in (stamped / "README.md").read_text()

    package = f"conveyor_{kind}_{name}"
    monkeypatch.syspath_prepend(str(stamped))
    forget_modules.append(package)
    forget_modules.append(f"_conveyor_stamped_{package}")
    hooks = importlib.import_module(f"{package}.hooks")
    classes = importlib.import_module(f"{package}.{name}")
    provided: Any = getattr(hooks, f"conveyor_register_{kinds}")()
    assert provided == [getattr(classes, cls)]
    tests = load_by_path(stamped / "tests" / "test_entry_point.py", f"_conveyor_stamped_{package}")
    (test_class,) = entry_point_tests(tests)
    assert test_class.distribution == f"conveyor-{kind}-{name}"
    assert test_class.entry_point == f"{kind}-{name}"
    assert getattr(test_class, kinds) == (getattr(classes, cls),)
    assert test_class.expected_hooks_module() == f"{package}.hooks"
