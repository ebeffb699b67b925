"""One result: its metadata, a preview, its stored payload streamed, its checksum verified.

Nothing here deserializes a stored value with its serializer: a JSON payload (plain or
compressed) up to :data:`PREVIEW_LIMIT` bytes is parsed with the standard ``json``
module only (its ``$conveyor`` tags shown as stored, never resolved to classes), and
every other payload (pickle above all) shows its metadata and a download link. The
payload is checked against its recorded checksum before a byte of it is shown or sent.
"""

from __future__ import annotations

import bz2
import contextlib
import json
import lzma
import zlib
from collections.abc import Iterator
from typing import Any

from conveyor.cli.output import describe_result, run_dict
from conveyor.exceptions import CorruptResultError, ResultNotFoundError, SignatureError
from conveyor.results import MISSING_MESSAGE, ResultLiteral, ResultReference
from conveyor.results.read import open_payload
from conveyor.results.verification import verify
from conveyor.ui.errors import Damaged, NotFound, Unavailable, Untrusted, first_line
from conveyor.ui.runview import Locations, is_flow_run, read_flow_run, read_task_run

#: Largest (decompressed) JSON payload previewed, in bytes.
PREVIEW_LIMIT = 256 * 1024
#: Chunk of a streamed download.
STREAM_CHUNK = 256 * 1024
PICKLE_NOTE = (
    "pickle results are never loaded by this server (unpickling runs code): download the "
    "payload and load it where you trust it"
)


def _run(store: Any, run_id: str) -> Any:
    if is_flow_run(store, run_id):
        return read_flow_run(store, run_id)[0]
    return read_task_run(store, run_id)[0]


def _kind_of_json(serializer: dict[str, Any]) -> str | None:
    """``"plain"`` / the compression library for a JSON payload, else None."""
    if serializer.get("type") == "json":
        return "plain"
    inner = serializer.get("serializer")
    if serializer.get("type") == "compressed" and isinstance(inner, dict) and inner.get("type") == "json":
        lib = serializer.get("compressionlib", "zlib")
        return lib if lib in ("zlib", "lzma", "bz2") else None
    return None


def _bounded(lib: str, data: bytes) -> bytes:
    """Decompress at most PREVIEW_LIMIT + 1 bytes (a small payload may expand a lot)."""
    if lib == "plain":
        return data
    if lib == "zlib":
        return zlib.decompressobj().decompress(data, PREVIEW_LIMIT + 1)
    decompressor: Any = lzma.LZMADecompressor() if lib == "lzma" else bz2.BZ2Decompressor()
    return bytes(decompressor.decompress(data, max_length=PREVIEW_LIMIT + 1))


def _reference(store: Any, run_id: str) -> ResultReference:
    run = _run(store, run_id)
    data = run.state.data
    if not isinstance(data, ResultReference):
        kind = describe_result(data)["kind"]
        raise NotFound(
            f"run {run_id} has no stored payload (its result is {kind}); its page shows what "
            f"there is"
        )
    return data


@contextlib.contextmanager
def _payload(ref: ResultReference) -> Iterator[Any]:
    """The checked payload of ``ref``; missing, damaged or unreachable storage as PageErrors."""
    try:
        ref.verify_signature()  # before storage is touched
        storage = ref.resolve_storage()
        with open_payload(storage, ref.key, checksum=ref.checksum, size=ref.size,
                          label=ref.storage, format=ref.format) as payload:
            yield payload
    except SignatureError as exc:
        raise Untrusted(first_line(exc)) from None
    except ResultNotFoundError as exc:
        raise NotFound(first_line(exc)) from None
    except CorruptResultError as exc:
        raise Damaged(first_line(exc)) from None
    except (OSError, ValueError, LookupError) as exc:  # StorageError, ConfigurationError...
        raise Unavailable(first_line(exc)) from None


