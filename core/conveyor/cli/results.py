"""``conveyor results get|verify|ls|show``: read, check and find the persisted results of
past runs (``ls`` and ``show`` are :mod:`.results_list`'s).

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

from conveyor.cli import cleanup, results_list
from conveyor.client import Client, get_client
from conveyor.exceptions import ConveyorError, MissingResult
from conveyor.results import ResultReference, result_from_dict
from conveyor.results.verification import verify
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
    client = get_client()
    run = client.read_run(client.resolve_run_id(args.run_id))
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


class _Superseded:
    """Tells a superseded reference from a damaged or missing one: another reference at
    the same block and key, with another checksum, that the key holds now or that a later
    run recorded (the key was written again). Built on the first failing result only."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._index: dict[tuple[str, str], list[tuple[str, str, ResultReference]]] | None = None
        self._outcomes: dict[tuple[str, str, str], bool] = {}

    def _references(self) -> dict[tuple[str, str], list[tuple[str, str, ResultReference]]]:
        if self._index is None:
            self._index = {}
            for row in self.client.store.read_result_records():
                data = _parse(row["state_data"])
                if not isinstance(data, dict) or data.get("type") != "reference":
                    continue
                try:
                    ref = result_from_dict(data)
                except (ConveyorError, ValueError, TypeError):
                    continue
                if isinstance(ref, ResultReference):
                    place = (ref.storage_document, ref.key)
                    self._index.setdefault(place, []).append((row["kind"], row["id"], ref))
        return self._index

    def _created(self, kind: str, run_id: str) -> float:
        store = self.client.store
        row = store.read_flow_run(run_id) if kind == "flow" else store.read_task_run(run_id)
        return float(row["created"]) if row is not None else 0.0

    def _holds(self, ref: ResultReference) -> bool:
        place = (ref.storage_document, ref.key, ref.checksum)
        if place not in self._outcomes:
            self._outcomes[place] = verify(ref).ok
        return self._outcomes[place]

    def by(self, kind: str, run_id: str, ref: ResultReference) -> tuple[str, str] | None:
        """``(kind, run id)`` of a later run whose reference names the same block and key
        with another result (one that the key holds now, or one recorded later than
        ``ref``), so ``ref`` is stale; None when ``ref`` is still the latest at its key."""
        created: float | None = None
        for other_kind, other_id, other in self._references().get(
            (ref.storage_document, ref.key), []
        ):
            if other_id == run_id or other.checksum == ref.checksum:
                continue
            if self._holds(other):
                return other_kind, other_id
            if created is None:
                created = self._created(kind, run_id)
            if self._created(other_kind, other_id) > created:
                return other_kind, other_id
        return None


def _cmd_results_verify(args: argparse.Namespace) -> int:
    client = get_client()
    run_id = client.resolve_run_id(args.run_id) if args.run_id else None
    checked = ok = superseded = deleted = 0
    later = _Superseded(client)
    found = dict.fromkeys(LABELS, 0)
    for kind, rid, data in _verify_targets(client, run_id):
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
        stale = outcome.status in ("corrupt", "missing")
        newer = later.by(kind, rid, data) if stale else None
        if outcome.ok:
            ok += 1
            if args.verbose:
                print(f"ok       {kind} run {rid}: {data.storage} key {data.key}")
        elif outcome.status == "missing" and client.store.read_deleted_result(
            data.storage_document, data.key, data.checksum
        ) is not None:
            deleted += 1
            if args.verbose:
                print(f"deleted  {kind} run {rid}: {data.storage} key {data.key} (on purpose)")
        elif newer is not None:
            superseded += 1
            print(f"SUPERSEDED {kind} run {rid}: key {data.key} in {data.storage} was written "
                  f"again by the later {newer[0]} run {newer[1]} (this reference is stale, "
                  f"not damaged)")
        else:
            status = outcome.status if outcome.status in LABELS else "unreadable"
            found[status] += 1
            print(f"{LABELS[status]:<8} {kind} run {rid}: {outcome.problem}")
    scope = f"run {run_id}" if run_id else "all runs"
    problems = sum(found.values())
    summary = f"checked {checked} stored result(s) of {scope}: {problems} missing or damaged"
    others = {k: n for k, n in found.items() if k not in ("missing", "corrupt") and n}
    if others:
        detail = ", ".join(f"{n} {LABELS[k].lower()}" for k, n in others.items())
        summary = (
            f"checked {checked} stored result(s) of {scope}: {problems} with problems "
            f"({found['missing']} missing, {found['corrupt']} damaged, {detail})"
        )
    if superseded:
        summary += (
            f"; {ok} ok, {superseded} superseded (a later run wrote the same key: stale "
            f"references, not damage)"
        )
    if deleted:
        summary += f"; {deleted} deleted on purpose (results gc, runs rm --results)"
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
    get.add_argument("run_id", metavar="RUN_ID",
                     help="id of a flow run or task run, or a unique prefix of one")
    get.add_argument("-o", "--output", metavar="FILE", help="write the value to FILE")
    get.set_defaults(func=_cmd_results_get)
    results_list.add_parsers(results_sub)
    cleanup.add_gc_parser(results_sub)
    ver = results_sub.add_parser(
        "verify",
        help="re-read stored results and check their checksums",
        description=(
            "Re-read stored results (of one run and its task runs, or of every run) and "
            "check each against the checksum recorded when it was written, without "
            "deserializing. Reports missing or damaged results, and apart from them results "
            "superseded by a later run that wrote the same key (stale references, not "
            "damage); exits 1 only for missing or damaged results still the latest at their key."
        ),
    )
    ver.add_argument(
        "run_id", metavar="RUN_ID", nargs="?",
        help="a flow run or task run, or a unique id prefix (default: all)"
    )
    ver.add_argument("-v", "--verbose", action="store_true", help="also list results that are fine")
    ver.set_defaults(func=_cmd_results_verify)
