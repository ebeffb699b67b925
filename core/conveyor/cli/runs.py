"""``conveyor runs ls|show|resume``: past flow runs and task runs, and resuming one.

Everything ``ls`` and ``show`` print comes from the metadata database, read through
``conveyor.client``; no result value is read from storage there, except a flow run's
parameters with ``show --parameters``. Both first mark Crashed the runs whose process is
gone (:mod:`conveyor.engine.recovery`). Every RUN_ID may be a unique prefix of an id
(``Client.resolve_run_id``). ``ls`` pages with the store's keyset query
(``read_flow_run_page``): the newest 50 top-level runs unless told otherwise.
"""

from __future__ import annotations

import argparse
import inspect
import json
from collections import Counter
from typing import Any

from conveyor.cli import cleanup
from conveyor.cli.output import (
    format_duration,
    format_when,
    inputs_line,
    parse_since,
    result_line,
    run_dict,
)
from conveyor.client import FlowRun, TaskRun, get_client
from conveyor.engine.origin import load_parameters
from conveyor.engine.recovery import mark_crashed_runs
from conveyor.engine.resume import resume
from conveyor.exceptions import ConfigurationError
from conveyor.states import StateType

#: ``runs ls`` without ``--limit`` or ``--all``: the newest this many runs.
DEFAULT_LIMIT = 50
#: ``runs show`` groups the task runs by task name when there are more than this many.
GROUP_OVER = 20
#: State names that refine a state type, accepted by ``--state`` in any case.
STATE_NAMES = ("Cached", "Reused", "AwaitingRetry", "Retrying")


def _state_filter(text: str) -> str:
    """``--state``: a state type (``failed``, ``COMPLETED``) or name (``cached``), any case."""
    raw = text.strip()
    if raw.upper() in {t.value for t in StateType}:
        return raw.upper()
    for name in STATE_NAMES:
        if raw.lower() == name.lower():
            return name
    return raw  # a custom state name, matched as given


def _ls_rows(args: argparse.Namespace) -> tuple[list[FlowRun], bool]:
    """The runs ``runs ls`` shows, newest first, and whether older ones were left out."""
    limit = None if args.all else (DEFAULT_LIMIT if args.limit is None else args.limit)
    if limit is not None and limit < 1:
        raise ValueError(f"--limit {limit} would list no runs: give N of 1 or more, or --all")
    state = _state_filter(args.state) if args.state else None
    since = parse_since(args.since) if args.since else None
    store = get_client().store
    runs: list[FlowRun] = []
    cursor: str | None = None
    while True:
        size = limit if limit is not None else 1000
        rows, cursor, _newer = store.read_flow_run_page(
            args.flow, state, since, None, cursor, False, size, top_level=not args.subflows
        )
        runs.extend(FlowRun.from_row(r) for r in rows)
        if limit is not None or cursor is None:
            return runs, cursor is not None


def _ls_note(r: FlowRun) -> str:
    notes = [f"subflow of {r.parent_flow_run_id}"] if r.parent_flow_run_id else []
    if r.resumed_from:
        notes.append(f"resumes {r.resumed_from}")
    return "; ".join(notes)


def _cmd_runs_ls(args: argparse.Namespace) -> int:
    mark_crashed_runs(get_client().store)
    runs, more = _ls_rows(args)
    if args.json:
        docs = [{**run_dict(r), "parent_flow_run_id": r.parent_flow_run_id,
                 "subflow": r.parent_flow_run_id is not None} for r in runs]
        print(json.dumps(docs, indent=2, default=str))
        return 0
    if not runs:
        filters = [f"{name} {value}" for name, value in (
            ("of flow", args.flow), ("in state", args.state), ("since", args.since)) if value]
        print(f"no flow runs{' ' + ', '.join(filters) if filters else ''} recorded yet")
        return 0
    rows = [
        (
            r.id,
            ("  " if r.parent_flow_run_id else "")
            + (f"{r.flow_name} ({r.run_name})" if r.run_name else r.flow_name),
            r.state.name,
            format_when(r.start_time),
            format_duration(r.start_time, r.end_time),
            _ls_note(r),
        )
        for r in runs
    ]
    header = ("ID", "FLOW", "STATE", "START", "DURATION", "")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    if more:
        print(f"(the newest {len(runs)} shown; --limit N or --all for more, --since to go back less far)")
    return 0


def _task_lines(tasks: list[TaskRun], names: dict[str, str]) -> None:
    width = max(len(t.task_name) + (len(t.run_name) + 3 if t.run_name else 0) for t in tasks)
    for t in tasks:
        name = (f"{t.task_name} ({t.run_name})" if t.run_name else t.task_name).ljust(width)
        print(f"    {t.id}  {name}  {t.state.name:<9} {result_line(t.state.data)}")
        if t.inputs:
            print(f"        inputs: {inputs_line(t.inputs, names)}")
        if t.state.message and not t.state.is_completed():
            print(f"        {t.state.message}")


