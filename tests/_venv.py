"""A fresh virtual environment with conveyor really installed (not editable).

Used by ``tests/test_real_install.py``. Kept apart so the steps (and what each costs)
read in one place. Nothing here is mocked: ``python -m venv``, then ``pip install`` of
the distributions from their folders in this repository.
"""

from __future__ import annotations

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


def build_venv(
    path: Path,
    distributions: Sequence[Path] = DISTRIBUTIONS,
    requirements: Sequence[str] = REQUIREMENTS,
) -> Venv:
    """Create ``path`` as a venv and pip-install ``distributions`` (not editable) and
    ``requirements`` into it, in one resolver run.

    Costs are kept down three ways, without changing what gets installed:

    - when this interpreter's pip can target another environment (``pip --python``),
      the venv is made ``--without-pip`` (seeding pip into it is the slowest step of
      ``python -m venv``) and that pip installs into it;
    - pip's cache is reused (its default location);
    - the build backend, hatchling, is installed into the venv first, and when that
      worked the distributions are built with ``--no-build-isolation``, so pip does not
      set up one throw-away build environment per distribution. If hatchling cannot be
      installed, pip's isolated builds are used.
    """
    timings: list[tuple[str, float]] = []
    pip_env = {k: v for k, v in os.environ.items() if not k.startswith("CONVEYOR_")}
    pip_env.pop("PYTHONPATH", None)
    pip_env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    def step(name: str, cmd: Sequence[str]) -> subprocess.CompletedProcess[str]:
        start = time.perf_counter()
        proc = subprocess.run(
            list(cmd),
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            env=pip_env,
            check=False,
        )
        timings.append((name, time.perf_counter() - start))
        return proc

    venv = Venv(path, ())
    if _host_pip_can_target():
        made = step(
            "python -m venv --without-pip",
            [sys.executable, "-m", "venv", "--without-pip", str(path)],
        )
        _check("python -m venv", made)
        pip = [sys.executable, "-m", "pip", "--python", str(venv.python), "install", "--quiet"]
    else:
        _check("python -m venv", step("python -m venv", [sys.executable, "-m", "venv", str(path)]))
        pip = [str(venv.python), "-m", "pip", "install", "--quiet"]
    backend = step("pip install hatchling", [*pip, "hatchling>=1.18"])
    flags = ["--no-build-isolation"] if backend.returncode == 0 else []
    label = f"pip install {len(distributions)} distributions + {', '.join(requirements)}"
    label += "" if flags else " (isolated builds)"
    cmd = [*pip, *flags, *map(str, distributions), *requirements]
    _check("pip install distributions", step(label, cmd))
    return Venv(path, tuple(timings))
