"""``PickleSerializer``: any Python object, through cloudpickle or another pickle library.

- ``picklelib`` is any importable module with ``dumps`` and ``loads``; its ``dump`` and
  ``load`` are used to stream into and out of file objects when it has them.
- The library's version is part of the configuration (``picklelib_version``, filled in
  from the installed library when not given), so every result records it. Loading with
  a different installed version warns (:class:`PicklelibVersionWarning`) and still tries.
- Pickle protocol 5: large buffers (``bytes``, ``bytearray``, numpy arrays) are handed to
  the file's ``write`` as they are, without being copied into a pickle byte string.
- A value that cannot be pickled raises :class:`~conveyor.exceptions.SerializationError`
  naming the path of the culprit inside the value (see :mod:`.culprit`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import platform
import sys
import warnings
from types import ModuleType
from typing import Any, BinaryIO, ClassVar

import attrs
from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serializers import Serializer, import_path_field

from conveyor_serializer_pickle.culprit import find_culprit

#: The protocol used when the library supports it (out-of-band capable, no-copy buffers).
PROTOCOL = 5

_WAY_OUT = (
    "use another result_serializer for this task or flow, or persist_result=False to keep "
    "the value in memory only"
)


class PicklelibVersionWarning(UserWarning):
    """A result is loaded with another version of its pickle library than wrote it."""


@functools.cache
def _import(name: str) -> ModuleType:
    """Import ``name`` as a pickle library, or raise one clear line about it."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(
            f"PickleSerializer: picklelib must be a module name such as 'cloudpickle' or "
            f"'pickle'; got {type(name).__name__} {name!r}"
        )
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        raise ConfigurationError(
            f"PickleSerializer: picklelib {name!r} cannot be imported "
            f"({type(exc).__name__}: {exc}); install it, or choose another such as "
            f"picklelib='cloudpickle' or 'pickle'"
        ) from exc
    missing = [f for f in ("dumps", "loads") if not callable(getattr(module, f, None))]
    if missing:
        raise ConfigurationError(
            f"PickleSerializer: picklelib {name!r} has no {' or '.join(missing)} function; "
            f"give a module with dumps() and loads(), such as 'cloudpickle' or 'pickle'"
        )
    return module


@functools.cache
def library_version(name: str) -> str:
    """The installed version of pickle library ``name`` (``"python-3.11.7"`` for the stdlib)."""
    module = _import(name)
    version = getattr(module, "__version__", None)
    if isinstance(version, str) and version:
        return version
    top = name.split(".", 1)[0]
    if top in sys.stdlib_module_names:
        return f"python-{platform.python_version()}"
    from importlib import metadata

    for dist in metadata.packages_distributions().get(top, []):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return "unknown"


@functools.cache
def _protocol_kwargs(name: str, func: str) -> dict[str, int]:
    """``{"protocol": 5}`` when ``name.func`` accepts a protocol, else ``{}``."""
    fn = getattr(_import(name), func)
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {"protocol": PROTOCOL}
    accepts = "protocol" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())
    if not accepts:
        return {}
    highest = getattr(_import(name), "HIGHEST_PROTOCOL", PROTOCOL)
    return {"protocol": min(PROTOCOL, highest) if isinstance(highest, int) else PROTOCOL}


class _BytesWriter:
    """Pass only bytes-like objects with a length to ``file.write``.

    The C pickler hands large buffers to ``write`` as ``PickleBuffer`` objects (no copy);
    a ``memoryview`` of them is just as free and is what file objects expect.
    """

    __slots__ = ("_write",)

    def __init__(self, file: BinaryIO) -> None:
        self._write = file.write

    def write(self, data: Any) -> int:
        if type(data) is not bytes:
            data = memoryview(data)
        self._write(data)
        return len(data) if type(data) is bytes else data.nbytes


