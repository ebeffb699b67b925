"""``conveyor ui``'s result pages: previews, streamed payloads, verify; damaged records."""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.metadata import get_store
from conveyor.results import MISSING_MESSAGE
from conveyor.ui.app import create_app
from conveyor.ui.config import UIConfig
from conveyor.ui.resultview import PICKLE_NOTE, PREVIEW_LIMIT
from starlette.testclient import TestClient


_ui = sys.modules["conveyor_tests_ui_store"]  # loaded by tests/conftest.py
ui_store = _ui.ui_store
ui_client = _ui.ui_client


def _reference(run_id):
    return get_client().read_run(run_id).state.data


# -- previews --------------------------------------------------------------------------


def test_json_result_previews_escaped_and_downloads_its_exact_payload(ui_client, ui_store):
    run_id = ui_store["tasks"]["make_table"]
    page = ui_client.get(f"/results/{run_id}")
    assert page.status_code == 200
    assert "&#34;row-0&#34;" in page.text or '"row-0"' in page.text
    assert "&lt;b&gt;not markup&lt;/b&gt;" in page.text and "<b>not markup</b>" not in page.text
    assert f'href="/results/{run_id}/download"' in page.text
    doc = ui_client.get(f"/results/{run_id}?format=json").json()
    assert doc["result"]["kind"] == "reference" and doc["result"]["serializer"] == "json"
    assert json.loads(doc["preview"]["text"]) == {"rows": 3, "names": ["row-0", "row-1", "row-2"],
                                                  "note": "<b>not markup</b>"}
    assert doc["location"] == str(ui_store["results"] / _reference(run_id).key)
    got = ui_client.get(f"/results/{run_id}/download")
    assert got.status_code == 200 and got.headers["content-type"] == "application/json"
    assert f'filename="{run_id}.json"' in got.headers["content-disposition"]
    assert json.loads(got.content)["rows"] == 3
    assert got.headers["x-conveyor-checksum"] == _reference(run_id).checksum


def test_compressed_json_and_literals_preview(ui_client, ui_store):
    doc = ui_client.get(f"/results/{ui_store['tasks']['compressed']}?format=json").json()
    assert json.loads(doc["preview"]["text"]) == {"compressed": True, "values": [0, 1, 2]}
    assert doc["result"]["serializer"] == "compressed"
    for name, text in (("literal_true", "true"), ("literal_none", "null")):
        doc = ui_client.get(f"/results/{ui_store['tasks'][name]}?format=json").json()
        assert doc["result"]["kind"] == "literal" and doc["preview"] == {"shown": True, "text": text}
        assert not doc["downloadable"]


def test_unpersisted_result_says_so_and_has_nothing_to_download(ui_client, ui_store):
    run_id = ui_store["tasks"]["in_memory"]
    doc = ui_client.get(f"/results/{run_id}?format=json").json()
    assert doc["result"] == {"kind": "unpersisted"}
    assert doc["preview"]["note"] == MISSING_MESSAGE
    page = ui_client.get(f"/results/{run_id}/download")
    assert page.status_code == 404 and "has no stored payload" in page.text


