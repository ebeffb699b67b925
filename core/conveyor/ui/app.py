"""The Starlette application of ``conveyor ui``: routes, templates, static files, the gate.

:func:`create_app` builds it over a store (default: the one under ``CONVEYOR_HOME``);
:func:`app_from_config` is the factory ``conveyor ui`` hands uvicorn
(``"conveyor.ui.app:app_from_config"``), reading :func:`conveyor.ui.config.current`.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from conveyor.cli.output import format_duration, format_size, format_when
from conveyor.metadata import MetadataStore, get_store
from conveyor.ui.auth import Gate
from conveyor.ui.config import UIConfig, current
from conveyor.ui.errors import PageError
from conveyor.ui.views import Pages

HERE = Path(__file__).resolve().parent
#: "task run <id>" / "flow run <id>" in a message (Reused, subflow...), made a link.
_RUN_MENTION = re.compile(r"\b(task|flow) run ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\b")
_EPOCH = datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC)


def _when(iso: str | None) -> str:
    return format_when(datetime.datetime.fromisoformat(iso) if iso else None)


def _seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(_EPOCH, _EPOCH + datetime.timedelta(seconds=seconds))


def _took(entry: dict[str, Any]) -> str:
    """How long a run took, from its ``start`` and ``end`` (ISO times of ``run_dict``)."""
    start, end = entry.get("start"), entry.get("end")
    if not start or not end:
        return "-"
    begin = datetime.datetime.fromisoformat(start)
    return format_duration(begin, datetime.datetime.fromisoformat(end))


def _links(message: str | None) -> Markup:
    """A state's message, escaped, with the runs it names linked to their pages."""
    def link(m: re.Match[str]) -> str:
        path = "task-runs" if m.group(1) == "task" else "runs"
        return f'{m.group(1)} run <a class="id" href="/{path}/{m.group(2)}">{m.group(2)}</a>'

    return Markup(_RUN_MENTION.sub(link, str(escape(message or ""))))


def _size(n: Any) -> str:
    return format_size(n) if isinstance(n, int) else "-"


def make_env() -> jinja2.Environment:
    """The templates, autoescaped, with the CLI's formatting as filters."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, seconds=_seconds, size=_size, took=_took, links=_links)
    return env


def create_app(config: UIConfig | None = None, store: MetadataStore | None = None) -> Starlette:
    """The browser over ``store`` (default: ``get_store()``), served as ``config`` says."""
    config = config if config is not None else current()
    pages = Pages(store if store is not None else get_store(), make_env())
    routes = [
        Route("/", pages.runs, name="runs"),
        Route("/runs", pages.runs),
        Route("/runs/{run_id}", pages.run, name="run"),
        Route("/runs/{run_id}/verify", pages.verify_run, methods=["POST"]),
        Route("/task-runs/{run_id}", pages.task_run, name="task_run"),
        Route("/results/{run_id}", pages.result, name="result"),
        Route("/results/{run_id}/verify", pages.verify_result, methods=["POST"]),
        Route("/results/{run_id}/download", pages.download, name="download"),
        Route("/blocks", pages.blocks, name="blocks"),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(Gate, config=config, deny=pages.error)],
        exception_handlers={PageError: pages.error, HTTPException: pages.error,
                            Exception: pages.error},
    )


def app_from_config() -> Starlette:
    """The factory ``conveyor ui`` gives uvicorn: :func:`create_app` of the current config."""
    return create_app(current())


__all__ = ["app_from_config", "create_app", "make_env"]
