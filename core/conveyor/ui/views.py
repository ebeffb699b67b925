"""The endpoints: each page as HTML, or as JSON when asked (``Accept`` or ``?format=json``).

Endpoints are plain functions (Starlette runs them in its thread pool: the store's reads
are blocking SQLite calls). Every failure a page can meet is a
:class:`~conveyor.ui.errors.PageError` answered with its status and one line; anything
else is a 500 page with one line, never a traceback (that goes to the server's log).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from conveyor.blocks import list_blocks
from conveyor.metadata import MetadataStore
from conveyor.results import ResultReference, result_from_dict
from conveyor.results.verification import verify
from conveyor.ui.errors import PageError, first_line
from conveyor.ui.listing import parse_filters, runs_page, state_choices
from conveyor.ui.resultview import download, result_page, verify_result
from conveyor.ui.runview import flow_run_page, is_flow_run, page_context, task_run_page
from conveyor.ui.tasklist import parse_task_query

logger = logging.getLogger("conveyor.ui")
_SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def wants_json(request: Request) -> bool:
    """``?format=json``, or an ``Accept`` that asks for JSON rather than HTML."""
    fmt = request.query_params.get("format")
    if fmt is not None:
        return fmt.lower() == "json"
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _json(doc: Any, status: int = 200) -> Response:
    # compact: the C encoder (indent= falls back to pure Python, 10x slower on a big run)
    body = json.dumps(doc, default=str, ensure_ascii=False)
    return Response(body + "\n", status_code=status, media_type="application/json")


class Pages:
    """The endpoints over one store, rendering with one Jinja2 environment."""

    def __init__(self, store: MetadataStore, env: jinja2.Environment) -> None:
        self.store = store
        self.env = env

    # -- rendering ---------------------------------------------------------------------

    def render(self, request: Request, template: str, doc: Any, status: int = 200,
               **context: Any) -> Response:
        if wants_json(request):
            return _json(doc, status)
        json_query = request.url.include_query_params(format="json").query
        html = self.env.get_template(template).render(
            doc=doc, path=request.url.path, json_url=f"{request.url.path}?{json_query}",
            store_path=self.store.location, **context,
        )
        return Response(html, status_code=status, media_type="text/html; charset=utf-8")

    def error(self, request: Request, exc: Exception) -> Response:
        """The page (or JSON) of an error: its status, title and one line."""
        if isinstance(exc, PageError):
            status, title, message = exc.status, exc.title, exc.message
        elif isinstance(exc, HTTPException):
            status, title = exc.status_code, "Not found" if exc.status_code == 404 else "Error"
            message = (f"there is no page at {request.url.path}; start from the runs page"
                       if exc.status_code == 404 else str(exc.detail))
        else:
            logger.exception("conveyor ui: %s %s failed", request.method, request.url.path)
            status, title = 500, "Internal error"
            message = f"the page failed: {type(exc).__name__}: {first_line(exc)}"
        doc = {"error": message, "status": status, "title": title}
        return self.render(request, "error.html", doc, status)

    # -- pages -------------------------------------------------------------------------

    def runs(self, request: Request) -> Response:
        doc = runs_page(self.store, parse_filters(request.query_params))
        return self.render(request, "runs.html", doc, flows=self.store.read_flow_names(),
                           states=state_choices())

    def run(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        if not is_flow_run(self.store, run_id) and self.store.read_task_run(run_id) is not None:
            query = f"?{request.url.query}" if request.url.query else ""
            return RedirectResponse(f"/task-runs/{run_id}{query}", status_code=307)
        return self._run_page(request, None)

    def _run_page(self, request: Request, verification: dict[str, Any] | None) -> Response:
        query = parse_task_query(request.query_params, everything=wants_json(request))
        doc = flow_run_page(self.store, request.path_params["run_id"], query)
        if verification is not None:
            doc["verification"] = verification
        return self.render(request, "run.html", doc, verification=verification or {},
                           states=state_choices(), **page_context(doc))

    def verify_run(self, request: Request) -> Response:
        """The run page with every stored result of the run (and its task runs) checked."""
        run_id = request.path_params["run_id"]
        run = self.store.read_flow_run(run_id)
        rows = [run] if run is not None else []
        checked: dict[str, Any] = {}
        for row in [*rows, *(self.store.read_task_runs(run_id) if rows else [])]:
            if not row["state_data"]:
                continue
            try:
                ref = result_from_dict(json.loads(row["state_data"]))
            except Exception as exc:  # noqa: BLE001 - a damaged reference is a finding
                checked[row["id"]] = {"ok": False, "status": "unreadable", "problem": first_line(exc)}
                continue
            if isinstance(ref, ResultReference):
                outcome = verify(ref)
                checked[row["id"]] = {"ok": outcome.ok, "status": outcome.status,
                                      "problem": outcome.problem}
        return self._run_page(request, checked)

    def task_run(self, request: Request) -> Response:
        doc = task_run_page(self.store, request.path_params["run_id"])
        return self.render(request, "task_run.html", doc)

    def result(self, request: Request) -> Response:
        doc = result_page(self.store, request.path_params["run_id"])
        return self.render(request, "result.html", doc, verification=None)

    def verify_result(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        outcome = verify_result(self.store, run_id)
        doc = result_page(self.store, run_id)
        doc["verification"] = outcome
        return self.render(request, "result.html", doc, verification=outcome)

    def download(self, request: Request) -> Response:
        run_id = request.path_params["run_id"]
        chunks, headers = download(self.store, run_id)
        headers["content-disposition"] = headers["content-disposition"].replace(
            f'"{run_id}.', f'"{_SAFE_ID.sub("_", run_id)}.'
        )
        return StreamingResponse(chunks, headers=headers)

    def blocks(self, request: Request) -> Response:
        doc = [{"slug": slug, "config": config} for slug, config in list_blocks()]
        return self.render(request, "blocks.html", doc)


__all__ = ["Pages", "wants_json"]
