"""conveyor installed as a user would: wheels built like ``make dist``, then
``pip install --find-links dist 'conveyor[s3]'`` (and plain ``conveyor``) in a fresh venv.

Once per session (``dist``): ``python -m build`` of each of the seven distributions (an
sdist, then the wheel from that sdist) into a ``dist/`` folder outside the repository,
checked with ``twine check --strict``. Then two fresh venvs, each made by the README's
command run beside that ``dist/``: one with plain ``conveyor``, one with
``conveyor[s3]``. Third-party dependencies come from the package index (pip's cache is
reused); conveyor's own only from ``dist/``: nothing editable, nothing from the
repository's folders. Flows run in child processes of those venvs, in a working
directory outside the repository: one with local storage, one with S3 storage on the
suite's SeaweedFS server (endpoint and credentials passed in the environment).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import textwrap
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


_venv = sys.modules["conveyor_tests_venv_helper"]  # loaded by tests/conftest.py
REPO = _venv.REPO
VERSION = re.search(
    r'^__version__ = "([^"]+)"$',
    (REPO / "core" / "conveyor" / "__init__.py").read_text(encoding="utf-8"),
    re.MULTILINE,
)[1]
OURS = (
    "conveyor",
    "conveyor-serializer-json",
    "conveyor-serializer-pickle",
    "conveyor-storage-local",
    "conveyor-storage-s3",
    "conveyor-metadata-postgres",
)
#: every distribution `make dist` builds: the above and those only extras install
DISTRIBUTIONS = (*OURS, "conveyor-runner-dask")


def _project_name(folder: Path) -> str:
    text = (folder / "pyproject.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)["project"]["name"]


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ``dist/`` folder with the wheel and the sdist of each distribution (built once)."""
    folder = tmp_path_factory.mktemp("wheels") / "dist"
    folder.mkdir()
    _venv.build_dists(folder)
    return folder


@pytest.fixture(scope="session")
def s3_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory):
    return _venv.install_venv(tmp_path_factory.mktemp("wheel-s3") / "venv", ["conveyor[s3]"], find_links=dist)


