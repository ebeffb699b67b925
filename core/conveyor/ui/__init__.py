"""``conveyor ui``: a read-only results browser, server-rendered HTML on Starlette and uvicorn.

It shows the runs, task runs, results and saved blocks of one metadata store, and
answers every page as JSON too (``Accept: application/json`` or ``?format=json``, the
CLI's ``--json`` shapes). It writes nothing, never unpickles (a pickle result shows its
metadata and a download link only) and never shows a secret.

Modules: ``config`` (what ``conveyor ui`` was started with; the optional dependencies;
no third-party import, so ``conveyor`` starts without Starlette), ``errors`` (the error
pages' exceptions), ``listing`` (the runs page: filters and keyset pages), ``runview``
(one run, one task run), ``tasklist`` (a run's task runs counted and paged), ``resultview`` (one result: preview, payload stream, verify),
``auth`` (the token), ``views`` (the Starlette endpoints), ``app`` (the application),
``templates/`` and ``static/`` (Jinja2 templates and the CSS, shipped as package data).

May import: ``conveyor.client``, ``conveyor.metadata``, ``conveyor.results``,
``conveyor.blocks``, ``conveyor.states``, ``conveyor.exceptions``, ``conveyor.cli.output``
(the ``--json`` shapes, reused), and Starlette, uvicorn and Jinja2 (the ``ui`` extra);
never the engine. Inside: config, errors <- listing, tasklist <- runview <- resultview <- views <- app.
"""
