"""``conveyor results gc`` and ``conveyor runs rm``: delete what is no longer needed.

Both are dry runs unless given ``--yes``: they print what would go (each object's full
location and size, and the total) and what is kept and why. See :mod:`conveyor.cleanup`
for the rules (nothing a run that stays, a cache entry or a resumable run still needs).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from typing import Any

from conveyor.cleanup import (
    CleanupOutcome,
    CleanupPlan,
    Doomed,
    delete_planned,
    describe_kept,
    flow_tree,
    object_size,
    plan_cleanup,
    select_runs,
)
from conveyor.cli.output import parse_since
from conveyor.cli.results_list import Locations
from conveyor.client import get_client
from conveyor.engine.recovery import mark_crashed_runs
from conveyor.metadata import MetadataStore
from conveyor.units import format_size

#: Objects listed one per line before the rest are counted (``--json`` lists them all).
SHOWN = 20


def _where(item: Doomed, locations: Locations) -> str:
    if item.reference is not None:
        return locations(item.reference)
    return f"anonymous/{item.storage_document}:{item.key}"


def _item_doc(item: Doomed, store: MetadataStore, locations: Locations) -> dict[str, Any]:
    return {
        "location": _where(item, locations), "storage": item.reference.storage if item.reference else None,
        "key": item.key, "size": object_size(store, item), "run_kind": item.run_kind,
        "run_id": item.run_id, "flow_run_id": item.flow_run_id, "flow": item.flow_name,
        "orphan": item.reference is None,
    }


def _print_items(title: str, docs: list[dict[str, Any]]) -> None:
    if not docs:
        return
    print(title)
    for doc in docs[:SHOWN]:
        size = format_size(doc["size"]) if doc["size"] is not None else "size unknown"
        run = f"{doc['run_kind']} run {doc['run_id']}" if doc["run_id"] else "no run recorded"
        flow = f" ({doc['flow']})" if doc["flow"] else ""
        print(f"  {doc['location']}  {size}  {run}{flow}")
    if len(docs) > SHOWN:
        print(f"  ... and {len(docs) - SHOWN} more (--json lists them all)")


def _report(plan: CleanupPlan, store: MetadataStore, args: argparse.Namespace, what: str,
            outcome: CleanupOutcome | None) -> int:
    locations = Locations()
    results = [_item_doc(d, store, locations) for d in plan.results]
    orphans = [_item_doc(d, store, locations) for d in plan.orphans]
    total = sum(d["size"] or 0 for d in results + orphans)
    if args.json:
        doc: dict[str, Any] = {
            "dry_run": outcome is None, "runs": [r["id"] for r in plan.runs],
            "results": results, "orphans": orphans, "bytes": total, "kept": plan.kept,
            "resumable_runs": [r["id"] for r in plan.resumable],
        }
        if outcome is not None:
            doc.update(deleted=len(outcome.deleted), deleted_bytes=outcome.bytes,
                       absent=outcome.absent, skipped=outcome.skipped,
                       cannot_delete=outcome.cannot_delete)
        print(json.dumps(doc, indent=2))
        return 1 if outcome is not None and (outcome.skipped or outcome.cannot_delete) else 0
    verb = "would delete" if outcome is None else "deleting"
    print(f"{what}: {verb} {len(results)} result(s) of {len(plan.runs)} flow run(s) and "
          f"{len(orphans)} orphaned write(s), {format_size(total)}")
    _print_items("results:", results)
    _print_items("orphaned writes (written, never recorded: the process died in between):", orphans)
    for line in describe_kept(plan.kept):
        print(line)
    if plan.resumable:
        print(f"{len(plan.resumable)} flow run(s) not completed were left alone: they can still "
              f"be resumed (--include-resumable cleans them up too)")
    if outcome is None:
        print("dry run: nothing was deleted; run again with --yes to delete")
        return 0
    print(f"deleted {len(outcome.deleted)} object(s), {format_size(outcome.bytes)}"
          + (f"; {outcome.absent} were already gone" if outcome.absent else ""))
    for label, n in outcome.cannot_delete.items():
        print(f"kept {n} result(s) in {label}: its block type offers no delete_path; delete "
              f"them by hand (the locations above), or install a plugin version that can")
    for line in outcome.skipped:
        print(f"kept: {line}")
    return 1 if outcome.skipped or outcome.cannot_delete else 0


def _cmd_results_gc(args: argparse.Namespace) -> int:
    client = get_client()
    store = client.store
    mark_crashed_runs(store)
    if args.keep_last is not None and args.keep_last < 0:
        raise ValueError(f"--keep-last {args.keep_last}: give 0 or more runs to keep per flow")
    before = parse_since(args.older_than, "--older-than") if args.older_than else None
    if before is None and args.keep_last is None:
        runs: list[Any] = []
        resumable: list[Any] = []
        if not args.json:
            print("no --older-than or --keep-last given: only orphaned writes are looked for")
    else:
        runs, resumable = select_runs(store, before=before, keep_last=args.keep_last,
                                      flow_name=args.flow, include_resumable=args.include_resumable)
    plan = plan_cleanup(store, runs, now=time.time(), include_cached=args.include_cached,
                        flow_name=args.flow)
    plan.resumable = resumable
    outcome = delete_planned(store, plan) if args.yes else None
    return _report(plan, store, args, "results gc", outcome)


def _cmd_runs_rm(args: argparse.Namespace) -> int:
    client = get_client()
    store = client.store
    mark_crashed_runs(store)
    rows = []
    for given in args.run_ids:
        run_id = client.resolve_run_id(given)
        row = store.read_flow_run(run_id)
        if row is None:
            task = store.read_task_run(run_id)
            raise LookupError(
                f"run {run_id} is a task run; runs rm removes flow runs (with their task runs): "
                f"give its flow run {task['flow_run_id'] if task is not None else '?'}"
            )
        if row["parent_flow_run_id"] is not None:
            raise LookupError(
                f"flow run {run_id} is a subflow run of {row['parent_flow_run_id']}; remove that "
                f"flow run (its subflows go with it)"
            )
        if row["state_type"] in ("RUNNING", "PENDING"):
            raise ValueError(f"flow run {run_id} is still {row['state_name']}; wait for it to end")
        rows.append(row)
    plan = plan_cleanup(store, rows, now=time.time(), include_cached=True, orphans=False)
    if not args.results:
        plan.results = []
    outcome = None
    if args.yes:
        outcome = delete_planned(store, plan, reason="runs rm --results")
        removed = store.delete_flow_runs(_trees(store, rows))
    code = 0
    if args.results or args.json:
        code = _report(plan, store, args, "runs rm --results", outcome)
    if args.json:
        return code
    if outcome is None:
        print(f"would remove {len(rows)} flow run(s), with their task runs and subflow runs"
              + ("" if args.results else "; their results stay in storage (--results deletes them)"))
    else:
        print(f"removed {removed} run record(s)")
    return code


def _trees(store: MetadataStore, rows: Sequence[Any]) -> list[str]:
    return [flow_id for row in rows for flow_id in flow_tree(store, row["id"])]


def add_gc_parser(results_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gc = results_sub.add_parser(
        "gc",
        help="delete the stored results of old runs, and orphaned writes (a dry run without --yes)",
        description=(
            "Delete the stored results of finished flow runs created before --older-than and "
            "not among the newest --keep-last runs of their flow, and orphaned writes (results "
            "written but never recorded: the process died in between). A dry run unless --yes: "
            "it prints each object's location and size, the total, and what is kept and why. "
            "Never deletes a result that a run that stays still names, that an unexpired cache "
            "entry serves (unless --include-cached), or of a run that can still be resumed "
            "(unless --include-resumable). A deleted result's reference says so when read."
        ),
    )
    gc.add_argument("--older-than", metavar="AGE",
                    help="only runs created before then: an age (30d, 12h, 1w) or an ISO date")
    gc.add_argument("--keep-last", metavar="N", type=int,
                    help="keep the results of the newest N runs of each flow")
    gc.add_argument("--flow", metavar="NAME", help="only runs (and orphaned writes) of this flow")
    gc.add_argument("--include-cached", action="store_true",
                    help="also delete results that unexpired cache entries serve")
    gc.add_argument("--include-resumable", action="store_true",
                    help="also clean up failed or crashed runs that could still be resumed")
    gc.add_argument("--yes", action="store_true", help="delete (without it: a dry run)")
    gc.add_argument("--json", action="store_true", help="print JSON instead of text")
    gc.set_defaults(func=_cmd_results_gc)


def add_rm_parser(runs_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rm = runs_sub.add_parser(
        "rm",
        help="remove flow runs (with their task runs and subflows) from the records",
        description=(
            "Remove finished top-level flow runs, with their task runs, subflow runs, states and "
            "cache entries, from the metadata database. With --results, also delete their "
            "stored results (those no other run names). A dry run unless --yes."
        ),
    )
    rm.add_argument("run_ids", metavar="RUN_ID", nargs="+",
                    help="ids of flow runs, or unique prefixes of them")
    rm.add_argument("--results", action="store_true", help="also delete their stored results")
    rm.add_argument("--yes", action="store_true", help="remove (without it: a dry run)")
    rm.add_argument("--json", action="store_true", help="print JSON instead of text")
    rm.set_defaults(func=_cmd_runs_rm)


__all__ = ["add_gc_parser", "add_rm_parser"]