@pytest.fixture(scope="session")
def plain_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory):
    return _venv.install_venv(tmp_path_factory.mktemp("wheel-plain") / "venv", ["conveyor"], find_links=dist)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A working directory outside the repository, so nothing is imported from it."""
    work = tmp_path / "work"
    work.mkdir()
    return work


# -- what make dist makes ---------------------------------------------------------------


def test_the_distributions_are_the_ones_of_the_repository() -> None:
    names = sorted(_project_name(folder) for folder in _venv.dist_folders())
    assert names == sorted(DISTRIBUTIONS)


#: The one distribution with a compiled part (its optional C proof, see its hatch_build.py):
#: its wheel is tagged for this interpreter and platform; every other wheel is pure.
COMPILED = "conveyor-serializer-json"
_INTERPRETER = f"cp{sys.version_info.major}{sys.version_info.minor}"


def _wheel_suffix(name: str) -> str:
    if name != COMPILED:
        return "-py3-none-any.whl"
    platform = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    return f"-{_INTERPRETER}-{_INTERPRETER}-{platform}.whl"


def test_dist_has_a_wheel_and_an_sdist_of_each_distribution_in_the_one_version(dist: Path) -> None:
    files = sorted(p.name for p in dist.iterdir())
    expected = sorted(
        f"{name.replace('-', '_')}-{VERSION}{suffix}"
        for name in DISTRIBUTIONS
        for suffix in (_wheel_suffix(name), ".tar.gz")
    )
    assert files == expected


def test_the_json_wheel_carries_the_compiled_proof_and_its_sdist_the_source(dist: Path) -> None:
    wheel = dist / f"conveyor_serializer_json-{VERSION}{_wheel_suffix(COMPILED)}"
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    assert f"conveyor_serializer_json/_proof{suffix}" in names
    assert not [n for n in names if n.endswith(".c")]
    with tarfile.open(dist / f"conveyor_serializer_json-{VERSION}.tar.gz") as sdist:
        inside = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    assert {"hatch_build.py", "conveyor_serializer_json/_proof.c"} <= inside
    assert not [n for n in inside if n.endswith((".so", ".pyd"))]


@pytest.mark.parametrize(
    "env", [{"CC": "/bin/false"}, {"CONVEYOR_JSON_PURE": "1"}], ids=["no working compiler", "asked"]
)
def test_without_a_compiler_the_json_wheel_is_pure_python(env: dict[str, str], tmp_path: Path) -> None:
    """The compiled proof is optional: the build says why it is left out, and the wheel
    runs anywhere, on the pure-Python walk."""
    proc = subprocess.run(
        _venv.build_command(tmp_path, REPO / "plugins" / "serializer_json", "--wheel"),
        capture_output=True, text=True, timeout=300, check=False, env={**os.environ, **env},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = tmp_path.glob("*.whl")
    assert wheel.name == f"conveyor_serializer_json-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as zf:
        assert not [n for n in zf.namelist() if "_proof" in n]
    said = "could not compile" if "CC" in env else "CONVEYOR_JSON_PURE is set"
    assert f"conveyor-serializer-json: {said}" in proc.stdout + proc.stderr


def test_twine_check_passes_for_every_file(dist: Path) -> None:
    files = sorted(str(p) for p in dist.iterdir())
    proc = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", *files],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASSED") == len(files), proc.stdout


def test_the_core_sdist_holds_only_the_core(dist: Path) -> None:
    with tarfile.open(dist / f"conveyor-{VERSION}.tar.gz") as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    outside = sorted(n for n in names if not n.startswith("core/conveyor/"))
    assert outside == [".gitignore", "PKG-INFO", "README.md", "pyproject.toml"]
    assert "core/conveyor/__init__.py" in names


def test_wheels_pin_each_other_to_the_one_version(dist: Path) -> None:
    def requires(wheel: str) -> list[str]:
        with zipfile.ZipFile(dist / wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            text = zf.read(meta).decode()
        return [line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Requires-Dist: ")]

    core = requires(f"conveyor-{VERSION}-py3-none-any.whl")
    for plugin in ("conveyor-storage-local", "conveyor-serializer-json", "conveyor-serializer-pickle"):
        assert f"{plugin}=={VERSION}" in core
    assert f"conveyor-storage-s3=={VERSION}; extra == 's3'" in core
    assert f"conveyor-runner-dask=={VERSION}; extra == 'dask'" in core
    always = [r for r in core if "extra ==" not in r]  # what every install gets
    assert not [r for r in always if re.match(r"(pytest|hypothesis|moto|seaweedfs|build|twine)\b", r)]
    assert f"conveyor=={VERSION}" in requires(f"conveyor_storage_s3-{VERSION}-py3-none-any.whl")


def test_an_editable_build_compiles_in_place_and_a_pure_one_drops_that_module(tmp_path: Path) -> None:
    """``pip install -e`` (here into a throw-away prefix): the module is compiled next to
    the sources, and a later pure install removes it, so an older module is never
    imported from there."""
    folder = tmp_path / "serializer_json"
    shutil.copytree(REPO / "plugins" / "serializer_json", folder,
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__"))
    module = folder / "conveyor_serializer_json" / f"_proof{sysconfig.get_config_var('EXT_SUFFIX')}"

    def build(**env: str) -> None:
        prefix = tmp_path / f"prefix-{len(env)}"
        # --ignore-installed: else pip first uninstalls this venv's own (editable) plugin
        cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--ignore-installed", "--prefix", str(prefix), "-e", str(folder)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False,
                              env={**os.environ, **env})
        assert proc.returncode == 0, proc.stdout + proc.stderr

    build()
    assert module.is_file()
    build(CONVEYOR_JSON_PURE="1")
    assert not module.exists()


# -- what pip installs from it ------------------------------------------------------------

INSTALLED = textwrap.dedent(
    """
    import json
    import importlib.metadata as md

    out = {}
    for name in ("conveyor", "conveyor-serializer-json", "conveyor-serializer-pickle",
                 "conveyor-storage-local", "conveyor-storage-s3", "conveyor-metadata-postgres",
                 "psycopg", "boto3", "pytest",
                 "hypothesis", "moto"):
        try:
            dist = md.distribution(name)
        except md.PackageNotFoundError:
            out[name] = None
            continue
        files = [str(dist.locate_file(f)) for f in dist.files or [] if str(f).endswith(".py")]
        out[name] = {
            "version": dist.version,
            "direct_url": dist.read_text("direct_url.json"),
            "files": files[:3],
        }
    print(json.dumps(out))
    """
)


def _installed(venv, workdir: Path) -> dict:
    proc = venv.run(["python", "-c", INSTALLED], cwd=workdir, env=venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _assert_installed_from_wheels(venv, found: dict, names: tuple[str, ...]) -> None:
    for name in names:
        info = found[name]
        assert info is not None, f"{name} is not installed"
        assert info["version"] == VERSION
        assert info["direct_url"] is None, f"{name} was not installed from an index: {info}"
        assert info["files"] and all(
            f.startswith(str(venv.path)) and "site-packages" in f for f in info["files"]
        ), info["files"]
        assert not any(f.startswith(str(REPO)) for f in info["files"])


def test_plain_conveyor_installs_the_core_and_its_three_plugins(plain_venv, workdir):
    found = _installed(plain_venv, workdir)
    _assert_installed_from_wheels(plain_venv, found, OURS[:4])
    assert found["conveyor-storage-s3"] is None and found["boto3"] is None
    assert found["conveyor-metadata-postgres"] is None and found["psycopg"] is None
    # The test stack stays out of a user's install.
    assert found["pytest"] is None and found["hypothesis"] is None and found["moto"] is None


def test_the_installed_json_plugin_proves_values_with_its_compiled_proof(plain_venv, workdir):
    code = "from conveyor_serializer_json import plain; print(plain.COMPILED, plain.__file__)"
    proc = plain_venv.run(["python", "-c", code], cwd=workdir, env=plain_venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    compiled, where = proc.stdout.split()
    assert compiled == "True" and where.startswith(str(plain_venv.path)), proc.stdout


def test_conveyor_s3_installs_the_s3_plugin_too(s3_venv, workdir):
    found = _installed(s3_venv, workdir)
    _assert_installed_from_wheels(s3_venv, found, OURS[:5])
    assert found["boto3"] is not None
    assert found["conveyor-metadata-postgres"] is None  # conveyor[postgres] brings it
    assert found["pytest"] is None and found["moto"] is None
    proc = s3_venv.run(["conveyor", "plugins", "--json"], cwd=workdir, env=s3_venv.env(workdir))
    assert proc.returncode == 0, proc.stderr
    listed = {p["name"]: (p["distribution"], p["version"]) for p in json.loads(proc.stdout)}
    assert listed["storage-s3"] == ("conveyor-storage-s3", VERSION)
    assert listed["storage-local"] == ("conveyor-storage-local", VERSION)


def test_without_the_extra_s3_is_an_import_error_naming_the_distribution(plain_venv, workdir):
    proc = plain_venv.run(
        ["python", "-c", "from conveyor.filesystems import S3"], cwd=workdir, env=plain_venv.env(workdir)
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError") and "conveyor-storage-s3" in last


# -- flows ------------------------------------------------------------------------------

FLOW = textwrap.dedent(
    """
    import json
    import os
    import sys

    from conveyor import flow, task

    if sys.argv[1] == "local":
        from conveyor.filesystems import LocalFileSystem

        LocalFileSystem(basepath=os.environ["WHEEL_TEST_FOLDER"]).save("wheel")
        slug = "local-file-system/wheel"
    else:
        from conveyor.filesystems import S3   # only with the extra s3

        S3(
            bucket_path=os.environ["WHEEL_TEST_BUCKET"] + "/wheel",
            endpoint_url=os.environ["WHEEL_TEST_ENDPOINT"],
            aws_access_key_id=os.environ["WHEEL_TEST_KEY_ID"],
            aws_secret_access_key=os.environ["WHEEL_TEST_SECRET"],
            region_name=os.environ["WHEEL_TEST_REGION"],
        ).save("wheel")
        slug = "s3/wheel"


    @task(retries=1)                       # persisted: a retry needs the value later
    def numbers(n):
        return list(range(n))


    @flow(result_storage=slug, result_serializer="json")
    def total(n):
        values = numbers(n)
        return {"n": n, "total": sum(values)}


    state = total(5, return_state=True)
    print(json.dumps({"run_id": state.run_id, "value": state.result()}))
    """
)

READ_BACK = textwrap.dedent(
    """
    import json
    import sys

    from conveyor import get_client

    client = get_client()
    run = client.read_flow_run(sys.argv[1])
    tasks = client.read_task_runs(sys.argv[1])
    print(json.dumps({
        "value": run.state.result(),
        "storage": run.state.data.storage,
        "key": run.state.data.key,
        "task_values": [t.state.result() for t in tasks],
        "task_storage": [t.state.data.storage for t in tasks],
        "task_keys": [t.state.data.key for t in tasks],
    }))
    """
)


def _flow_and_read_back(venv, workdir: Path, which: str, **env: str) -> dict:
    (workdir / "flow.py").write_text(FLOW)
    (workdir / "read_back.py").write_text(READ_BACK)
    environment = venv.env(workdir, **env)
    proc = venv.run(["python", "flow.py", which], cwd=workdir, env=environment)
    assert proc.returncode == 0, proc.stderr
    produced = json.loads(proc.stdout.strip().splitlines()[-1])
    assert produced["value"] == {"n": 5, "total": 10}
    # Another process reads the run back from the metadata store and the values from storage.
    proc = venv.run(["python", "read_back.py", produced["run_id"]], cwd=workdir, env=environment)
    assert proc.returncode == 0, proc.stderr
    back = json.loads(proc.stdout.strip().splitlines()[-1])
    assert back["value"] == {"n": 5, "total": 10}
    assert back["task_values"] == [[0, 1, 2, 3, 4]]
    return back


def test_a_flow_with_local_storage_in_the_plain_install(plain_venv, workdir):
    folder = workdir / "results"
    back = _flow_and_read_back(plain_venv, workdir, "local", WHEEL_TEST_FOLDER=str(folder))
    assert back["storage"] == "local-file-system/wheel"
    assert back["task_storage"] == ["local-file-system/wheel"]
    assert (folder / back["key"]).is_file() and (folder / back["task_keys"][0]).is_file()


def test_a_flow_with_s3_storage_in_the_s3_install(s3_venv, workdir, seaweedfs_server, seaweedfs_bucket):
    back = _flow_and_read_back(
        s3_venv,
        workdir,
        "s3",
        WHEEL_TEST_BUCKET=seaweedfs_bucket,
        WHEEL_TEST_ENDPOINT=seaweedfs_server.endpoint_url,
        WHEEL_TEST_KEY_ID=seaweedfs_server.aws_access_key_id,
        WHEEL_TEST_SECRET=seaweedfs_server.aws_secret_access_key,
        WHEEL_TEST_REGION=seaweedfs_server.region_name,
    )
    assert back["storage"] == "s3/wheel"
    assert back["task_storage"] == ["s3/wheel"]
    # The objects are really in the bucket, under the block's prefix.
    listed = seaweedfs_server.client().list_objects_v2(Bucket=seaweedfs_bucket, Prefix="wheel/")
    keys = {o["Key"] for o in listed.get("Contents", [])}
    assert {f"wheel/{back['key']}", f"wheel/{back['task_keys'][0]}"} <= keys
