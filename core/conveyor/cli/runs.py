"""``conveyor runs ls|show|resume``: past flow runs and task runs, and resuming one.

Everything ``ls`` and ``show`` print comes from the metadata database, read through
``conveyor.client``; no result value is read from storage there. Both first mark Crashed
the runs whose process is gone (:mod:`conveyor.engine.recovery`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from conveyor.cli.output import format_duration, format_when, result_line, run_dict
from conveyor.client import FlowRun, get_client
from conveyor.engine.recovery import mark_crashed_runs
from conveyor.engine.resume import resume
from conveyor.exceptions import ConfigurationError


def _cmd_runs_ls(args: argparse.Namespace) -> int:
    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit {args.limit} must be 0 or more")
    client = get_client()
    mark_crashed_runs(client.store)
    runs = client.read_flow_runs(flow_name=args.flow, limit=args.limit)
    if args.json:
        print(json.dumps([run_dict(r) for r in runs], indent=2, default=str))
        return 0
    if not runs:
        which = f" of flow {args.flow!r}" if args.flow else ""
        print(f"no flow runs{which} recorded yet")
        return 0
    rows = [
        (
            r.id,
            f"{r.flow_name} ({r.run_name})" if r.run_name else r.flow_name,
            r.state.name,
            format_when(r.start_time),
            format_duration(r.start_time, r.end_time),
            f"resumes {r.resumed_from}" if r.resumed_from else "",
        )
        for r in runs
    ]
    header = ("ID", "FLOW", "STATE", "START", "DURATION", "")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return 0


def _cmd_runs_show(args: argparse.Namespace) -> int:
    client = get_client()
    mark_crashed_runs(client.store)
    run = client.read_run(args.run_id)
    if isinstance(run, FlowRun):
        tasks = client.read_task_runs(run.id)
        subflows = client.read_subflow_runs(run.id)
    else:
        tasks, subflows = [], []
    if args.json:
        doc = run_dict(run)
        if isinstance(run, FlowRun):
            doc["task_runs"] = [run_dict(t) for t in tasks]
            doc["subflow_runs"] = [run_dict(f) for f in subflows]
        print(json.dumps(doc, indent=2, default=str))
        return 0
    if isinstance(run, FlowRun):
        print(f"flow run {run.id}  ({run.flow_name})")
        if run.run_name:
            print(f"  name     {run.run_name}")
        if run.parent_task_run_id:
            print(f"  subflow of task run {run.parent_task_run_id}")
        if run.resumed_from:
            print(f"  resumes flow run {run.resumed_from}")
        for later in client.read_resuming_runs(run.id):
            print(f"  resumed by flow run {later.id} ({later.state.name})")
    else:
        print(f"task run {run.id}  ({run.task_name})")
        if run.run_name:
            print(f"  name     {run.run_name}")
        if run.flow_run_id:
            print(f"  in flow run {run.flow_run_id}")
        if run.cache_key:
            print(f"  cache key {run.cache_key}")
    if run.tags:
        print(f"  tags     {', '.join(run.tags)}")
    state = run.state
    message = f" - {state.message}" if state.message else ""
    print(f"  state    {state.name}{message}")
    print(
        f"  started  {format_when(run.start_time)}   "
        f"took {format_duration(run.start_time, run.end_time)}   attempts {run.run_count}"
    )
    print(f"  result   {result_line(state.data)}")
    if tasks:
        print(f"  task runs ({len(tasks)}):")
        width = max(len(t.task_name) + (len(t.run_name) + 3 if t.run_name else 0) for t in tasks)
        for t in tasks:
            name = (f"{t.task_name} ({t.run_name})" if t.run_name else t.task_name).ljust(width)
            print(f"    {t.id}  {name}  {t.state.name:<9} {result_line(t.state.data)}")
            if t.state.message:
                print(f"        {t.state.message}")
    if subflows:
        print(f"  subflow runs ({len(subflows)}):")
        for f in subflows:
            print(f"    {f.id}  {f.flow_name}  {f.state.name:<9} {result_line(f.state.data)}")
    return 0


def _parse_params(pairs: list[str]) -> dict[str, Any]:
    """``name=value`` pairs; a value is JSON when it parses as JSON, else the text itself."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.isidentifier():
            raise ConfigurationError(
                f"--param {pair!r} is not name=value (e.g. --param day=2024-01-31 or --param n=3)"
            )
        try:
            out[name] = json.loads(raw)
        except ValueError:
            out[name] = raw
    return out


def _cmd_runs_resume(args: argparse.Namespace) -> int:
    parameters = _parse_params(args.param or [])
    state = resume(args.run_id, return_state=True, **parameters)
    if asyncio.iscoroutine(state):
        state = asyncio.run(state)
    reused = sum(1 for t in get_client().read_task_runs(state.run_id) if t.state.name == "Reused")
    print(f"flow run {state.run_id} resumes {args.run_id}: {state.name}"
          + (f" - {state.message}" if state.message else ""))
    print(f"  {reused} task result(s) reused; `conveyor runs show {state.run_id}` shows each")
    return 0 if state.is_completed() else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor runs`` and its sub-commands to the ``conveyor`` parser."""
    runs = sub.add_parser("runs", help="list, show and resume past flow runs")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    runs_sub.required = True
    ls = runs_sub.add_parser("ls", help="list flow runs, newest first")
    ls.add_argument("--flow", metavar="NAME", help="only runs of this flow")
    ls.add_argument("--limit", metavar="N", type=int, help="at most N runs")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_cmd_runs_ls)
    show = runs_sub.add_parser(
        "show", help="a flow run or task run: its state, task runs and where each result is"
    )
    show.add_argument("run_id", metavar="RUN_ID", help="id of a flow run or task run")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_cmd_runs_show)
    res = runs_sub.add_parser(
        "resume",
        help="run a failed or crashed flow run again, reusing every result it persisted",
        description=(
            "Start a new flow run of RUN_ID's flow, with its parameters (kept by reference), "
            "that reuses every task result the old run persisted; only what had not finished "
            "runs again. Exits 1 when the new run does not complete."
        ),
    )
    res.add_argument("run_id", metavar="RUN_ID", help="id of the failed or crashed flow run")
    res.add_argument(
        "--param", metavar="NAME=VALUE", action="append",
        help="a parameter to use instead of the kept one (VALUE is JSON, or text); repeatable",
    )
    res.set_defaults(func=_cmd_runs_resume)
