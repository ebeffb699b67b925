"""Plain immutable value classes, without attrs: :class:`Value`.

An attrs class compiles the source of its generated methods when its module is imported;
the classes every process defines at start-up (the settings, signing keys, plugin
registry kinds, saved blocks) pay that in every ``import conveyor``. They subclass
:class:`Value` instead: fields named in ``_fields`` (also their ``__slots__``), set once
by ``_init``, then compared, hashed and shown by them.

May import: nothing of conveyor.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Value:
    """An immutable value made of the fields named in ``_fields``.

    A subclass sets ``__slots__`` and ``_fields`` to the same names, calls
    ``self._init(...)`` with their values in that order, and may name fields its repr
    leaves out (``_hidden``: secrets) and add a hint to the error of an assignment
    (``_frozen_hint``). A value holding an unhashable field sets ``__hash__ = None``.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[tuple[str, ...]] = ()
    _frozen_hint: ClassVar[str] = ""

    def _init(self, *values: Any) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable: cannot set {name!r}{self._frozen_hint}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in self._fields if n not in self._hidden)
        return f"{type(self).__name__}({shown})"


__all__ = ["Value"]
