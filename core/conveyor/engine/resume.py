"""Resuming a failed or crashed flow run, from any process.

``conveyor runs resume RUN_ID``, ``my_flow.resume(run_id)`` and ``conveyor.resume(run_id)``
start a new flow run linked to the old one (``resumed_from``), call the flow with the
old run's parameters (read back through their reference; parameters given now override
them), and reuse every task result the old run, or the runs it resumed, persisted
(the rule is in :mod:`conveyor.engine.reuse`).

May import: conveyor.engine (calls, origin, recovery), conveyor.exceptions, conveyor.metadata.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from conveyor.engine.calls import run_flow, run_flow_async
from conveyor.engine.origin import bind_parameters, import_flow, load_parameters
from conveyor.engine.recovery import mark_crashed_runs
from conveyor.exceptions import ConfigurationError, ConveyorError, UnknownNameError
from conveyor.metadata import MetadataStore, Row, get_store

if TYPE_CHECKING:
    from conveyor.flows import Flow


def _how_to_pass(run_id: str, names: list[str]) -> str:
    shown = names or ["name"]
    cli = " ".join(f"--param {n}=VALUE" for n in shown)
    py = ", ".join(f"{n}=..." for n in shown)
    return f"pass them: conveyor runs resume {run_id} {cli}, or my_flow.resume({run_id!r}, {py})"


def resumable_run(store: MetadataStore, run_id: str) -> Row:
    """The flow run ``run_id`` if it can be resumed, else a one-line error saying why."""
    mark_crashed_runs(store)
    row = store.read_flow_run(run_id)
    if row is None:
        raise UnknownNameError(
            f"no flow run {run_id!r} in the metadata database {store.location}; "
            f"`conveyor runs ls` lists them"
        )
    if row["parent_flow_run_id"] is not None:
        raise ConfigurationError(
            f"flow run {run_id} is a subflow run of flow run {row['parent_flow_run_id']}; "
            f"resume that one: conveyor runs resume {row['parent_flow_run_id']}"
        )
    state = row["state_type"]
    if state == "COMPLETED":
        raise ConfigurationError(
            f"flow run {run_id} of flow {row['flow_name']!r} completed: there is nothing to "
            f"resume; run the flow again to compute it afresh"
        )
    if state in ("RUNNING", "PENDING"):
        raise ConfigurationError(
            f"flow run {run_id} is still {row['state_name']} in process {row['pid']} on "
            f"{row['host']}; wait for it to end (or stop it) before resuming it"
        )
    return row


def resume(run_id: str, *, flow: Flow[Any] | None = None, return_state: bool = False,
           **parameters: Any) -> Any:
    """Start a new run of the flow of run ``run_id`` that reuses what that run persisted.

    :param flow: the flow to run (default: imported from where the old run recorded it).
    :param return_state: return the new run's final state instead of its value.
    :param parameters: parameters to use instead of (or where not kept) the old run's.
    :return: the new run's value (or state); for an async flow, a coroutine of it.
    """
    store = get_store()
    row = resumable_run(store, run_id)
    if flow is None:
        ref = row["flow_ref"]
        if not ref:
            raise ConfigurationError(
                f"flow run {run_id} did not record where its flow is defined (it ran "
                f"interactively); resume it from Python: my_flow.resume({run_id!r})"
            )
        flow = import_flow(ref)
    elif flow.name != row["flow_name"]:
        raise ConfigurationError(
            f"flow run {run_id} is a run of flow {row['flow_name']!r}, not of {flow.name!r}; "
            f"resume it with that flow"
        )
    names = list(inspect.signature(flow.fn).parameters)
    try:
        kept = load_parameters(row["parameters"])
    except (ConveyorError, OSError) as exc:
        if not parameters:
            raise ConfigurationError(
                f"the parameters of flow run {run_id} cannot be read back ({exc}); "
                f"{_how_to_pass(run_id, names)}"
            ) from exc
        kept = None
    if kept is None and not parameters and names:
        raise ConfigurationError(
            f"the parameters of flow run {run_id} were not kept (persist_result=False on the "
            f"flow, or a serializer refused them); {_how_to_pass(run_id, names)}"
        )
    merged = {**(kept or {}), **parameters}
    try:
        bind_parameters(flow, (), merged)
    except TypeError as exc:
        raise ConfigurationError(
            f"flow {flow.name!r} no longer takes the parameters of run {run_id} "
            f"({', '.join(sorted(merged)) or 'none'}): {exc}; its signature changed, so "
            f"{_how_to_pass(run_id, names)}"
        ) from None
    same = row["parameters"] if kept is not None and not parameters else None
    runner = run_flow_async if flow.is_async else run_flow
    return runner(flow, (), merged, return_state, resumed_from=row["id"], kept_parameters=same)


__all__ = ["resumable_run", "resume"]
