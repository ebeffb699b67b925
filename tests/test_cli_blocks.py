"""``conveyor blocks ls|create|rm``, in-process through ``conveyor.cli.main`` and once for real."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import attrs
import pytest
from conveyor import hookimpl, plugins
from conveyor.blocks import load_block, save_block
from conveyor.cli import main
from conveyor.filesystems import StorageBlock, secret_field


@attrs.frozen
class Shelf(StorageBlock):
    """A throwaway block type with one field of each kind the CLI parses."""

    block_type: ClassVar[str] = "test-shelf"

    root: str
    token: str | None = secret_field(default=None)
    depth: int = 1
    ratio: float = 0.5
    strict: bool = False
    tags: list[str] = attrs.field(factory=list)

    def write_path(self, path: str, content: bytes) -> str:  # pragma: no cover - not used
        raise NotImplementedError

    def read_path(self, path: str) -> bytes:  # pragma: no cover - not used
        raise NotImplementedError


class ShelfPlugin:
    @hookimpl
    def conveyor_register_storage(self) -> list[type[StorageBlock]]:
        return [Shelf]


@pytest.fixture(autouse=True)
def shelf_plugin():
    """The installed plugins plus the throwaway one, on a fresh manager for each test."""
    pm = plugins.make_plugin_manager(plugins=[ShelfPlugin()])
    with plugins.use_plugin_manager(pm):
        yield pm


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("conveyor: error: ")
    return lines[0]


# -- create ---------------------------------------------------------------------------------


def test_create_parses_every_field_against_its_annotation(capsys, tmp_path):
    code, out, err = run(
        capsys, "blocks", "create", "test-shelf", "main",
        "--root", str(tmp_path), "--token=s3cr3t", "--depth", "3", "--ratio", "0.25",
        "--strict", "yes", "--tags", '["a", "b"]',
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.startswith("saved block test-shelf/main: ")
    assert "s3cr3t" not in out and "********" in out
    block = load_block("test-shelf/main")
    assert block == Shelf(
        root=str(tmp_path), token="s3cr3t", depth=3, ratio=0.25, strict=True, tags=["a", "b"]
    )


def test_create_accepts_underscored_and_dashed_names_for_a_real_plugin_type(capsys, tmp_path):
    code, _out, err = run(
        capsys, "blocks", "create", "s3", "prod", "--bucket-path", "bucket/prefix",
        "--aws_access_key_id", "AKIA", "--aws-secret-access-key", "topsecret",
        "--endpoint-url", "http://127.0.0.1:9000",
    )  # fmt: skip
    assert (code, err) == (0, "")
    block = load_block("s3/prod")
    assert block.config()["aws_secret_access_key"] == "topsecret"
    assert block.config()["endpoint_url"] == "http://127.0.0.1:9000"
    assert block.config()["region_name"] is None


def test_create_local_block_then_use_it_from_python(capsys, tmp_path):
    code, _out, _err = run(
        capsys, "blocks", "create", "local-file-system", "scratch", "--basepath", str(tmp_path)
    )
    assert code == 0
    block = load_block("local-file-system/scratch")
    block.write_path("a/b", b"hello")
    assert (tmp_path / "a" / "b").read_bytes() == b"hello"


def test_create_reads_a_dash_value_from_stdin(capsys, monkeypatch, tmp_path):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("from-stdin\n"))
    code, _out, _err = run(
        capsys, "blocks", "create", "test-shelf", "s", "--root", str(tmp_path), "--token", "-"
    )
    assert code == 0
    assert load_block("test-shelf/s").token == "from-stdin"


def test_unknown_field_is_one_line_listing_the_fields(capsys, tmp_path):
    code, out, err = run(
        capsys, "blocks", "create", "test-shelf", "x", "--root", str(tmp_path), "--colour", "red"
    )
    assert code == 1 and out == ""
    line = one_line_error(err)
    assert "has no field --colour" in line
    assert "--root (required), --token (secret), --depth, --ratio, --strict, --tags" in line


def test_missing_required_field_is_one_line_listing_the_fields(capsys):
    code, _out, err = run(capsys, "blocks", "create", "local-file-system", "x")
    assert code == 1
    line = one_line_error(err)
    assert "needs --basepath" in line and "--basepath (required)" in line


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--depth", "deep"], "--depth 'deep' is not valid"),
        (["--strict", "maybe"], "--strict 'maybe' is not valid"),
        (["--tags", "[oops"], "--tags '[oops' is not valid"),
        (["--depth"], "--depth needs a value"),
        (["stray"], "unexpected argument 'stray'"),
    ],
)
def test_bad_values_are_one_line_errors(capsys, tmp_path, args, expected):
    code, _out, err = run(
        capsys, "blocks", "create", "test-shelf", "x", "--root", str(tmp_path), *args
    )
    assert code == 1
    assert expected in one_line_error(err)


def test_unknown_block_type_lists_the_available_ones(capsys):
    code, _out, err = run(capsys, "blocks", "create", "ftp", "x", "--host", "h")
    assert code == 1
    line = one_line_error(err)
    assert "unknown block type 'ftp'; available: local-file-system, s3, test-shelf" in line


def test_bad_block_name_is_refused(capsys, tmp_path):
    code, _out, err = run(
        capsys, "blocks", "create", "test-shelf", "../up", "--root", str(tmp_path)
    )
    assert code == 1
    assert "block name '../up' is not valid" in one_line_error(err)


def test_existing_slug_needs_overwrite(capsys, tmp_path):
    assert run(capsys, "blocks", "create", "test-shelf", "x", "--root", "one")[0] == 0
    code, _out, err = run(capsys, "blocks", "create", "test-shelf", "x", "--root", "two")
    assert code == 1
    assert "already saved; add --overwrite" in one_line_error(err)
    assert load_block("test-shelf/x").root == "one"
    # --overwrite works before or after the fields
    assert (
        run(capsys, "blocks", "create", "--overwrite", "test-shelf", "x", "--root", "two")[0] == 0
    )
    assert load_block("test-shelf/x").root == "two"
    assert (
        run(capsys, "blocks", "create", "test-shelf", "x", "--root", "three", "--overwrite")[0] == 0
    )
    assert load_block("test-shelf/x").root == "three"


def test_help_after_the_type_lists_its_fields(capsys):
    code, out, _err = run(capsys, "blocks", "create", "test-shelf", "x", "--help")
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0] == (
        "fields of block type 'test-shelf': --root (required), --token (secret), "
        "--depth, --ratio, --strict, --tags"
    )
    # Then one line per field: its type, whether required or secret, its default.
    assert [line.split()[0] for line in lines[1:]] == [
        "--root", "--token", "--depth", "--ratio", "--strict", "--tags",
    ]  # fmt: skip
    assert "str; required" in lines[1]
    assert "str | None; secret" in lines[2]
    assert "int; default 1" in lines[3] and "float; default 0.5" in lines[4]
    assert "bool; default False" in lines[5] and "(JSON); default []" in lines[6]


# -- ls ---------------------------------------------------------------------------------------


def test_ls_empty(capsys):
    code, out, _err = run(capsys, "blocks", "ls")
    assert code == 0 and out.startswith("no saved blocks")
    assert run(capsys, "blocks", "ls", "--json")[1].strip() == "[]"


def test_ls_masks_secrets_in_text_and_json(capsys):
    save_block(Shelf(root="r", token="hunter2"), "a")
    save_block(Shelf(root="q"), "b")
    code, out, _err = run(capsys, "blocks", "ls")
    assert code == 0
    assert "hunter2" not in out
    lines = out.splitlines()
    assert lines[0].startswith("test-shelf/a  root='r', token='********', depth=1")
    assert lines[1].startswith("test-shelf/b  root='q', token=None")

    code, out, _err = run(capsys, "blocks", "ls", "--json")
    assert "hunter2" not in out
    listed = json.loads(out)
    assert [b["slug"] for b in listed] == ["test-shelf/a", "test-shelf/b"]
    assert listed[0]["config"] == {
        "root": "r", "token": "********", "depth": 1, "ratio": 0.5, "strict": False, "tags": [],
    }  # fmt: skip


def test_ls_filters_by_type(capsys, tmp_path):
    save_block(Shelf(root="r"), "a")
    run(capsys, "blocks", "create", "local-file-system", "l", "--basepath", str(tmp_path))
    _code, out, _err = run(capsys, "blocks", "ls", "--type", "local-file-system", "--json")
    assert [b["slug"] for b in json.loads(out)] == ["local-file-system/l"]


# -- rm ---------------------------------------------------------------------------------------


def test_rm_removes_and_unknown_slug_is_one_line_exit_1(capsys):
    save_block(Shelf(root="r"), "gone")
    code, out, _err = run(capsys, "blocks", "rm", "test-shelf/gone")
    assert code == 0 and out.strip() == "removed block test-shelf/gone"
    assert json.loads(run(capsys, "blocks", "ls", "--json")[1]) == []

    code, out, err = run(capsys, "blocks", "rm", "test-shelf/gone")
    assert code == 1 and out == ""
    assert "no saved block 'test-shelf/gone'" in one_line_error(err)

    code, _out, err = run(capsys, "blocks", "rm", "not-a-slug")
    assert code == 1
    assert "not of the form '<block_type>/<name>'" in one_line_error(err)


# -- help on every command -----------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["blocks", "--help"],
        ["blocks", "ls", "--help"],
        ["blocks", "create", "--help"],
        ["blocks", "rm", "-h"],
    ],
)
def test_every_command_has_help(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    assert "usage: conveyor blocks" in capsys.readouterr().out


def test_blocks_without_subcommand_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["blocks"])
    assert exc.value.code == 2
    assert "required" in capsys.readouterr().err


# -- the real entry point ----------------------------------------------------------------------


def test_real_conveyor_command(tmp_path):
    exe = Path(sys.executable).with_name("conveyor")
    env = {**os.environ, "CONVEYOR_HOME": str(tmp_path / "home")}

    def conveyor(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(exe), *argv], env=env, capture_output=True, text=True, timeout=60, check=False
        )

    made = conveyor(
        "blocks", "create", "local-file-system", "cli", "--basepath", str(tmp_path / "r")
    )
    assert made.returncode == 0, made.stderr
    listed = conveyor("blocks", "ls", "--json")
    assert json.loads(listed.stdout) == [
        {"slug": "local-file-system/cli", "config": {"basepath": str(tmp_path / "r")}}
    ]
    missing = conveyor("blocks", "rm", "local-file-system/nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == (
        "conveyor: error: no saved block 'local-file-system/nope'; `conveyor blocks ls` lists them"
    )