def test_pickle_results_are_never_unpickled_but_download(ui_client, ui_store, monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("the server unpickled a result")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    for name in ("pickled", "explode"):
        run_id = ui_store["tasks"][name]
        page = ui_client.get(f"/results/{run_id}")
        assert page.status_code == 200, name
        assert PICKLE_NOTE in page.text.replace("&#39;", "'")
        assert ui_client.post(f"/results/{run_id}/verify").status_code == 200
        assert ui_client.get(f"/task-runs/{run_id}").status_code == 200
    payload = ui_client.get(f"/results/{ui_store['tasks']['pickled']}/download")
    assert payload.headers["content-type"] == "application/octet-stream"
    monkeypatch.undo()
    assert pickle.loads(payload.content) == [0, 1, 2]  # the test may; the server never does


def test_verify_button_reports_ok(ui_client, ui_store):
    run_id = ui_store["tasks"]["make_table"]
    page = ui_client.post(f"/results/{run_id}/verify")
    assert page.status_code == 200 and "Checksum ok" in page.text
    doc = ui_client.post(f"/results/{run_id}/verify", headers={"accept": "application/json"}).json()
    assert doc["verification"]["ok"] and doc["verification"]["status"] == "ok"
    assert doc["verification"]["checksum"] == _reference(run_id).checksum


# -- damage, in a store of the test's own --------------------------------------------------


@task(result_serializer="json", persist_result=True)
def payload(n: int) -> list[str]:
    return ["x" * 10] * n


@flow
def one(n: int = 2) -> list[str]:
    return payload(n)


def _client():
    return TestClient(create_app(UIConfig()), base_url="http://127.0.0.1:4200")


def _task_of(flow_state):
    return get_client().read_task_runs(flow_state.run_id)[0]


def test_a_deleted_payload_is_missing_everywhere(tmp_path):
    run = _task_of(one(return_state=True))
    path = Path(run.state.data.resolve_storage().full_path(run.state.data.key))
    path.unlink()
    client = _client()
    page = client.get(f"/results/{run.id}?format=json").json()
    assert page["preview"]["shown"] is False and "was not found" in page["preview"]["note"]
    verdict = client.post(f"/results/{run.id}/verify?format=json").json()["verification"]
    assert verdict["status"] == "missing" and not verdict["ok"]
    gone = client.get(f"/results/{run.id}/download")
    assert gone.status_code == 404 and "was not found" in gone.text and "Traceback" not in gone.text
    checked = client.post(f"/runs/{run.flow_run_id}/verify").text
    assert "checksum missing" in checked


def test_a_corrupt_payload_is_a_422_download_and_a_corrupt_verdict():
    run = _task_of(one(return_state=True))
    path = Path(run.state.data.resolve_storage().full_path(run.state.data.key))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    client = _client()
    assert client.post(f"/results/{run.id}/verify?format=json").json()["verification"]["status"] == "corrupt"
    bad = client.get(f"/results/{run.id}/download")
    assert bad.status_code == 422 and "corrupt" in bad.text


def test_a_large_json_result_is_not_previewed_but_streams_whole():
    from conveyor.ui.resultview import STREAM_CHUNK

    n = PREVIEW_LIMIT // 10
    big = _task_of(one(n, return_state=True))
    client = _client()
    doc = client.get(f"/results/{big.id}?format=json").json()
    assert doc["preview"]["shown"] is False and "preview limit" in doc["preview"]["note"]
    got = client.get(f"/results/{big.id}/download")
    assert big.state.data.size > STREAM_CHUNK  # more than one chunk
    assert len(got.content) == big.state.data.size == int(got.headers["content-length"])
    assert json.loads(got.content) == ["x" * 10] * n


def _damage(sql, params):
    store = get_store()
    store.flush()
    with store.transaction() as conn:
        conn.execute(sql, params)


def test_damaged_records_are_422_pages_and_marked_in_lists():
    state = one(return_state=True)
    task_run = _task_of(state)
    _damage("UPDATE task_runs SET state_data = ? WHERE id = ?",
            ('{"type": "reference", "key": "k"}', task_run.id))
    client = _client()
    run_page = client.get(f"/runs/{state.run_id}")
    assert run_page.status_code == 200 and "Damaged</span>" in run_page.text
    for path in (f"/task-runs/{task_run.id}", f"/results/{task_run.id}"):
        page = client.get(path)
        assert page.status_code == 422, path
        assert "is damaged" in page.text and "Traceback" not in page.text
    _damage("UPDATE flow_runs SET state_data = ? WHERE id = ?", ("{not json", state.run_id))
    assert client.get(f"/runs/{state.run_id}").status_code == 422
    doc = client.get(f"/runs/{state.run_id}?format=json").json()
    assert doc["status"] == 422 and "damaged" in doc["error"]
    listed = client.get("/?format=json").json()["runs"]
    assert listed[0]["id"] == state.run_id and listed[0]["damaged"]
    assert "Damaged</span>" in client.get("/").text


def test_an_unexpected_failure_is_a_500_page_of_one_line(monkeypatch):
    one(return_state=True)
    from conveyor.ui import listing

    def broken(*_a, **_k):
        raise RuntimeError("the disk\nis on fire")

    monkeypatch.setattr(listing, "run_row", broken)
    client = TestClient(create_app(UIConfig()), base_url="http://127.0.0.1:4200",
                        raise_server_exceptions=False)
    page = client.get("/")
    assert page.status_code == 500
    assert "RuntimeError: the disk" in page.text and "on fire" not in page.text
    assert "Traceback" not in page.text


# -- results in S3 (a real SeaweedFS) ----------------------------------------------------------


@pytest.mark.s3
def test_s3_results_show_their_uri_stream_and_verify_without_secrets(seaweedfs_server, seaweedfs_bucket):
    block = seaweedfs_server.block(f"{seaweedfs_bucket}/ui")
    block.save("ui")

    @task(result_storage="s3/ui", result_serializer="json")
    def remote() -> dict[str, int]:
        return {"remote": 1}

    @flow
    def remote_flow() -> dict[str, int]:
        return remote()

    run = _task_of(remote_flow(return_state=True))
    client = _client()
    doc = client.get(f"/results/{run.id}?format=json").json()
    assert doc["location"].startswith(f"s3://{seaweedfs_bucket}/ui/")
    assert json.loads(doc["preview"]["text"]) == {"remote": 1}
    assert json.loads(client.get(f"/results/{run.id}/download").content) == {"remote": 1}
    assert client.post(f"/results/{run.id}/verify?format=json").json()["verification"]["ok"]
    secret = block.aws_secret_access_key
    assert secret
    for path in ("/blocks", "/blocks?format=json", f"/results/{run.id}", f"/runs/{run.flow_run_id}",
                 f"/task-runs/{run.id}", f"/results/{run.id}?format=json"):
        assert secret not in client.get(path).text, path
    assert "********" in client.get("/blocks").text
