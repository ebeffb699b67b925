"""``conveyor runs ls|show`` and ``conveyor results get|verify``: past runs and their results.

Everything shown comes from the metadata database; a result's value is read from its
storage only by ``results get`` (and checked, not deserialized, by ``results verify``).
Secret fields of storage blocks are never shown: a result is described by its storage
slug, key, serializer type and size.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

from conveyor.exceptions import ConveyorError, MissingResult

_NO_RESULT = "-"


# -- formatting --------------------------------------------------------------------------


def _when(value: datetime.datetime | None) -> str:
    if value is None:
        return _NO_RESULT
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _duration(start: datetime.datetime | None, end: datetime.datetime | None) -> str:
    if start is None or end is None:
        return _NO_RESULT
    seconds = (end - start).total_seconds()
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.1f}s"
    return f"{seconds / 60:.1f}min"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def describe_result(data: Any) -> dict[str, Any]:
    """What a state's result data says, for people and ``--json``: never a secret."""
    from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult

    if data is None:
        return {"kind": "none"}
    if isinstance(data, ResultLiteral):
        return {"kind": "literal", "value": data.get()}
    if isinstance(data, UnpersistedResult):
        return {"kind": "unpersisted"}
    if isinstance(data, ResultReference):
        return {
            "kind": "reference",
            "storage": data.storage,
            "key": data.key,
            "serializer": data.serializer.get("type"),
            "size": data.size,
            "checksum": data.checksum,
        }
    return {"kind": type(data).__name__}


def _result_line(data: Any) -> str:
    info = describe_result(data)
    kind = info["kind"]
    if kind == "literal":
        return f"literal {info['value']!r} (kept in the database)"
    if kind == "unpersisted":
        return "not persisted (passed in memory only)"
    if kind == "reference":
        return (
            f"{info['storage']} key {info['key']} ({info['serializer']}, {_size(info['size'])})"
        )
    return "no result"


def _run_dict(run: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": run.id,
        "state": run.state.type.value,
        "state_name": run.state.name,
        "message": run.state.message,
        "start": run.start_time.isoformat() if run.start_time else None,
        "end": run.end_time.isoformat() if run.end_time else None,
        "run_count": run.run_count,
        "result": describe_result(run.state.data),
    }
    if hasattr(run, "flow_name"):
        out["flow"] = run.flow_name
        out["parent_task_run_id"] = run.parent_task_run_id
    else:
        out["task"] = run.task_name
        out["flow_run_id"] = run.flow_run_id
        out["cache_key"] = run.cache_key
    return out


# -- runs ----------------------------------------------------------------------------------


def _cmd_runs_ls(args: argparse.Namespace) -> int:
    from conveyor.client import get_client

    if args.limit is not None and args.limit < 0:
        raise ValueError(f"--limit {args.limit} must be 0 or more")
    runs = get_client().read_flow_runs(flow_name=args.flow, limit=args.limit)
    if args.json:
        print(json.dumps([_run_dict(r) for r in runs], indent=2, default=str))
        return 0
    if not runs:
        which = f" of flow {args.flow!r}" if args.flow else ""
        print(f"no flow runs{which} recorded yet")
        return 0
    rows = [
        (r.id, r.flow_name, r.state.name, _when(r.start_time), _duration(r.start_time, r.end_time))
        for r in runs
    ]
    header = ("ID", "FLOW", "STATE", "START", "DURATION")
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return 0


def _cmd_runs_show(args: argparse.Namespace) -> int:
    from conveyor.client import FlowRun, get_client

    client = get_client()
    run = client.read_run(args.run_id)
    if isinstance(run, FlowRun):
        tasks = client.read_task_runs(run.id)
        subflows = client.read_subflow_runs(run.id)
    else:
        tasks, subflows = [], []
    if args.json:
        doc = _run_dict(run)
        if isinstance(run, FlowRun):
            doc["task_runs"] = [_run_dict(t) for t in tasks]
            doc["subflow_runs"] = [_run_dict(f) for f in subflows]
        print(json.dumps(doc, indent=2, default=str))
        return 0
    if isinstance(run, FlowRun):
        print(f"flow run {run.id}  ({run.flow_name})")
        if run.parent_task_run_id:
            print(f"  subflow of task run {run.parent_task_run_id}")
    else:
        print(f"task run {run.id}  ({run.task_name})")
        if run.flow_run_id:
            print(f"  in flow run {run.flow_run_id}")
        if run.cache_key:
            print(f"  cache key {run.cache_key}")
    state = run.state
    message = f" - {state.message}" if state.message else ""
    print(f"  state    {state.name}{message}")
    print(f"  started  {_when(run.start_time)}   took {_duration(run.start_time, run.end_time)}   attempts {run.run_count}")
    print(f"  result   {_result_line(state.data)}")
    if tasks:
        print(f"  task runs ({len(tasks)}):")
        width = max(len(t.task_name) for t in tasks)
        for t in tasks:
            print(f"    {t.id}  {t.task_name.ljust(width)}  {t.state.name:<9} {_result_line(t.state.data)}")
            if t.state.message:
                print(f"        {t.state.message}")
    if subflows:
        print(f"  subflow runs ({len(subflows)}):")
        for f in subflows:
            print(f"    {f.id}  {f.flow_name}  {f.state.name:<9} {_result_line(f.state.data)}")
    return 0