@attrs.frozen
class PickleSerializer(Serializer):
    """Pickle values with ``picklelib`` (a module with ``dumps`` and ``loads``).

    :param picklelib: module name, default ``"cloudpickle"`` (pickles lambdas and
        classes defined in ``__main__`` by value); ``"pickle"`` and ``"dill"`` work too.
    :param picklelib_version: the version of ``picklelib`` that writes (or wrote) the
        data; leave it out to record the installed version.
    """

    type: ClassVar[str] = "pickle"
    extension: ClassVar[str] = ".pickle"

    # A module name: from a record, only these or one allowed by the user (never a
    # record's choice; see conveyor.serializers.allow_imports).
    picklelib: str = import_path_field(
        kind="module", trusted=("cloudpickle", "pickle", "dill"), default="cloudpickle"
    )
    picklelib_version: str | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        _import(self.picklelib)
        if self.picklelib_version is None:
            object.__setattr__(self, "picklelib_version", library_version(self.picklelib))
        elif not isinstance(self.picklelib_version, str):
            raise ConfigurationError(
                f"PickleSerializer: picklelib_version must be a string or None; "
                f"got {type(self.picklelib_version).__name__} {self.picklelib_version!r}"
            )

    # -- encoding ---------------------------------------------------------------------

    def dumps(self, obj: Any) -> bytes:
        lib = self._lib()
        try:
            return lib.dumps(obj, **_protocol_kwargs(self.picklelib, "dumps"))  # type: ignore[no-any-return]
        except Exception as exc:
            raise self._dump_error(obj, exc) from exc

    def dump(self, obj: Any, file: BinaryIO) -> None:
        lib = self._lib()
        if not callable(getattr(lib, "dump", None)):
            file.write(self.dumps(obj))
            return
        try:
            lib.dump(obj, _BytesWriter(file), **_protocol_kwargs(self.picklelib, "dump"))
        except Exception as exc:
            if _is_write_error(exc):
                raise
            raise self._dump_error(obj, exc) from exc

    # -- decoding ---------------------------------------------------------------------

    def loads(self, data: bytes) -> Any:
        lib = self._lib(loading=True)
        try:
            return lib.loads(data)
        except Exception as exc:
            raise self._load_error(exc) from exc

    def load(self, file: BinaryIO) -> Any:
        lib = self._lib(loading=True)
        if not callable(getattr(lib, "load", None)):
            return self.loads(file.read())
        try:
            return lib.load(file)
        except Exception as exc:
            raise self._load_error(exc) from exc

    # -- helpers ----------------------------------------------------------------------

    def _lib(self, loading: bool = False) -> ModuleType:
        lib = _import(self.picklelib)
        installed = library_version(self.picklelib)
        if self.picklelib_version != installed:
            doing = "loaded" if loading else "written"
            warnings.warn(
                f"PickleSerializer: data recorded as {self.picklelib} "
                f"{self.picklelib_version} is {doing} with installed {self.picklelib} "
                f"{installed}; trying anyway (install {self.picklelib}=="
                f"{self.picklelib_version} if it fails)",
                PicklelibVersionWarning,
                stacklevel=3,
            )
        return lib

    def _dump_error(self, obj: Any, exc: BaseException) -> SerializationError:
        if isinstance(exc, RecursionError):
            where = f"value: too deeply nested to pickle ({exc})"
        else:
            where = find_culprit(obj, self._lib(), _protocol_kwargs(self.picklelib, "dumps"), exc)
        return SerializationError(
            f"cannot pickle the result with {self.picklelib} {self.picklelib_version}: "
            f"{where}; {_WAY_OUT}"
        )

    def _load_error(self, exc: BaseException) -> SerializationError:
        hint = "the data is damaged, or was not written by this serializer"
        if isinstance(exc, (ImportError, AttributeError)):
            hint = (
                "a module or class the value refers to is missing here; install or import "
                "it in the process that reads the result"
            )
        return SerializationError(
            f"cannot unpickle the result with {self.picklelib} {library_version(self.picklelib)} "
            f"(written with {self.picklelib_version}): {type(exc).__name__}: {exc}; {hint}"
        )


def _is_write_error(exc: BaseException) -> bool:
    """Errors from the target file itself are the storage's to report, not ours."""
    from conveyor.exceptions import StorageError

    return isinstance(exc, (StorageError, OSError)) and not isinstance(exc, EOFError)
