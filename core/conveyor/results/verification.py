"""Checking that a result can be read back as recorded, without deserializing it."""

from __future__ import annotations

from typing import Any, Literal

import attrs

from conveyor.exceptions import (
    ConfigurationError,
    CorruptResultError,
    ResultNotFoundError,
    SignatureError,
    StorageError,
    UnknownNameError,
)
from conveyor.results.read import open_payload
from conveyor.results.types import (
    MISSING_MESSAGE,
    Result,
    ResultLiteral,
    UnpersistedResult,
    result_from_dict,
)

VerificationStatus = Literal["ok", "missing", "corrupt", "unreadable", "unavailable", "untrusted"]


@attrs.frozen
class Verification:
    """The outcome of :func:`verify`.

    :param ok: whether the result can be read back as recorded.
    :param status: ``"ok"``; ``"missing"`` (nothing at the key); ``"corrupt"`` (damaged,
        truncated, foreign, or another result at the key); ``"unreadable"`` (the storage
        could not be rebuilt or reached, or the record is damaged); ``"unavailable"`` (an
        unpersisted result: there is nothing to read); ``"untrusted"`` (the reference is
        unsigned where signatures are required, or its signature does not match: storage
        is not touched).
    :param problem: one line saying what is wrong, naming storage and key; None when ok.
    :param checksum: the payload's digest as read (when it could be computed).
    :param size: the payload's size as read.
    """

    ok: bool
    status: VerificationStatus = "ok"
    problem: str | None = None
    checksum: str | None = None
    size: int | None = None

    def __bool__(self) -> bool:
        return self.ok


def verify(result: Result | dict[str, Any]) -> Verification:
    """Check a result without deserializing it.

    For a reference: its signature holds (when keys are set), the storage can be rebuilt,
    the key exists, the object has the recorded size (an old framed result: is complete),
    and its payload hashes to the recorded checksum. Literals are
    always ok (they live in the database); an unpersisted result is ``"unavailable"``.
    """
    if isinstance(result, dict):
        try:
            result = result_from_dict(result)
        except ConfigurationError as exc:
            return Verification(ok=False, status="unreadable", problem=str(exc))
    if isinstance(result, ResultLiteral):
        return Verification(ok=True)
    if isinstance(result, UnpersistedResult):
        return Verification(ok=False, status="unavailable", problem=MISSING_MESSAGE)
    try:
        result.verify_signature()
    except SignatureError as exc:
        return Verification(ok=False, status="untrusted", problem=str(exc))
    try:
        storage = result.resolve_storage()
        with open_payload(
            storage, result.key, checksum=result.checksum, size=result.size,
            label=result.storage, format=result.format,
        ) as payload:
            return Verification(ok=True, checksum=payload.checksum, size=payload.trailer.size)
    except ResultNotFoundError as exc:
        return Verification(ok=False, status="missing", problem=str(exc))
    except CorruptResultError as exc:
        return Verification(ok=False, status="corrupt", problem=str(exc))
    except (StorageError, ConfigurationError, UnknownNameError) as exc:
        return Verification(ok=False, status="unreadable", problem=str(exc))
