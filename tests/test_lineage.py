"""Input lineage: each task run records which task runs' results it received as inputs
(issue: results you can find, and know where a value came from)."""

from __future__ import annotations

import json
import sqlite3

from conveyor import allow_failure, flow, get_client, task
from conveyor.cli import main as cli_main
from conveyor.engine.lineage import Lineage


class Table:
    """A value that can be weakly referenced (as DataFrames and arrays can)."""

    def __init__(self, rows: list[int]) -> None:
        self.rows = rows


@task
def load(n: int) -> list[int]:
    return list(range(n))


@task
def load_table(n: int) -> Table:
    return Table(list(range(n)))


@task
def total(rows: list[int], extra: int = 0) -> int:
    return sum(rows) + extra


@task
def combine(parts: list, table: Table | None = None) -> int:
    return len(parts)


def _inputs(flow_run_id: str) -> dict[str, list[dict[str, list[str]]]]:
    by_task: dict[str, list[dict[str, list[str]]]] = {}
    for t in get_client().read_task_runs(flow_run_id):
        by_task.setdefault(t.task_name, []).append(t.inputs)
    return by_task


def _ids(flow_run_id: str, name: str) -> list[str]:
    return [t.id for t in get_client().read_task_runs(flow_run_id) if t.task_name == name]


def test_values_returned_by_task_calls_and_futures_are_traced():
    @flow
    def pipeline() -> int:
        rows = load(3)
        later = load.submit(4)
        a = total(rows, extra=1)
        b = total.submit(later)
        return combine([rows, b, 7], table=load_table(2))

    state = pipeline(return_state=True)
    loads, tables = _ids(state.run_id, "load"), _ids(state.run_id, "load_table")
    totals = _ids(state.run_id, "total")
    inputs = _inputs(state.run_id)
    assert inputs["load"] == [{}, {}]  # literals from the flow: no upstream run
    assert inputs["total"] == [{"rows": [loads[0]]}, {"rows": [loads[1]]}]
    assert inputs["combine"] == [{"parts": [loads[0], totals[1]], "table": [tables[0]]}]


def test_map_and_allow_failure_and_wait_for():
    """Mapped runs and allow_failure inputs are traced; wait_for carries no value: no lineage."""
    @task
    def boom() -> int:
        raise ValueError("no")

    @task
    def keep(x: object) -> str:
        return type(x).__name__

    @flow
    def fan() -> list[int]:
        rows = load(5)
        failed = boom.submit()
        keep.submit(allow_failure(failed)).result()
        keep.submit(1, wait_for=[allow_failure(failed)]).result()  # waits, takes no value
        return [f.result() for f in total.map([rows, rows])]

    state = fan(return_state=True)
    load_id = _ids(state.run_id, "load")[0]
    boom_id = _ids(state.run_id, "boom")[0]
    assert _inputs(state.run_id)["keep"] == [{"x": [boom_id]}, {}]
    assert _inputs(state.run_id)["total"] == [{"rows": [load_id]}, {"rows": [load_id]}]


def test_a_subflow_traces_values_from_its_parent_flow():
    @flow
    def child(rows: list[int]) -> int:
        return total(rows)

    @flow
    def parent() -> int:
        return child(load(3))

    state = parent(return_state=True)
    load_id = _ids(state.run_id, "load")[0]
    (sub,) = get_client().read_subflow_runs(state.run_id)
    assert _inputs(sub.id)["total"] == [{"rows": [load_id]}]


def test_an_equal_but_different_value_is_not_traced():
    @flow
    def copy() -> int:
        rows = load(3)
        return total(list(rows))  # a new list: not the object load returned

    state = copy(return_state=True)
    assert _inputs(state.run_id)["total"] == [{}]


def test_unkept_values_of_unreferenceable_types_are_not_held_for_lineage():
    lineage = Lineage()
    rows, table = [1, 2], Table([1])
    lineage.note(rows, "run-a", keep=False)  # a list cannot be weakly referenced
    lineage.note(table, "run-b", keep=False)
    lineage.note(5, "run-c", keep=True)  # atoms are shared objects: never traced
    assert lineage.upstream(rows) == [] and lineage.upstream(table) == ["run-b"]
    assert lineage.upstream(5) == []
    del table  # weakly held: once gone, its id may be reused by another object
    assert lineage.upstream(Table([1])) == []
    lineage.note(rows, "run-a", keep=True)
    assert lineage.upstream({"k": [rows]}) == ["run-a"]


def test_lineage_is_in_runs_show_and_its_json(capsys):
    @flow
    def shown() -> int:
        return total(load(3))

    state = shown(return_state=True)
    load_id, total_id = _ids(state.run_id, "load")[0], _ids(state.run_id, "total")[0]
    capsys.readouterr()
    assert cli_main(["runs", "show", state.run_id]) == 0
    assert f"inputs: rows <- {load_id} (load)" in capsys.readouterr().out
    assert cli_main(["runs", "show", total_id[:12]]) == 0
    assert f"inputs   rows <- {load_id} (load)" in capsys.readouterr().out
    assert cli_main(["runs", "show", state.run_id, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [t["inputs"] for t in doc["task_runs"]] == [{}, {"rows": [load_id]}]


def test_lineage_is_recorded_in_the_inputs_column(conveyor_home):
    @flow
    def stored() -> int:
        return total(load(2))

    state = stored(return_state=True)
    get_client().store.flush()
    conn = sqlite3.connect(conveyor_home / "conveyor.db")
    rows = conn.execute(
        "SELECT task_name, inputs FROM task_runs WHERE flow_run_id = ? ORDER BY created", (state.run_id,)
    ).fetchall()
    assert rows[0] == ("load", None)
    assert rows[1][0] == "total" and json.loads(rows[1][1]) == {"rows": [_ids(state.run_id, "load")[0]]}