# -- results -------------------------------------------------------------------------------


def _write_value(value: Any, data: Any, target: Path) -> str:
    """Write a value to a file: bytes as they are, str as UTF-8, others in their stored encoding."""
    from conveyor.serializers import serializer_from_dict

    if isinstance(value, (bytes, bytearray, memoryview)):
        target.write_bytes(bytes(value))
        return "raw bytes"
    if isinstance(value, str):
        target.write_text(value, encoding="utf-8")
        return "UTF-8 text"
    serializer = serializer_from_dict(getattr(data, "serializer", None) or {"type": "pickle"})
    with target.open("wb") as fh:
        serializer.dump(value, fh)
    return f"encoded with its serializer ({serializer.type})"


def _cmd_results_get(args: argparse.Namespace) -> int:
    from conveyor.client import get_client

    run = get_client().read_run(args.run_id)
    state = run.state
    if state.data is None:
        raise MissingResult(
            f"run {run.id} is {state.name} and has no result yet"
        )
    value = state.result(raise_on_failure=False)
    failed = isinstance(value, BaseException) and (state.is_failed() or state.is_crashed())
    if args.output:
        target = Path(args.output)
        how = _write_value(value, state.data, target)
        print(f"wrote the result of run {run.id} to {target} ({how})", file=sys.stderr)
    else:
        print(repr(value))
    if failed:
        print(f"conveyor: run {run.id} ended {state.name}; the result is its exception", file=sys.stderr)
        return 1
    return 0


def _verify_targets(client: Any, run_id: str | None) -> list[tuple[str, str, Any]]:
    """``(run kind, run id, result data)`` of the runs to check."""
    from conveyor.client import FlowRun

    out: list[tuple[str, str, Any]] = []
    if run_id is None:
        for r in client.store.read_result_records():
            out.append((r["kind"], r["id"], json.loads(r["state_data"])))
        return out
    run = client.read_run(run_id)
    if isinstance(run, FlowRun):
        out.append(("flow", run.id, run.state.data))
        out.extend(("task", t.id, t.state.data) for t in client.read_task_runs(run.id))
    else:
        out.append(("task", run.id, run.state.data))
    return out


def _cmd_results_verify(args: argparse.Namespace) -> int:
    from conveyor.client import get_client
    from conveyor.results import ResultReference, result_from_dict, verify

    client = get_client()
    checked = problems = 0
    for kind, rid, data in _verify_targets(client, args.run_id):
        if isinstance(data, dict):
            if data.get("type") != "reference":
                continue
            try:
                data = result_from_dict(data)
            except (ConveyorError, ValueError, TypeError) as exc:  # a damaged record is a finding
                problems += 1
                print(f"DAMAGED  {kind} run {rid}: {exc}")
                continue
        if not isinstance(data, ResultReference):
            continue
        checked += 1
        outcome = verify(data)
        if outcome.ok:
            if args.verbose:
                print(f"ok       {kind} run {rid}: {data.storage} key {data.key}")
        else:
            problems += 1
            label = "MISSING " if outcome.status == "missing" else "DAMAGED "
            print(f"{label} {kind} run {rid}: {outcome.problem}")
    scope = f"run {args.run_id}" if args.run_id else "all runs"
    print(f"checked {checked} stored result(s) of {scope}: {problems} missing or damaged")
    return 1 if problems else 0


# -- registration ----------------------------------------------------------------------------


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    runs = sub.add_parser("runs", help="list and show past flow runs")
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

    results = sub.add_parser("results", help="read and check persisted results")
    results_sub = results.add_subparsers(dest="results_command", metavar="COMMAND")
    results_sub.required = True
    get = results_sub.add_parser(
        "get",
        help="load a run's result from its storage and print its repr",
        description=(
            "Load the result of a flow run or task run from storage and print its repr. "
            "With -o FILE, write it to FILE instead: bytes as they are, text as UTF-8, "
            "any other value encoded with the serializer that stored it."
        ),
    )
    get.add_argument("run_id", metavar="RUN_ID", help="id of a flow run or task run")
    get.add_argument("-o", "--output", metavar="FILE", help="write the value to FILE")
    get.set_defaults(func=_cmd_results_get)
    ver = results_sub.add_parser(
        "verify",
        help="re-read stored results and check their checksums",
        description=(
            "Re-read stored results (of one run and its task runs, or of every run) and "
            "check each against the checksum recorded when it was written, without "
            "deserializing. Reports missing or damaged results; exits 1 if there are any."
        ),
    )
    ver.add_argument("run_id", metavar="RUN_ID", nargs="?", help="a flow run or task run (default: all)")
    ver.add_argument("-v", "--verbose", action="store_true", help="also list results that are fine")
    ver.set_defaults(func=_cmd_results_verify)
