"""``conveyor ui``'s pages, through Starlette's test client, over a store of real runs."""

from __future__ import annotations

import datetime
import json
import re
import sys

from conveyor.cli import main


_ui = sys.modules["conveyor_tests_ui_store"]  # loaded by tests/conftest.py
ui_store = _ui.ui_store
ui_client = _ui.ui_client


def _cli_json(capsys, *argv):
    capsys.readouterr()
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _ids(html, kind="runs"):
    return re.findall(rf'href="/{kind}/([^"/?]+)"', html)


# -- the runs page ---------------------------------------------------------------------


def test_runs_page_lists_runs_newest_first_with_states(ui_client, ui_store):
    page = ui_client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    listed = list(dict.fromkeys(_ids(page.text)))
    assert listed[0] == ui_store["resumed"]  # the last run made
    assert ui_store["report"] in listed and ui_store["subflow"] in listed
    assert listed.index(ui_store["resumed"]) < listed.index(ui_store["report"])
    assert 'class="state state-FAILED name-Failed">Failed' in page.text
    assert "State colours</h2>" in page.text  # the legend
    assert 'name="flow"' in page.text and '<option value="report"' in page.text


def test_runs_page_json_is_the_cli_runs_ls_json(ui_client, capsys):
    doc = ui_client.get("/?format=json&limit=500").json()
    cli = _cli_json(capsys, "runs", "ls", "--subflows")  # the page lists subflow runs too
    assert [r["id"] for r in doc["runs"]] == [r["id"] for r in cli]
    for mine, theirs in zip(doc["runs"], cli):
        assert {k: mine[k] for k in theirs} == theirs
    by_accept = ui_client.get("/", headers={"accept": "application/json"})
    assert by_accept.headers["content-type"] == "application/json"
    assert [r["id"] for r in by_accept.json()["runs"]] == [r["id"] for r in cli]


def test_filters_by_flow_state_and_date(ui_client, ui_store):
    runs = ui_client.get("/?format=json&flow=resumable").json()["runs"]
    assert {r["flow"] for r in runs} == {"resumable"} and len(runs) == 2
    failed = ui_client.get("/?format=json&state=FAILED").json()["runs"]
    assert {r["id"] for r in failed} == {ui_store["broken"], ui_store["failed_first"]}
    by_name = ui_client.get("/?format=json&state=Completed").json()["runs"]
    assert ui_store["report"] in {r["id"] for r in by_name}
    today = datetime.date.today()
    tomorrow = (today + datetime.timedelta(days=1)).isoformat()
    yesterday = (today - datetime.timedelta(days=1)).isoformat()
    assert ui_client.get(f"/?format=json&since={tomorrow}").json()["runs"] == []
    assert len(ui_client.get(f"/?format=json&since={yesterday}").json()["runs"]) >= 6
    assert ui_client.get(f"/?format=json&until={yesterday}").json()["runs"] == []
    empty = ui_client.get(f"/?since={tomorrow}")
    assert empty.status_code == 200 and "match these filters" in empty.text


def test_bad_filters_are_a_400_page_naming_the_parameter(ui_client):
    page = ui_client.get("/?since=yesterday-ish")
    assert page.status_code == 400
    assert "since=&#39;yesterday-ish&#39; is not a date" in page.text
    assert "Traceback" not in page.text
    doc = ui_client.get("/?older=garbage&format=json")
    assert doc.status_code == 400
    assert "page cursor 'garbage' is not one this store made" in doc.json()["error"]
    assert ui_client.get("/?limit=0&format=json").status_code == 400


def test_keyset_pages_walk_every_run_once_both_ways(ui_client):
    everything = [r["id"] for r in ui_client.get("/?format=json&limit=500").json()["runs"]]
    seen, page = [], ui_client.get("/?format=json&limit=2").json()
    pages = [page]
    while True:
        seen += [r["id"] for r in page["runs"]]
        if not page["older"]:
            break
        page = ui_client.get("/" + page["older"] + "&format=json").json()
        pages.append(page)
        assert page["newer"] and page["first"]
    assert seen == everything and len(pages) == (len(everything) + 1) // 2
    back = []
    while page["newer"]:
        page = ui_client.get("/" + page["newer"] + "&format=json").json()
        back = [r["id"] for r in page["runs"]] + back
    assert back == everything[: len(back)] and back[:2] == everything[:2]
    html = ui_client.get("/?limit=2")
    assert 'rel="next"' in html.text and 'rel="prev"' not in html.text


# -- one run ---------------------------------------------------------------------------


