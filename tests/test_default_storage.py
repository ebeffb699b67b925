"""CONVEYOR_RESULTS_DEFAULT_STORAGE: a saved block as the default result storage, so the
same flow code writes to a local folder on a laptop and to S3 on a cluster."""

from __future__ import annotations

import pytest
from conveyor import flow, task
from conveyor.exceptions import ConfigurationError
from conveyor.filesystems import LocalFileSystem


@task(persist_result=True)
def make() -> list[int]:
    return [1, 2, 3]


@flow(persist_result=True)
def unchanged() -> list:
    return [make(return_state=True)]


def test_a_saved_block_becomes_the_default_storage(conveyor_home, tmp_path, monkeypatch):
    LocalFileSystem(basepath=str(tmp_path / "shared")).save("shared")
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_STORAGE", "local-file-system/shared")
    state = unchanged()[0]
    assert state.data.storage == "local-file-system/shared"  # recorded by its slug
    assert (tmp_path / "shared" / state.data.key).is_file()
    assert state.result() == [1, 2, 3]


def test_an_own_result_storage_still_wins(conveyor_home, tmp_path, monkeypatch):
    LocalFileSystem(basepath=str(tmp_path / "shared")).save("shared")
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_STORAGE", "local-file-system/shared")
    own = LocalFileSystem(basepath=str(tmp_path / "own"))

    @flow(result_storage=own)
    def mine() -> list:
        return [make(return_state=True)]

    state = mine()[0]
    assert (tmp_path / "own" / state.data.key).is_file()


def test_an_unknown_slug_is_one_line_naming_the_setting(conveyor_home, monkeypatch):
    monkeypatch.setenv("CONVEYOR_RESULTS_DEFAULT_STORAGE", "local-file-system/nope")
    with pytest.raises(ConfigurationError, match=r"^CONVEYOR_RESULTS_DEFAULT_STORAGE='local-file-system/nope': no saved"):
        unchanged()
