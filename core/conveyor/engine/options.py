"""The option checks of ``@task`` and ``@flow``: values that can never work are refused
at decoration time, with the task or flow and the option named.

A serializer name is looked up now (an unknown one is an error at decoration, before any
work); a block slug's form is checked now and whether it is saved when the run starts.

May import: conveyor.engine.destination, conveyor.exceptions, conveyor.serialization,
conveyor.serializers, conveyor.storage.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.engine.destination import named_error
from conveyor.exceptions import ConfigurationError, ConveyorError
from conveyor.serialization.base import Serializer
from conveyor.serializers import resolve_serializer
from conveyor.storage.base import StorageBlock
from conveyor.storage.saved import parse_slug


def changed_options(kind: str, name: str, current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``current`` updated with ``changes`` for ``with_options``; unknown keywords are refused."""
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise TypeError(
            f"with_options() of {kind} {name!r} got unknown option(s) {', '.join(unknown)}; "
            f"options: {', '.join(sorted(current))}"
        )
    return {**current, **changes}


def check_common_options(
    kind: str,
    name: str,
    retries: int,
    retry_delay_seconds: float | list[float],
    persist_result: bool | None,
    result_storage: Any,
    result_serializer: Any,
) -> None:
    """Refuse option values that can never work, at decoration time."""
    where = f"{kind} {name!r}"
    if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
        raise ConfigurationError(f"retries={retries!r} on {where} must be an integer >= 0")
    delays = retry_delay_seconds if isinstance(retry_delay_seconds, (list, tuple)) else [retry_delay_seconds]
    if not all(isinstance(d, (int, float)) and not isinstance(d, bool) and d >= 0 for d in delays):
        raise ConfigurationError(
            f"retry_delay_seconds={retry_delay_seconds!r} on {where} must be a number of seconds "
            f">= 0, or a list of them (one per retry)"
        )
    if persist_result is not None and not isinstance(persist_result, bool):
        raise ConfigurationError(f"persist_result={persist_result!r} on {where} must be True, False or None")
    if result_storage is not None and not isinstance(result_storage, (str, StorageBlock)):
        raise TypeError(
            f"result_storage on {where} must be a saved block slug such as 's3/prod' or a storage "
            f"block instance such as LocalFileSystem(basepath='results'); got "
            f"{type(result_storage).__name__} {result_storage!r}"
        )
    if isinstance(result_serializer, str):  # a name: known now, or never (a one-line error now)
        try:
            resolve_serializer(result_serializer)
        except ConveyorError as exc:
            raise named_error(kind, name, "result_serializer", result_serializer, exc) from None
    if isinstance(result_storage, str):  # a slug: its form now; whether it is saved, at the run
        try:
            parse_slug(result_storage)
        except ConveyorError as exc:
            raise named_error(kind, name, "result_storage", result_storage, exc) from None
    if result_serializer is not None and not isinstance(result_serializer, (str, Serializer)):
        raise TypeError(
            f"result_serializer on {where} must be a serializer name such as 'json' or 'pickle', "
            f"or a Serializer instance; got {type(result_serializer).__name__} {result_serializer!r}"
        )


RunName = "str | Callable[[], str] | None"
Hook = Callable[..., Any]


def check_run_options(
    kind: str,
    name: str,
    run_name: Any,
    tags: Any,
    timeout_seconds: Any,
    on_completion: Any,
    on_failure: Any,
) -> tuple[tuple[str, ...], tuple[Hook, ...], tuple[Hook, ...]]:
    """Check the naming, tagging, timeout and hook options; return (tags, on_completion,
    on_failure) as tuples."""
    where = f"{kind} {name!r}"
    option = f"{kind}_run_name"
    if run_name is not None and not (isinstance(run_name, str) or callable(run_name)):
        raise TypeError(
            f"{option} on {where} must be a str template such as '{name}-{{day}}' (filled from "
            f"the call's parameters) or a function returning a str; got {type(run_name).__name__}"
        )
    if tags is None:
        tags = ()
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"tags on {where} must be a list of str, e.g. tags=['nightly']; got {tags!r}")
    if timeout_seconds is not None and (
        not isinstance(timeout_seconds, (int, float)) or isinstance(timeout_seconds, bool)
        or timeout_seconds <= 0
    ):
        raise ConfigurationError(
            f"timeout_seconds={timeout_seconds!r} on {where} must be a number of seconds > 0, "
            f"or None for no timeout"
        )
    hooks = []
    for label, value in (("on_completion", on_completion), ("on_failure", on_failure)):
        listed = tuple(value or ())
        if not all(callable(h) for h in listed):
            raise TypeError(
                f"{label} on {where} must be a list of functions ({kind}, {kind}_run, state); "
                f"got {value!r}"
            )
        hooks.append(listed)
    return tuple(dict.fromkeys(tags)), hooks[0], hooks[1]


def fill_run_name(kind: str, name: str, template: Any, parameters: dict[str, Any]) -> str | None:
    """A run's name from ``task_run_name`` / ``flow_run_name``: a template filled from the
    call's parameters, or what a function returns; a one-line error when it cannot be."""
    if template is None:
        return None
    option = f"{kind}_run_name"
    try:
        filled = template() if callable(template) else template.format(**parameters)
    except (KeyError, IndexError, AttributeError, ValueError, TypeError) as exc:
        raise ConfigurationError(
            f"{option} {template!r} of {kind} {name!r} cannot be filled: {type(exc).__name__}: "
            f"{exc}; a template may use the call's parameters ({', '.join(parameters) or 'none'}) "
            f"as {{name}}"
        ) from exc
    if not isinstance(filled, str):
        raise ConfigurationError(f"{option} of {kind} {name!r} returned {type(filled).__name__}, not a str")
    return filled


__all__ = ["changed_options", "check_common_options", "check_run_options", "fill_run_name"]