def test_run_page_groups_tasks_with_counts_timeline_results_and_reasons(ui_client, ui_store):
    page = ui_client.get(f"/runs/{ui_store['report']}")
    assert page.status_code == 200
    text = page.text
    assert "Flow run <strong>report</strong>" in text
    # grouped by task, with counts per state
    assert re.search(r"\?task=cached_sum#task-runs\">cached_sum</a></td><td>2</td>", text)
    assert "Completed 1</span>" in text and "Cached 1</span>" in text
    assert "Failed 1</span>" in text
    # timeline bars, result location, serializer, size, checksum status, policy reason
    assert text.count('<div class="bar"') == ui_store["task_count"]
    assert str(ui_store["results"]) in text
    assert "json, " in text and "checksum recorded, not checked" in text
    assert "result persisted: persist_result=True on task &#39;make_table&#39;" in text
    assert "cache hit for key &#39;cache-3&#39;" in text
    assert "literal <code>true</code>" in text and "not persisted" in text
    # the subflow, nested under the task run that started it, and its own subflow
    assert "Subflow: " in text and ui_store["subflow"] in text
    assert text.count('class="tree"') >= 2


def test_run_page_json_is_the_cli_runs_show_json_and_more(ui_client, ui_store, capsys):
    doc = ui_client.get(f"/runs/{ui_store['report']}", headers={"accept": "application/json"}).json()
    cli = _cli_json(capsys, "runs", "show", ui_store["report"])
    for key, value in cli.items():
        if key in ("task_runs", "subflow_runs"):
            assert [{k: t[k] for k in c} for t, c in zip(doc[key], value)] == value
        else:
            assert doc[key] == value, key
    groups = {g["task"]: g for g in doc["task_groups"]}
    assert groups["cached_sum"]["states"] == {"Completed": 1, "Cached": 1}
    assert groups["make_table"]["count"] == 2
    sub = doc["subflow_tree"][0]
    assert sub["flow"] == "inner" and sub["subflows"][0]["flow"] == "innermost"
    assert all(t["bar"] is not None for t in doc["task_runs"])
    assert doc["lineage"] == {"resumed_from": None, "chain": [], "resumed_by": []}


def test_resumed_run_shows_its_lineage_and_reused_task_runs(ui_client, ui_store):
    resumed, first = ui_store["resumed"], ui_store["failed_first"]
    doc = ui_client.get(f"/runs/{resumed}?format=json").json()
    assert doc["lineage"]["resumed_from"] == first
    assert [link["id"] for link in doc["lineage"]["chain"]] == [first]
    assert {t["state_name"] for t in doc["task_runs"] if t["task"] == "step"} == {"Reused"}
    html = ui_client.get(f"/runs/{resumed}").text
    assert f'href="/runs/{first}"' in html and "Reused 2</span>" in html
    assert 'reused the result of task run <a class="id" href="/task-runs/' in html
    back = ui_client.get(f"/runs/{first}?format=json").json()
    assert [link["id"] for link in back["lineage"]["resumed_by"]] == [resumed]


def test_a_task_run_id_on_the_run_page_redirects_to_the_task_run(ui_client, ui_store):
    task_id = ui_store["tasks"]["make_table"]
    page = ui_client.get(f"/runs/{task_id}?format=json", follow_redirects=False)
    assert page.status_code == 307
    assert page.headers["location"] == f"/task-runs/{task_id}?format=json"


def test_verify_every_result_of_a_run(ui_client, ui_store):
    page = ui_client.post(f"/runs/{ui_store['report']}/verify")
    assert page.status_code == 200
    assert "checksum ok" in page.text and "checksum recorded, not checked" not in page.text
    doc = ui_client.post(f"/runs/{ui_store['report']}/verify?format=json").json()
    assert doc["verification"] and all(v["ok"] for v in doc["verification"].values())


# -- one task run ----------------------------------------------------------------------


def test_task_run_page_states_call_and_no_lineage(ui_client, ui_store, capsys):
    task_id = ui_store["tasks"]["explode"]
    page = ui_client.get(f"/task-runs/{task_id}")
    assert page.status_code == 200
    assert "Task run <strong>explode</strong>" in page.text
    assert "Running</span>" in page.text and "Failed</span>" in page.text
    assert "ValueError" in page.text and "the input was bad" in page.text
    assert "none: no input came from another task run" in page.text
    doc = ui_client.get(f"/task-runs/{task_id}?format=json").json()
    cli = _cli_json(capsys, "runs", "show", task_id)
    assert {k: doc[k] for k in cli} == cli
    assert [s["name"] for s in doc["states"]] == ["Running", "Failed"]
    assert all(s["timestamp"] for s in doc["states"])
    assert doc["inputs"] == {} and doc["input_sources"] == []
    assert doc["call"]["position"] == 0


def test_task_run_page_shows_the_runs_its_inputs_came_from(ui_client, ui_store, capsys):
    task_id = ui_store["tasks"]["summarize"]
    table_run = ui_store["tasks"]["make_table"]
    doc = ui_client.get(f"/task-runs/{task_id}?format=json").json()
    assert doc["inputs"] == {"table": [table_run]}
    assert doc["input_sources"] == [
        {"parameter": "table", "id": table_run, "task": "make_table", "state_name": "Completed"}
    ]
    assert _cli_json(capsys, "runs", "show", task_id)["inputs"] == {"table": [table_run]}
    page = ui_client.get(f"/task-runs/{task_id}")
    assert f'href="/task-runs/{table_run}"' in page.text and "make_table" in page.text


