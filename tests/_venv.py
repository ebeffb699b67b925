"""Fresh virtual environments with conveyor really installed (not editable), and its wheels.

Used by ``tests/test_real_install.py`` (the distributions installed from their folders)
and ``tests/test_wheel_install.py`` (wheels and sdists built with ``python -m build``,
as ``make dist`` does, then ``pip install --find-links``). Kept apart so the steps (and
what each costs) read in one place. Nothing here is mocked: ``python -m venv``,
``python -m build`` and ``pip install``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs

REPO = Path(__file__).resolve().parent.parent

#: What the venv gets: the core, the three plugins it depends on, and the two examples.
#: conveyor-storage-s3 is left out on purpose (its absence is tested).
DISTRIBUTIONS: tuple[Path, ...] = (
    REPO,
    REPO / "plugins" / "storage_local",
    REPO / "plugins" / "serializer_json",
    REPO / "plugins" / "serializer_pickle",
    REPO / "examples" / "plugins" / "conveyor-serializer-rot13",
    REPO / "examples" / "plugins" / "conveyor-storage-reversed",
)

#: Also installed: what conveyor.testing's conformance suites need, so the example
#: plugins' own tests can run in the venv against the installed plugins.
REQUIREMENTS: tuple[str, ...] = ("pytest>=8", "hypothesis>=6.90")

PIP_TIMEOUT_S = 600


@attrs.frozen
class Venv:
    """A virtual environment and how long building it took, step by step."""

    path: Path
    timings: tuple[tuple[str, float], ...]

    @property
    def bin(self) -> Path:
        return self.path / ("Scripts" if os.name == "nt" else "bin")

    @property
    def python(self) -> Path:
        return self.bin / ("python.exe" if os.name == "nt" else "python")

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        """An environment for a child process: this venv first, an isolated conveyor."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
        for var in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"):
            env.pop(var, None)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["CONVEYOR_HOME"] = str(home / "conveyor-home")
        env["CONVEYOR_LOCAL_STORAGE_PATH"] = str(home / "conveyor-results")
        env.update(extra)
        return env

    def run(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command of this venv (``python``, ``conveyor``) and capture its output."""
        exe = str(self.bin / args[0]) if not os.path.isabs(args[0]) else args[0]
        return subprocess.run(
            [exe, *args[1:]],
            cwd=cwd,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _check(step: str, proc: subprocess.CompletedProcess[str]) -> None:
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(
            f"building the test venv failed at {step!r} (exit {proc.returncode}):\n{tail}"
        )


def _host_pip_can_target() -> bool:
    """Whether this interpreter's pip has ``--python`` (pip >= 22.3) to install elsewhere."""
    try:
        import pip
    except ImportError:
        return False
    major, minor = (int(p) for p in pip.__version__.split(".")[:2])
    return (major, minor) >= (22, 3)


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    env.pop("PYTHONPATH", None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _step(
    timings: list[tuple[str, float]], name: str, cmd: Sequence[str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    start = time.perf_counter()
    proc = subprocess.run(
        list(cmd),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=PIP_TIMEOUT_S,
        env=_pip_env(),
        check=False,
    )
    timings.append((name, time.perf_counter() - start))
    return proc


def new_venv(path: Path, timings: list[tuple[str, float]]) -> list[str]:
    """Create ``path`` as an empty venv; return the ``pip install`` command for it.

    When this interpreter's pip can target another environment (``pip --python``), the
    venv is made ``--without-pip`` (seeding pip into it is the slowest step of
    ``python -m venv``) and that pip installs into it; pip's cache is reused (its
    default location) either way.
    """
    venv = Venv(path, ())
    if _host_pip_can_target():
        made = _step(
            timings,
            "python -m venv --without-pip",
            [sys.executable, "-m", "venv", "--without-pip", str(path)],
        )
        _check("python -m venv", made)
        return [sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--quiet"]
    made = _step(timings, "python -m venv", [sys.executable, "-m", "venv", str(path)])
    _check("python -m venv", made)
    return [str(venv.python), "-m", "pip", "install", "--quiet"]


def build_venv(
    path: Path,
    distributions: Sequence[Path] = DISTRIBUTIONS,
    requirements: Sequence[str] = REQUIREMENTS,
) -> Venv:
    """Create ``path`` as a venv and pip-install ``distributions`` (not editable) and
    ``requirements`` into it, in one resolver run.

    Costs are kept down (see :func:`new_venv`), without changing what gets installed:
    also, the build backend, hatchling, is installed into the venv first, and when that
    worked the distributions are built with ``--no-build-isolation``, so pip does not
    set up one throw-away build environment per distribution. If hatchling cannot be
    installed, pip's isolated builds are used.
    """
    timings: list[tuple[str, float]] = []
    pip = new_venv(path, timings)
    backend = _step(timings, "pip install hatchling", [*pip, "hatchling>=1.18"])
    flags = ["--no-build-isolation"] if backend.returncode == 0 else []
    label = f"pip install {len(distributions)} distributions + {', '.join(requirements)}"
    label += "" if flags else " (isolated builds)"
    cmd = [*pip, *flags, *map(str, distributions), *requirements]
    _check("pip install distributions", _step(timings, label, cmd))
    return Venv(path, tuple(timings))


def install_venv(path: Path, requirements: Sequence[str], *, find_links: Path) -> Venv:
    """Create ``path`` as a venv and run ``pip install --find-links <find_links's name>
    <requirements>`` into it from ``find_links``'s parent folder: the command a user
    types beside the ``dist/`` that ``make dist`` made. Only wheels and sdists are
    there, so nothing is installed editable or from this repository's folders."""
    timings: list[tuple[str, float]] = []
    pip = new_venv(path, timings)
    cmd = [*pip, "--find-links", find_links.name, *requirements]
    proc = _step(timings, f"pip install {' '.join(requirements)}", cmd, cwd=find_links.parent)
    _check(f"pip install --find-links {find_links.name} {' '.join(requirements)}", proc)
    return Venv(path, tuple(timings))


# -- building the distributions, as `make dist` does ----------------------------------------


def dist_folders() -> tuple[Path, ...]:
    """The seven distributions ``make dist`` builds: the core (this repository's root,
    package in ``core/``) and every ``plugins/*`` folder with a pyproject but the template."""
    plugins = sorted(p.parent for p in (REPO / "plugins").glob("*/pyproject.toml"))
    return (REPO, *(p for p in plugins if p.name != "_template"))


def build_dists(outdir: Path, folders: Sequence[Path] | None = None) -> list[Path]:
    """``python -m build --outdir outdir <folder>`` for each folder: an sdist, then the
    wheel built from that sdist (so a build that reaches outside its folder fails).

    With the build backend (hatchling) importable here, as in ``make test``'s venv, the
    builds run ``--no-isolation`` in this interpreter: the same frontend and backend,
    without one throw-away environment per build. Returns the files made, sorted.
    """
    if importlib.util.find_spec("build") is None:
        raise RuntimeError(
            f"the build frontend is not installed in {sys.executable}; run `make test` "
            f"(the dev extra has it) or `{sys.executable} -m pip install build`"
        )
    timings: list[tuple[str, float]] = []
    for folder in folders or dist_folders():
        cmd = build_command(outdir, folder)
        _check(f"python -m build {folder.name}", _step(timings, f"build {folder.name}", cmd))
    return sorted(outdir.iterdir())


def build_command(outdir: Path, folder: Path, *options: str) -> list[str]:
    """``python -m build [options] --outdir outdir folder``, ``--no-isolation`` when the
    build backend (hatchling) is importable here (see :func:`build_dists`)."""
    flags = ["--no-isolation"] if importlib.util.find_spec("hatchling") else []
    return [sys.executable, "-m", "build", *flags, *options, "--outdir", str(outdir), str(folder)]
