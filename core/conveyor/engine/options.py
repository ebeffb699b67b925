"""The option checks of ``@task`` and ``@flow``: values that can never work are refused
at decoration time, with the task or flow and the option named.

A serializer name is looked up now (an unknown one is an error at decoration, before any
work); a block slug's form is checked now and whether it is saved when the run starts.

May import: conveyor.engine.destination, conveyor.exceptions, conveyor.serialization,
conveyor.serializers, conveyor.storage.
"""

from __future__ import annotations

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


__all__ = ["changed_options", "check_common_options"]