def _task_summary(tasks: list[TaskRun]) -> None:
    """Task runs grouped by task name, with counts per state; then those not completed."""
    groups: dict[str, Counter[str]] = {}
    for t in tasks:
        groups.setdefault(t.task_name, Counter())[t.state.name] += 1
    print(f"  task runs ({len(tasks)}) by task (`--all` lists every task run):")
    width = max(len(name) for name in groups)
    for name, counts in groups.items():
        states = ", ".join(f"{state} {n}" for state, n in counts.most_common())
        print(f"    {name.ljust(width)}  {sum(counts.values()):>6}  {states}")
    unfinished = [t for t in tasks if not t.state.is_completed()]
    if unfinished:
        print(f"  not completed ({len(unfinished)}):")
        _task_lines(unfinished[:GROUP_OVER], {t.id: t.task_name for t in tasks})
        if len(unfinished) > GROUP_OVER:
            print(f"    ... and {len(unfinished) - GROUP_OVER} more (`--all` lists them)")


def _print_parameters(client: Any, run_id: str, as_json: bool) -> int:
    row = client.store.read_flow_run(run_id)
    if row is None:
        raise LookupError(f"run {run_id} is a task run: only flow runs keep parameters")
    parameters = load_parameters(row["parameters"])
    if parameters is None:
        raise LookupError(
            f"flow run {run_id} did not keep its parameters (they are kept by reference when "
            f"its flow persists results)"
        )
    if as_json:
        try:
            print(json.dumps(parameters, indent=2))
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"the parameters of flow run {run_id} are not JSON ({exc}); without --json "
                f"they print as repr"
            ) from None
        return 0
    if not parameters:
        print(f"flow run {run_id} has no parameters")
    for name, value in parameters.items():
        print(f"{name} = {value!r}")
    return 0


def _task_names(client: Any, inputs: dict[str, list[str]]) -> dict[str, str]:
    """The task names of the upstream runs a task run's lineage names (those still recorded)."""
    names = {}
    for ids in inputs.values():
        for run_id in ids:
            row = client.store.read_task_run(run_id)
            if row is not None:
                names[run_id] = row["task_name"]
    return names


def _cmd_runs_show(args: argparse.Namespace) -> int:
    client = get_client()
    mark_crashed_runs(client.store)
    run_id = client.resolve_run_id(args.run_id)
    if args.parameters:
        return _print_parameters(client, run_id, args.json)
    run = client.read_run(run_id)
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
        if run.inputs:
            print(f"  inputs   {inputs_line(run.inputs, _task_names(client, run.inputs))}")
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
    if len(tasks) > GROUP_OVER and not args.all:
        _task_summary(tasks)
    elif tasks:
        print(f"  task runs ({len(tasks)}):")
        _task_lines(tasks, {t.id: t.task_name for t in tasks})
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
    run_id = get_client().resolve_run_id(args.run_id, kind="flow")
    state = resume(run_id, return_state=True, **parameters)
    if inspect.iscoroutine(state):
        import asyncio  # lazy: only resuming an async flow needs it (every other command skips it)

        state = asyncio.run(state)
    reused = sum(1 for t in get_client().read_task_runs(state.run_id) if t.state.name == "Reused")
    print(f"flow run {state.run_id} resumes {run_id}: {state.name}"
          + (f" - {state.message}" if state.message else ""))
    print(f"  {reused} task result(s) reused; `conveyor runs show {state.run_id}` shows each")
    return 0 if state.is_completed() else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor runs`` and its sub-commands to the ``conveyor`` parser."""
    runs = sub.add_parser("runs", help="list, show and resume past flow runs")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="COMMAND")
    runs_sub.required = True
    ls = runs_sub.add_parser(
        "ls", help="list flow runs, newest first (the newest 50 top-level runs by default)"
    )
    ls.add_argument("--flow", metavar="NAME", help="only runs of this flow")
    ls.add_argument("--state", metavar="STATE",
                    help="only runs in this state: a type (failed, completed, ...) or a name (cached, ...)")
    ls.add_argument("--since", metavar="WHEN",
                    help="only runs created since WHEN: an age (30m, 3h, 2d, 1w) or an ISO date/time")
    ls.add_argument("--subflows", action="store_true",
                    help="also list subflow runs (marked 'subflow of <flow run>')")
    count = ls.add_mutually_exclusive_group()
    count.add_argument("--limit", metavar="N", type=int,
                       help=f"at most N runs (default {DEFAULT_LIMIT}; N must be 1 or more)")
    count.add_argument("--all", action="store_true", help="every matching run")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_cmd_runs_ls)
    show = runs_sub.add_parser(
        "show", help="a flow run or task run: its state, task runs and where each result is"
    )
    show.add_argument("run_id", metavar="RUN_ID",
                      help="id of a flow run or task run, or a unique prefix of one")
    show.add_argument("--all", action="store_true",
                      help=f"one line per task run even when there are more than {GROUP_OVER}")
    show.add_argument("--parameters", action="store_true",
                      help="load and print the flow run's parameters (kept by reference)")
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
    res.add_argument("run_id", metavar="RUN_ID",
                     help="id of the failed or crashed flow run, or a unique prefix of one")
    res.add_argument(
        "--param", metavar="NAME=VALUE", action="append",
        help="a parameter to use instead of the kept one (VALUE is JSON, or text); repeatable",
    )
    res.set_defaults(func=_cmd_runs_resume)
    cleanup.add_rm_parser(runs_sub)
