"""Clear words (issue 12, point 7): each message says what is wrong, where, and what to do.

Each test here failed on the code before: the wrong word (DAMAGED for unreachable), the
wrong advice (install a plugin that is installed), a silent success (an empty secret),
a misleading answer ("no saved blocks" for an unknown type), or no answer at all.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conveyor import plugins
from conveyor.blocks import saved_blocks
from conveyor.cli import main
from conveyor.exceptions import ConfigurationError
from conveyor.filesystems import S3, LocalFileSystem, resolve_storage
from conveyor.metadata import document_id, get_store
from conveyor.results import persist_value
from conveyor.serializers import PickleSerializer


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("conveyor: error: "), err
    return lines[0]


def record_run(run_id: str, data: str) -> None:
    store = get_store()
    store.writer.create_flow_run(run_id, "nightly", None, None, ("COMPLETED", "Completed", None, 1.0, data), 1.0, 1)
    store.flush()


def s3_reference(name: str = "prod") -> str:
    """A saved S3 block and the record of a reference to it (no server needed: every test
    here stops before storage is touched)."""
    block = S3(bucket_path="results-bucket", endpoint_url="http://127.0.0.1:9",
               aws_access_key_id="AKIDWORDS", aws_secret_access_key="SECRETWORDS")
    block.save(name)
    return json.dumps({
        "type": "reference", "key": "k", "storage": f"s3/{name}",
        "storage_document": document_id("s3", block.config()),
        "serializer": PickleSerializer().to_dict(), "checksum": "sha256:" + "0" * 64, "size": 1,
    })


@pytest.fixture
def s3_disabled(monkeypatch):
    monkeypatch.setenv("CONVEYOR_DISABLE_PLUGINS", "storage-s3")
    with plugins.use_plugin_manager(plugins.make_plugin_manager()):
        yield


def test_results_verify_calls_unreachable_storage_unreadable(conveyor_home, capsys):
    record_run("f-unreachable", s3_reference())
    block = LocalFileSystem(basepath=str(conveyor_home.parent / "r"))
    record_run("f-missing", persist_value(1, storage=block, serializer=PickleSerializer()).json())
    get_store().delete_block("s3", "prod")
    with get_store().transaction() as conn:  # the recorded document is gone too
        conn.execute("DELETE FROM block_documents WHERE block_type = 's3'")
    (Path(block.basepath)).rename(Path(block.basepath + "-moved"))
    code, out, _err = run(capsys, "results", "verify")
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith("UNREADABLE f") and "f-unreachable" in line for line in lines), out
    assert any(line.startswith("MISSING") and "f-missing" in line for line in lines), out
    assert not any("DAMAGED" in line for line in lines), out
    assert lines[-1].endswith("2 with problems (1 missing, 0 damaged, 1 unreadable)"), lines[-1]


def test_results_get_with_the_s3_plugin_disabled_is_one_sentence(conveyor_home, capsys, s3_disabled):
    record_run("f-s3", s3_reference())
    code, _out, err = run(capsys, "results", "get", "f-s3")
    assert code == 1
    line = error_line(err)
    assert "its block type 's3' is not available here" in line
    assert "disabled by CONVEYOR_DISABLE_PLUGINS=storage-s3" in line
    assert "CONVEYOR_HOME" not in line
    assert line.count("unknown block type 's3'") == 1


def test_blocks_ls_with_a_plugin_disabled_says_it_is_missing(conveyor_home, capsys, s3_disabled):
    s3_reference("prod")
    LocalFileSystem(basepath="/data/r").save("local")
    code, out, _err = run(capsys, "blocks", "ls")
    assert code == 0
    line = next(line for line in out.splitlines() if line.startswith("s3/prod"))
    assert "'?'" not in line and "SECRETWORDS" not in line and "AKIDWORDS" not in line
    assert "fields aws_access_key_id, aws_secret_access_key, bucket_path" in line
    assert "disabled by CONVEYOR_DISABLE_PLUGINS=storage-s3" in line
    assert "local-file-system/local  basepath='/data/r'" in out
    [listed] = [b for b in saved_blocks() if b.slug == "s3/prod"]
    assert listed.status == "unavailable" and listed.config is None


def test_blocks_ls_type_unknown_lists_the_known_ones(conveyor_home, capsys):
    code, out, err = run(capsys, "blocks", "ls", "--type", "nope")
    assert code == 1 and out == ""
    line = error_line(err)
    assert "unknown block type 'nope'; available: local-file-system, s3" in line
    code, out, _err = run(capsys, "blocks", "ls", "--type", "s3")
    assert code == 0 and out.startswith("no saved blocks of type 's3'")


@pytest.mark.parametrize("empty", ["", "   "])
def test_an_empty_secret_is_refused_when_saving(conveyor_home, capsys, empty):
    with pytest.raises(ConfigurationError, match="secret field 'aws_secret_access_key' of block type 's3' is empty"):
        S3(bucket_path="bucket", aws_access_key_id="AKID", aws_secret_access_key=empty).save("x")
    code, _out, err = run(capsys, "blocks", "create", "s3", "y", "--bucket-path", "bucket",
                          "--aws-secret-access-key", empty)
    assert code == 1 and "is empty" in error_line(err)
    assert get_store().list_blocks() == []
    S3(bucket_path="bucket").save("no-secret")  # leaving it out (None) is fine


@pytest.mark.parametrize("value", ["./results", "../out", "/data/results", "~/results", "data/results/2024"])
def test_a_path_as_result_storage_suggests_a_local_file_system(conveyor_home, value):
    with pytest.raises(ConfigurationError) as info:
        resolve_storage(value)
    message = str(info.value)
    assert "looks like a folder path" in message
    assert f"LocalFileSystem(basepath={value!r})" in message
    assert "unknown block type" not in message


def test_a_path_as_result_storage_at_decoration_says_the_same(conveyor_home):
    from conveyor import task

    with pytest.raises(ConfigurationError) as info:

        @task(result_storage="./results")
        def produce() -> int:
            return 1

    assert "looks like a folder path" in str(info.value)
    assert "LocalFileSystem(basepath='./results')" in str(info.value)


def test_create_help_lists_types_and_descriptions_of_s3(conveyor_home, capsys):
    code, out, _err = run(capsys, "blocks", "create", "s3", "x", "--help")
    assert code == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert 'str; required. "bucket" or "bucket/prefix"; keys go below' in lines["--bucket-path"]
    assert "float; default 5.0. seconds to wait for each socket read" in lines["--read-timeout"]
    assert "int; default 2. tries of each request" in lines["--max-attempts"]
    assert "secret" in lines["--aws-secret-access-key"]