def test_the_subflow_placeholder_links_its_subflow_run(ui_client, ui_store):
    report = ui_client.get(f"/runs/{ui_store['report']}?format=json").json()
    placeholder = next(t for t in report["task_runs"] if t["task"] == "inner")
    doc = ui_client.get(f"/task-runs/{placeholder['id']}?format=json").json()
    assert [f["id"] for f in doc["subflow_runs"]] == [ui_store["subflow"]]


def test_pages_run_no_script_and_work_from_the_keyboard(ui_client, ui_store):
    task_id = ui_store["tasks"]["make_table"]
    for path in ("/", f"/runs/{ui_store['report']}", f"/task-runs/{task_id}",
                 f"/results/{task_id}", "/blocks", "/runs/nope"):
        html = ui_client.get(path).text
        assert "<script" not in html.lower(), path
        assert not re.search(r"\son[a-z]+\s*=", html), path  # no inline event handlers
        assert '<a class="skip" href="#main">' in html and 'id="main"' in html
        assert 'name="viewport"' in html and 'lang="en"' in html
        for form in re.findall(r"<form.*?</form>", html, flags=re.DOTALL):
            assert '<button type="submit"' in form, path  # every action is a real button
    css = ui_client.get("/static/ui.css").text
    assert ":focus-visible" in css and "outline" in css


# -- blocks, unknown ids, static files -------------------------------------------------


def test_blocks_page_is_the_cli_blocks_ls_json(ui_client, capsys):
    assert ui_client.get("/blocks").status_code == 200
    assert ui_client.get("/blocks?format=json").json() == _cli_json(capsys, "blocks", "ls")


def test_unknown_ids_and_pages_are_404_pages_with_a_message(ui_client):
    for path in ("/runs/nope", "/task-runs/nope", "/results/nope", "/results/nope/download",
                 "/no/such/page"):
        page = ui_client.get(path)
        assert page.status_code == 404, path
        assert "Not found" in page.text and "Traceback" not in page.text
        doc = ui_client.get(path, headers={"accept": "application/json"})
        assert doc.status_code == 404 and doc.json()["error"]
    assert "no flow run with id &#39;nope&#39;" in ui_client.get("/runs/nope").text


def test_the_stylesheet_is_served(ui_client):
    css = ui_client.get("/static/ui.css")
    assert css.status_code == 200 and ":focus-visible" in css.text and "@media" in css.text


# -- big runs and keyset ties, in stores of the test's own ------------------------------------


def _own_client():
    return _ui.TestClient(_ui.create_app(_ui.UIConfig()), base_url="http://127.0.0.1:4200")


def test_a_big_run_shows_a_page_of_each_task_and_pages_through_one(conveyor_home):
    from conveyor import flow, task
    from conveyor.ui.tasklist import MAX_SHOWN, PER_GROUP

    @task
    def square(i: int) -> int:
        if i % 100 == 99:
            raise ValueError(f"item {i}")
        return i * i

    @task
    def total(n: int) -> int:
        return n

    @flow
    def big(n: int) -> int:
        done = 0
        for i in range(n):
            try:
                done += square(i)
            except ValueError:
                pass
        return total(done)

    n = MAX_SHOWN + 20
    run_id = big(n, return_state=True).run_id
    client = _own_client()
    page = client.get(f"/runs/{run_id}").text
    assert page.count("/task-runs/") == PER_GROUP + 1
    assert f"showing {PER_GROUP}: show all {n}" in page and 'href="/runs/' in page
    doc = client.get(f"/runs/{run_id}?format=json").json()
    assert len(doc["task_runs"]) == n + 1  # the JSON holds every task run, as the CLI's does
    assert {g["task"]: g["states"] for g in doc["task_groups"]} == {
        "square": {"Completed": n - n // 100, "Failed": n // 100}, "total": {"Completed": 1}}
    first = client.get(f"/runs/{run_id}?task=square").text
    assert first.count("/task-runs/") == MAX_SHOWN and f"start={MAX_SHOWN}" in first
    rest = client.get(f"/runs/{run_id}?task=square&start={MAX_SHOWN}").text
    assert rest.count("/task-runs/") == n - MAX_SHOWN and "next " not in rest.split("Subflow")[0]
    failed = client.get(f"/runs/{run_id}?state=Failed&format=json").json()
    assert [t["message"] for t in failed["task_runs"]][:2] == ["ValueError: item 99", "ValueError: item 199"]
    assert client.get(f"/runs/{run_id}?start=-1").status_code == 400


def test_keyset_pages_keep_runs_made_at_the_same_instant(conveyor_home):
    from conveyor.metadata import get_store

    store = get_store()
    state = ("COMPLETED", "Completed", None, 1_700_000_000.0, "true")
    ids = [f"same-{i:02d}" for i in range(7)]
    for run_id in ids:
        store.writer.create_flow_run(run_id, "tied", None, None, state, 1_700_000_000.0, 1)
    store.flush()
    client, seen, page = _own_client(), [], {"older": "?limit=3"}
    while page["older"]:
        page = client.get("/" + page["older"] + "&format=json").json()
        seen += [r["id"] for r in page["runs"]]
    assert seen == sorted(ids, reverse=True)
