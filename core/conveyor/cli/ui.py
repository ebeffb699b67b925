"""``conveyor ui``: serve the read-only results browser (:mod:`conveyor.ui`) with uvicorn.

Only :mod:`conveyor.ui.config` is imported here; Starlette, uvicorn and Jinja2 (the ``ui``
extra) load when the command runs, so every other command starts without them, and
without them installed ``conveyor ui`` says which install command brings them.
"""

from __future__ import annotations

import argparse
import threading
import time

from conveyor.exceptions import ConfigurationError
from conveyor.metadata import get_store
from conveyor.ui.config import (
    INSTALL_COMMAND,
    UIConfig,
    configure,
    is_loopback,
    missing_dependencies,
    new_token,
)

#: The factory uvicorn imports: the app is built in the server, from the configuration set.
APP = "conveyor.ui.app:app_from_config"


def ui_config(host: str, port: int, token: str | None) -> tuple[UIConfig, bool]:
    """The configuration for these options, and whether the token was generated.

    A host other than loopback always gets a token: the one given, else a new one.
    ``--token`` without a value asks for a new one on loopback too.
    """
    if not 0 <= port <= 65535:
        raise ConfigurationError(f"--port {port} is not a port number (0 to 65535)")
    generated = False
    if token == "" or (token is None and not is_loopback(host)):
        token, generated = new_token(), True
    if token is not None and len(token) < 16:
        raise ConfigurationError(
            "--token must be at least 16 characters; give --token alone to have one generated"
        )
    defaults = UIConfig().allowed_hosts
    hosts = ("*",) if token else (*defaults, host.lower())
    return UIConfig(host=host, port=port, token=token, allowed_hosts=hosts), generated


def _open_when_started(server: object, url: str) -> None:
    for _ in range(200):  # up to 20 s
        if getattr(server, "started", False):
            import webbrowser  # lazy: only `conveyor ui --open` needs it (it imports subprocess, shlex)

            webbrowser.open(url)
            return
        time.sleep(0.1)


def _cmd_ui(args: argparse.Namespace) -> int:
    missing = missing_dependencies()
    if missing:
        raise ConfigurationError(
            f"conveyor ui needs {', '.join(missing)}, not installed here; install the ui "
            f"extra: {INSTALL_COMMAND}"
        )
    config, generated = ui_config(args.host, args.port, args.token)
    configure(config)
    url = config.url()
    print(f"conveyor ui: serving {get_store().location} at {url}", flush=True)
    if generated:
        why = "" if is_loopback(args.host) else f" (--host {args.host} is not loopback)"
        print(f"conveyor ui: a token was generated{why}; share the address only with those "
              f"who may read these runs", flush=True)
    # Lazily: uvicorn (and through the app, Starlette and Jinja2) is loaded only for
    # `conveyor ui`, not at every start of the `conveyor` command (about 150 ms).
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(
        APP, factory=True, host=config.host, port=config.port, log_level="warning",
        access_log=False,
    ))
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    server.run()
    return 0 if getattr(server, "started", False) else 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``conveyor ui`` to the ``conveyor`` parser."""
    ui = sub.add_parser(
        "ui",
        help="browse runs and results in a web browser (read-only)",
        description=(
            "Serve a read-only browser of the runs, task runs, results and saved blocks in "
            "the metadata database of CONVEYOR_HOME. Every page answers JSON too "
            "(?format=json). Binding to anything but loopback requires a token: the one "
            f"given, or a generated one, printed in the address. Needs: {INSTALL_COMMAND}."
        ),
    )
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=int, default=4200, help="port to bind (default 4200)")
    ui.add_argument("--open", action="store_true", help="open the address in a web browser")
    ui.add_argument(
        "--token", nargs="?", const="", metavar="TOKEN",
        help="require this token (alone: generate one); always on for a non-loopback host",
    )
    ui.set_defaults(func=_cmd_ui)


__all__ = ["APP", "register", "ui_config"]
