"""``conveyor results ls|show``: which results were stored, where, and by which run.

Both read only the metadata database (and rebuild each storage block to name a result's
full location: ``uri(key)`` when the block offers it, else its ``describe(key)``); neither
reads a result's bytes or deserializes anything. Secret fields of blocks are never shown.
"""

from __future__ import annotations

import argparse
import datetime
import json
from typing import Any

from conveyor.cli.output import describe_result, format_when, parse_since, result_line
from conveyor.client import Client, get_client
from conveyor.exceptions import ConveyorError
from conveyor.filesystems import StorageBlock
from conveyor.results import ResultReference, result_from_json
from conveyor.units import format_size


class Locations:
    """A reference's full location, each block rebuilt once per command."""

    def __init__(self) -> None:
        self._blocks: dict[tuple[str, str], StorageBlock | None] = {}

    def __call__(self, ref: ResultReference) -> str:
        place = (ref.storage, ref.storage_document)
        if place not in self._blocks:
            try:
                self._blocks[place] = ref.resolve_storage()
            except (ConveyorError, ValueError, TypeError, OSError):
                self._blocks[place] = None  # unknown block type, damaged record: the slug
        block = self._blocks[place]
        if block is None:
            return f"{ref.storage}:{ref.key}"
        uri = getattr(block, "uri", None)
        found = uri(ref.key) if callable(uri) else None
        return str(found) if found else block.describe(ref.key)


def _when(ts: float | None) -> str | None:
    return None if ts is None else datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat()


def _reference(raw: str | None) -> Any:
    try:
        return result_from_json(raw) if raw is not None else None
    except (ConveyorError, ValueError, TypeError):
        return None  # a damaged record: `results verify` reports it


def _cmd_results_ls(args: argparse.Namespace) -> int:
    client = get_client()
    since = parse_since(args.since) if args.since else None
    run_id = client.resolve_run_id(args.run) if args.run else None
    task = client.store.read_task_run(run_id) if run_id else None
    flow_run_id = task["flow_run_id"] if task is not None else run_id
    rows = client.store.read_result_rows(args.flow, flow_run_id, since)
    where = Locations()
    found = []
    for row in rows:
        if task is not None and row["id"] != run_id:
            continue
        ref = _reference(row["state_data"])
        if not isinstance(ref, ResultReference):
            continue
        found.append({
            "location": where(ref), "size": ref.size, "serializer": ref.serializer.get("type"),
            "kind": row["kind"], row["kind"]: row["name"], "run_id": row["id"],
            "flow_run_id": row["flow_run_id"], "flow": row["flow_name"],
            "created": _when(row["created"]), "storage": ref.storage, "key": ref.key,
            "checksum": ref.checksum,
        })
    if args.json:
        print(json.dumps(found, indent=2))
        return 0
    if not found:
        print("no stored results" + (" match" if (args.flow or args.run or args.since) else " yet"))
        return 0
    table = [("CREATED", "RUN", "TASK", "SERIALIZER", "SIZE", "LOCATION")]
    for r in found:
        created = datetime.datetime.fromisoformat(r["created"]) if r["created"] else None
        name = r.get("task") or f"(flow {r['flow']})"
        table.append((format_when(created), r["run_id"], name, str(r["serializer"]),
                      format_size(r["size"]), r["location"]))
    widths = [max(len(str(x)) for x in col) for col in zip(*table)]
    for line in table:
        print("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())
    total = sum(r["size"] for r in found)
    print(f"{len(found)} stored result(s), {format_size(total)}")
    return 0


def _run_row(client: Client, run_id: str) -> tuple[str, Any]:
    row = client.store.read_flow_run(run_id)
    if row is not None:
        return "flow", row
    return "task", client.store.read_task_run(run_id)


def _cmd_results_show(args: argparse.Namespace) -> int:
    client = get_client()
    run_id = client.resolve_run_id(args.run_id)
    kind, row = _run_row(client, run_id)
    data = _reference(row["state_data"])
    if row["state_data"] is not None and data is None:
        raise ValueError(f"the result record of {kind} run {run_id} is damaged; "
                         f"`conveyor results verify {run_id}` says more")
    flow_run_id = row["id"] if kind == "flow" else row["flow_run_id"]
    name = row["flow_name"] if kind == "flow" else row["task_name"]
    doc: dict[str, Any] = {
        "kind": kind, "run_id": run_id, kind: name, "flow_run_id": flow_run_id,
        "state": row["state_name"], "created": _when(row["created"]),
        "result": describe_result(data),
    }
    if isinstance(data, ResultReference):
        doc["location"] = Locations()(data)
        doc["reference"] = data.to_dict()
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
        return 0
    print(f"result of {kind} run {run_id}  ({name}, {row['state_name']})")
    if kind == "task" and flow_run_id:
        print(f"  in flow run {flow_run_id}")
    print(f"  created     {format_when(datetime.datetime.fromisoformat(doc['created']))}")
    if not isinstance(data, ResultReference):
        print(f"  result      {result_line(data)}")
        return 0
    print(f"  location    {doc['location']}")
    print(f"  storage     {data.storage}  (block document {data.storage_document})")
    print(f"  key         {data.key}")
    print(f"  serializer  {json.dumps(data.serializer, sort_keys=True)}")
    print(f"  size        {format_size(data.size)} ({data.size} bytes)")
    print(f"  checksum    {data.checksum}")
    for field, value in doc["reference"].items():
        if field not in ("type", "key", "storage", "storage_document", "serializer", "size",
                         "checksum", "signature"):
            print(f"  {field:<11} {value}")
    print(f"  signed      {'yes' if data.signature else 'no'}")
    return 0


def add_parsers(results_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``results ls`` and ``results show`` to ``conveyor results``."""
    ls = results_sub.add_parser(
        "ls", help="list stored results, newest first: location, size, serializer, task, run",
        description=(
            "List the stored results recorded in the metadata database, newest first: each "
            "one's full location (a URI when its storage offers one), size, serializer, "
            "task, run and creation time. Nothing is read from storage."
        ),
    )
    ls.add_argument("--flow", metavar="NAME", help="only results of runs of this flow")
    ls.add_argument("--run", metavar="RUN_ID",
                    help="only this flow run's results (and its task runs'), or one task run's; "
                         "a unique id prefix is enough")
    ls.add_argument("--since", metavar="WHEN",
                    help="only results created since WHEN: an age (30m, 3h, 2d, 1w) or an ISO date/time")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=_cmd_results_ls)
    show = results_sub.add_parser(
        "show", help="a run's result reference and metadata, without loading the value"
    )
    show.add_argument("run_id", metavar="RUN_ID",
                      help="id of a flow run or task run, or a unique prefix of one")
    show.add_argument("--json", action="store_true", help="print JSON instead of text")
    show.set_defaults(func=_cmd_results_show)
