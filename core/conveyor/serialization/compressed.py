"""``CompressedSerializer``: any serializer's bytes, compressed with zlib, lzma or bz2.

Selected as ``result_serializer="compressed/<name>"`` or built directly::

    CompressedSerializer(serializer=JSONSerializer(jsonlib="orjson"), compressionlib="lzma")

It streams both ways: :meth:`~CompressedSerializer.dump` hands the inner serializer a
file object that compresses as it is written, and :meth:`~CompressedSerializer.load`
hands it one that decompresses as it is read, so neither the serialized nor the
compressed bytes are ever held whole in memory. Registered by the built-in plugin
:mod:`conveyor.serialization.hooks`.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from typing import Any, BinaryIO, ClassVar

import attrs

from conveyor.exceptions import ConfigurationError, SerializationError
from conveyor.serialization.base import Serializer
from conveyor.serializers import resolve_serializer, serializer_from_dict

#: Supported values of ``compressionlib``.
COMPRESSIONLIBS = ("bz2", "lzma", "zlib")
_EXTENSIONS = {"bz2": ".bz2", "lzma": ".xz", "zlib": ".zz"}
_CHUNK = 1 << 20


def _to_serializer(value: Any) -> Serializer:
    """Accept a serializer instance, a type name, or a serializer's ``to_dict``."""
    if isinstance(value, dict):
        return serializer_from_dict(value)
    return resolve_serializer(value)


def _check_lib(_instance: Any, _attribute: Any, value: Any) -> None:
    if value not in COMPRESSIONLIBS:
        raise ConfigurationError(
            f"CompressedSerializer: compressionlib {value!r} is not supported; "
            f"use one of: {', '.join(COMPRESSIONLIBS)}"
        )


def _check_level(instance: Any, _attribute: Any, value: Any) -> None:
    if value is None:
        return
    lib = instance.compressionlib
    low, high = (0, 9) if lib != "bz2" else (1, 9)
    if type(value) is not int or not low <= value <= high:
        raise ConfigurationError(
            f"CompressedSerializer: level {value!r} is not valid for {lib}; "
            f"use an int from {low} to {high}, or None for the library's default"
        )


@attrs.frozen
class CompressedSerializer(Serializer):
    """Wrap ``serializer`` and compress its output with ``compressionlib``.

    :param serializer: the inner serializer: an instance, a type name (``"json"``) or
        a serializer's ``to_dict()``. Default: ``"pickle"``.
    :param compressionlib: ``"zlib"`` (default), ``"lzma"`` or ``"bz2"``.
    :param level: compression level (zlib and lzma: 0-9, bz2: 1-9); ``None`` uses the
        library's default.
    """

    type: ClassVar[str] = "compressed"

    serializer: Serializer = attrs.field(default="pickle", converter=_to_serializer)  # type: ignore[assignment]
    compressionlib: str = attrs.field(default="zlib", validator=_check_lib)
    level: int | None = attrs.field(default=None, validator=_check_level)

    # -- whole values -----------------------------------------------------------------

    def file_extension(self) -> str:
        """The inner serializer's extension, then the compression's (``.json.xz``)."""
        return self.serializer.file_extension() + _EXTENSIONS[self.compressionlib]

    def dumps(self, obj: Any) -> bytes:
        return self._compress(self.serializer.dumps(obj))

    def loads(self, data: bytes) -> Any:
        try:
            raw = _decompress(self.compressionlib, data)
        except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError) as exc:
            raise SerializationError(self._corrupt(exc)) from exc
        return self.serializer.loads(raw)

    # -- streams ----------------------------------------------------------------------

    def dump(self, obj: Any, file: BinaryIO) -> None:
        writer = _CompressingWriter(file, self._compressor())
        self.serializer.dump(obj, writer)  # type: ignore[arg-type]
        writer.finish()

    def load(self, file: BinaryIO) -> Any:
        raw = _DecompressingReader(file, self.compressionlib)
        try:
            return self.serializer.load(io.BufferedReader(raw, _CHUNK))  # type: ignore[arg-type]
        except (zlib.error, lzma.LZMAError, OSError, EOFError) as exc:
            raise SerializationError(self._corrupt(exc)) from exc

    # -- helpers ----------------------------------------------------------------------

    def _compressor(self) -> Any:
        if self.compressionlib == "zlib":
            return zlib.compressobj(-1 if self.level is None else self.level)
        if self.compressionlib == "lzma":
            return lzma.LZMACompressor(preset=self.level)
        return bz2.BZ2Compressor(9 if self.level is None else self.level)

    def _compress(self, data: bytes) -> bytes:
        comp = self._compressor()
        return comp.compress(data) + comp.flush()

    def _corrupt(self, exc: BaseException) -> str:
        return (
            f"cannot decompress a {self.compressionlib} payload for {self.serializer.type!r} "
            f"({type(exc).__name__}: {exc}); the data is not what CompressedSerializer"
            f"(compressionlib={self.compressionlib!r}) wrote"
        )


def _decompress(lib: str, data: bytes) -> bytes:
    if lib == "zlib":
        return zlib.decompress(data)
    if lib == "lzma":
        return lzma.decompress(data)
    return bz2.decompress(data)


class _CompressingWriter:
    """A write-only file that compresses into ``file``."""

    def __init__(self, file: BinaryIO, compressor: Any) -> None:
        self._file = file
        self._comp = compressor

    def write(self, data: Any) -> int:
        out = self._comp.compress(data)
        if out:
            self._file.write(out)
        return memoryview(data).nbytes

    def flush(self) -> None:
        pass

    def finish(self) -> None:
        tail = self._comp.flush()
        if tail:
            self._file.write(tail)


class _DecompressingReader(io.RawIOBase):
    """A readable raw stream of the decompressed bytes of ``file``."""

    def __init__(self, file: BinaryIO, lib: str) -> None:
        self._file = file
        self._zlib = lib == "zlib"
        if lib == "zlib":
            self._d: Any = zlib.decompressobj()
        elif lib == "lzma":
            self._d = lzma.LZMADecompressor()
        else:
            self._d = bz2.BZ2Decompressor()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        if want == 0:
            return 0
        while not self._d.eof:
            if self._zlib:
                data = self._d.unconsumed_tail or self._file.read(_CHUNK)
            else:
                data = self._file.read(_CHUNK) if self._d.needs_input else b""
            if not data and (self._zlib or self._d.needs_input):
                raise EOFError("compressed payload ends before the end of its stream")
            out = self._d.decompress(data, want)
            if out:
                view[: len(out)] = out
                return len(out)
        return 0


__all__ = ["COMPRESSIONLIBS", "CompressedSerializer"]
