"""``conveyor results get|verify``: read and check the persisted results of past runs.

Which results a run has comes from the metadata database (through ``conveyor.client``);
a result's value is read from its storage only by ``results get``, and checked, not
deserialized, by ``results verify``. Secret fields of storage blocks are never shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from conveyor.client import Client, get_client
from conveyor.exceptions import ConveyorError, MissingResult
from conveyor.results import ResultReference, result_from_dict, verify
from conveyor.serializers import serializer_from_dict


def _write_value(value: Any, data: Any, target: Path) -> str:
    """Write a value to a file: bytes as they are, str as UTF-8, others in their stored encoding."""
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
        message = f"conveyor: run {run.id} ended {state.name}; the result is its exception"
        print(message, file=sys.stderr)
        return 1
    return 0


#: How ``results verify`` labels each kind of problem (``Verification.status``).
LABELS = {
    "missing": "MISSING",
    "corrupt": "DAMAGED",
    "unreadable": "UNREADABLE",
    "untrusted": "UNTRUSTED",
}


def _parse(raw: Any) -> Any:
    """A row's ``state_data`` as a dict; a damaged row's error message (a finding) otherwise."""
    if raw is None or isinstance(raw, dict):
        return raw
    try:
        return json.loads(raw)
    except (TypeError, ValueError) as exc:
        return ValueError(f"its stored result record is not JSON ({exc}): {str(raw)[:80]!r}")


def _verify_targets(client: Client, run_id: str | None) -> list[tuple[str, str, Any]]:
    """``(run kind, run id, result data or a ValueError)`` of the runs to check.

    Read as rows, one at a time, so a damaged row is one finding, not the end.
    """
    store = client.store
    if run_id is None:
        return [(r["kind"], r["id"], _parse(r["state_data"])) for r in store.read_result_records()]
    flow = store.read_flow_run(run_id)
    if flow is not None:
        out = [("flow", flow["id"], _parse(flow["state_data"]))]
        out.extend(("task", t["id"], _parse(t["state_data"])) for t in store.read_task_runs(run_id))
        return out
    task = store.read_task_run(run_id)
    if task is not None:
        return [("task", task["id"], _parse(task["state_data"]))]
    client.read_run(run_id)  # raises the usual "no flow run or task run" error
    return []


def _cmd_results_verify(args: argparse.Namespace) -> int:
    client = get_client()
    checked = 0
    found = dict.fromkeys(LABELS, 0)
    for kind, rid, data in _verify_targets(client, args.run_id):
        if isinstance(data, dict):
            if data.get("type") != "reference":
                continue
            try:
                data = result_from_dict(data)
            except (ConveyorError, ValueError, TypeError) as exc:  # a damaged record is a finding
                data = exc
        if isinstance(data, Exception):
            found["corrupt"] += 1
            print(f"DAMAGED  {kind} run {rid}: {data}")
            continue
        if not isinstance(data, ResultReference):
            continue
        checked += 1
        outcome = verify(data)
        if outcome.ok:
            if args.verbose:
                print(f"ok       {kind} run {rid}: {data.storage} key {data.key}")
        else:
            status = outcome.status if outcome.status in LABELS else "unreadable"
            found[status] += 1
            print(f"{LABELS[status]:<8} {kind} run {rid}: {outcome.problem}")
    scope = f"run {args.run_id}" if args.run_id else "all runs"
    problems = sum(found.values())
    summary = f"checked {checked} stored result(s) of {scope}: {problems} missing or damaged"
    others = {k: n for k, n in found.items() if k not in ("missing", "corrupt") and n}
    if others:
        detail = ", ".join(f"{n} {LABELS[k].lower()}" for k, n in others.items())
        summary = (
            f"checked {checked} stored result(s) of {scope}: {problems} with problems "
            f"({found['missing']} missing, {found['corrupt']} damaged, {detail})"
        )
    print(summary)
    return 1 if problems else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor results`` and its sub-commands to the ``conveyor`` parser."""
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
    ver.add_argument(
        "run_id", metavar="RUN_ID", nargs="?", help="a flow run or task run (default: all)"
    )
    ver.add_argument("-v", "--verbose", action="store_true", help="also list results that are fine")
    ver.set_defaults(func=_cmd_results_verify)
