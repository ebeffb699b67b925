"""The runs page: flow runs newest first, filtered by flow, state and date, in keyset pages.

Pages come from :meth:`MetadataStore.read_flow_run_page` (an index range scan from a
cursor, never OFFSET), so the last page of 100,000 runs costs what the first does.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs

from conveyor.cli.output import run_dict
from conveyor.client import FlowRun
from conveyor.metadata import MetadataStore, Row
from conveyor.states import StateType
from conveyor.ui.errors import BadRequest, first_line

PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
#: State names offered by the filter besides the types (the type's own name is the same word).
STATE_NAMES = ("Cached", "Reused", "AwaitingRetry", "Retrying")


@attrs.frozen
class RunFilters:
    """The runs page's query: which runs, and where in the order the page starts."""

    flow: str | None = None
    state: str | None = None
    since: str | None = None
    until: str | None = None
    cursor: str | None = None
    newer: bool = False
    limit: int = PAGE_SIZE

    def query(self, **changes: Any) -> str:
        """This query string with ``changes`` (None drops a key); '' when empty."""
        values = {
            "flow": self.flow, "state": self.state, "since": self.since, "until": self.until,
            "limit": None if self.limit == PAGE_SIZE else self.limit,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in (None, "")}
        return ("?" + urlencode(kept)) if kept else ""


def _day(text: str, what: str) -> float:
    """Unix time of the start of a ``YYYY-MM-DD`` day (local time), or of an ISO time."""
    try:
        when = datetime.datetime.fromisoformat(text.strip())
    except ValueError:
        raise BadRequest(
            f"{what}={text!r} is not a date; give it as YYYY-MM-DD (or an ISO date and time)"
        ) from None
    if when.tzinfo is None:
        when = when.astimezone()  # the server's local time, as the pages show times
    return when.timestamp()


def parse_filters(params: Mapping[str, str]) -> RunFilters:
    """The filters in a query string; BadRequest naming the parameter when one is wrong."""

    def text(name: str) -> str | None:
        value = params.get(name, "").strip()
        return value or None

    raw_limit = text("limit")
    limit = PAGE_SIZE
    if raw_limit is not None:
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= MAX_PAGE_SIZE:
            raise BadRequest(f"limit={raw_limit!r} must be a whole number from 1 to {MAX_PAGE_SIZE}")
        limit = int(raw_limit)
    older, newer = text("older"), text("newer")
    if older and newer:
        raise BadRequest("give older= or newer=, not both (they are the pages' own links)")
    filters = RunFilters(
        flow=text("flow"), state=text("state"), since=text("since"), until=text("until"),
        cursor=older or newer, newer=newer is not None, limit=limit,
    )
    for name in ("since", "until"):
        value = getattr(filters, name)
        if value is not None:
            _day(value, name)
    return filters


def _bounds(filters: RunFilters) -> tuple[float | None, float | None]:
    since = _day(filters.since, "since") if filters.since else None
    until = None
    if filters.until:
        until = _day(filters.until, "until")
        if len(filters.until.strip()) == 10:  # a whole day: up to its end
            until += 86_400
    return since, until


def run_row(row: Row) -> dict[str, Any]:
    """One flow run for the list: ``run_dict`` (the CLI's ``--json``), or what is damaged."""
    try:
        run = FlowRun.from_row(row)
    except Exception as exc:  # noqa: BLE001 - a damaged record is shown, not raised
        return {"id": row["id"], "flow": row["flow_name"], "damaged": first_line(exc)}
    out = run_dict(run)
    out["parent_flow_run_id"] = run.parent_flow_run_id
    out["subflow"] = run.parent_flow_run_id is not None  # as `conveyor runs ls --json`
    return out


def state_choices() -> list[str]:
    """What the state filter offers: every state type, then the named states."""
    return [t.value for t in StateType] + list(STATE_NAMES)


def runs_page(store: MetadataStore, filters: RunFilters) -> dict[str, Any]:
    """The runs page's data; ``runs`` hold the CLI's ``run_dict`` of each run."""
    since, until = _bounds(filters)
    try:
        rows, older, newer = store.read_flow_run_page(
            filters.flow, filters.state, since, until, filters.cursor, filters.newer,
            filters.limit,
        )
    except ValueError as exc:
        raise BadRequest(first_line(exc)) from None
    return {
        "runs": [run_row(r) for r in rows],
        "filters": {
            "flow": filters.flow, "state": filters.state, "since": filters.since,
            "until": filters.until, "limit": filters.limit,
        },
        "older": filters.query(older=older) if older else None,
        "newer": filters.query(newer=newer) if newer else None,
        "first": (filters.query() or "?") if filters.cursor else None,
    }


__all__ = ["PAGE_SIZE", "RunFilters", "parse_filters", "run_row", "runs_page", "state_choices"]