def preview(data: Any) -> dict[str, Any]:
    """What the result page shows of a value: ``{"shown": bool, "text"|"note": ...}``."""
    if isinstance(data, ResultLiteral):
        return {"shown": True, "text": json.dumps(data.get())}
    if not isinstance(data, ResultReference):
        return {"shown": False, "note": MISSING_MESSAGE if data is not None else "no result yet"}
    if data.serializer.get("type") == "pickle":
        return {"shown": False, "note": PICKLE_NOTE}
    lib = _kind_of_json(data.serializer)
    if lib is None:
        kind = data.serializer.get("type")
        return {"shown": False, "note": f"no preview for serializer {kind!r}: download it"}
    if data.size > PREVIEW_LIMIT:
        return {"shown": False, "note": f"{data.size} bytes: larger than the preview limit "
                                        f"({PREVIEW_LIMIT} bytes); download it"}
    try:
        with _payload(data) as payload:
            raw = _bounded(lib, payload.reader.read(PREVIEW_LIMIT + 1))
    except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
        return {"shown": False, "note": f"cannot decompress the payload: {first_line(exc)}"}
    except (NotFound, Damaged, Unavailable) as exc:
        return {"shown": False, "note": exc.message, "problem": True}
    if len(raw) > PREVIEW_LIMIT:
        return {"shown": False, "note": f"larger than the preview limit ({PREVIEW_LIMIT} "
                                        f"bytes) once decompressed; download it"}
    try:
        text = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, UnicodeDecodeError) as exc:
        return {"shown": False, "note": f"the payload is not JSON text: {first_line(exc)}"}
    return {"shown": True, "text": text}


def result_page(store: Any, run_id: str) -> dict[str, Any]:
    """A run's result: ``describe_result`` (as in ``--json``), where it is, its preview."""
    run = _run(store, run_id)
    data = run.state.data
    doc: dict[str, Any] = {
        "run": run_dict(run),
        "result": describe_result(data),
        "location": Locations()(data),
        "preview": preview(data),
    }
    if isinstance(data, ResultReference):
        doc["result"]["storage_document"] = data.storage_document
        doc["result"]["serializer_config"] = data.serializer
    doc["downloadable"] = isinstance(data, ResultReference)
    return doc


def verify_result(store: Any, run_id: str) -> dict[str, Any]:
    """:func:`conveyor.results.verify` of a run's result, as the page and JSON show it."""
    run = _run(store, run_id)
    if run.state.data is None:
        raise NotFound(f"run {run_id} has no result yet (it is {run.state.name}): nothing to verify")
    outcome = verify(run.state.data)
    return {"ok": outcome.ok, "status": outcome.status, "problem": outcome.problem,
            "checksum": outcome.checksum, "size": outcome.size}


def download(store: Any, run_id: str) -> tuple[Iterator[bytes], dict[str, str]]:
    """The stored payload of a run's result, checked first, as chunks; and its headers.

    The payload is opened (and its checksum checked) before this returns, so a missing
    or damaged payload is a PageError here, not a broken download.
    """
    ref = _reference(store, run_id)
    stack = contextlib.ExitStack()
    payload = stack.enter_context(_payload(ref))
    kind = ref.serializer.get("type") or "payload"
    json_payload = _kind_of_json(ref.serializer) == "plain"
    suffix = "json" if json_payload else kind
    headers = {
        "content-type": "application/json" if json_payload else "application/octet-stream",
        "content-disposition": f'attachment; filename="{run_id}.{suffix}"',
        "content-length": str(payload.trailer.size),
        "x-conveyor-checksum": payload.checksum,
    }

    def chunks() -> Iterator[bytes]:
        with stack:
            while True:
                chunk = payload.reader.read(STREAM_CHUNK)
                if not chunk:
                    return
                yield chunk

    return chunks(), headers


__all__ = ["PICKLE_NOTE", "PREVIEW_LIMIT", "download", "preview", "result_page", "verify_result"]
