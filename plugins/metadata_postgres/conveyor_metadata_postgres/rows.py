"""Rows read back from PostgreSQL: :class:`Record`, values by column name and by position
(what ``sqlite3.Row`` gives the SQLite store's callers), made by :func:`records`, a
psycopg row factory."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any


class Record:
    """One row: ``row["id"]``, ``row[0]``, ``row.keys()``, iteration over the values."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: Sequence[Any], index: dict[str, int]) -> None:
        self._values = tuple(values)
        self._index = index

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            return self._values[self._index[key]]
        return self._values[key]

    def keys(self) -> list[str]:
        return list(self._index)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Record):
            return self._values == other._values and self._index == other._index
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Record(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._index, self._values)) + ")"


def records(cursor: Any) -> Callable[[Sequence[Any]], Record]:
    """A psycopg row factory: rows of this cursor as :class:`Record` objects."""
    description = cursor.description or ()
    index = {column.name: i for i, column in enumerate(description)}
    return lambda values: Record(values, index)


__all__ = ["Record", "records"]
