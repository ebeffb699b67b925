"""8 processes × 1,000 tasks writing to one PostgreSQL store at once: 0 rows lost, 0 errors.

Each process runs a flow of 1,000 trivial tasks with ``CONVEYOR_DATABASE_URL`` pointing
at one fresh database (they also create its schema at once: the advisory lock). Then
every row is counted on the server: 8 flow runs and 8,000 task runs, all Completed, each
with its whole state history, and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys

PROCESSES = 8
TASKS = 1_000

WORKER = """
import sys
from conveyor import flow, task

@task
def step(i):
    return i

@flow(name="many-writers")
def many(n):
    return sum(step(i) for i in range(n))

state = many(int(sys.argv[1]), return_state=True)
assert state.result() == sum(range(int(sys.argv[1])))
print(state.run_id)
"""


def test_eight_processes_of_a_thousand_tasks_lose_nothing(postgres_server, postgres_url, tmp_path):
    env = {**os.environ, "CONVEYOR_DATABASE_URL": postgres_url, "CONVEYOR_LOGGING_LEVEL": "WARNING"}
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(TASKS)], env=env, cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    errors = [err for (_out, err), p in zip(outputs, procs) if p.returncode != 0 or err.strip()]
    assert errors == []  # 0 errors: every process exited 0 and wrote nothing to stderr
    run_ids = {out.strip() for out, _err in outputs}
    assert len(run_ids) == PROCESSES

    schema = postgres_url.rpartition("%3D")[2]
    with postgres_server.admin() as conn:
        conn.execute(f'SET search_path = "{schema}"')

        def one(sql, *params):
            return conn.execute(sql, params).fetchone()

        assert one("SELECT count(*), count(*) FILTER (WHERE state_type = 'COMPLETED') FROM flow_runs") == (PROCESSES, PROCESSES)
        assert {r[0] for r in conn.execute("SELECT id FROM flow_runs")} == run_ids
        per_flow = conn.execute(
            "SELECT flow_run_id, count(*), count(*) FILTER (WHERE state_type = 'COMPLETED') "
            "FROM task_runs GROUP BY flow_run_id").fetchall()
        assert sorted(per_flow) == sorted((r, TASKS, TASKS) for r in run_ids)  # 0 rows lost
        # every task run has the same history (the same number of states, as rows of
        # ``states`` or told by its own row, the last one its current state), and no state
        # row belongs to no run
        histories = conn.execute(
            "SELECT coalesce(length(t.implied_states), 0) + "
            "(SELECT count(*) FROM states s WHERE s.run_id = t.id) FROM task_runs t"
        ).fetchall()
        assert len(histories) == PROCESSES * TASKS and len(set(histories)) == 1
        assert histories[0][0] >= 2
        assert one("SELECT count(*) FROM states WHERE run_id NOT IN "
                   "(SELECT id FROM task_runs UNION ALL SELECT id FROM flow_runs)") == (0,)
        last_states = one(
            "SELECT count(*) FROM task_runs t WHERE right(t.implied_states, 1) = 'F' OR "
            "t.state_type = (SELECT s.type FROM states s WHERE s.run_id = t.id ORDER BY s.seq DESC LIMIT 1)")
        assert last_states == (PROCESSES * TASKS,)
        assert one("SELECT version FROM schema_version") is not None
