"""The browsing queries of the SQL stores (``conveyor ui``, ``runs ls``, ``results ls``,
run id prefixes): pages of flow runs by keyset, flow names, resumed runs, ids by prefix
and result rows. Each is one index range scan; none uses OFFSET.

:class:`Browsing` is a mixin of :class:`~.sqlite.SQLiteStore` and of every SQL backend:
the store provides ``flush`` (queued rows committed before every read), ``_rows`` and the
dialect words ``ORDER`` and ``NO_PARENT`` (see :class:`~.shared.SharedStore`). The SQL is
what SQLite and PostgreSQL both accept.

May import: the siblings ``interface`` and ``shared``'s column lists, the standard library.
"""

from __future__ import annotations

from typing import Any, ClassVar

from conveyor.metadata.interface import FLOW_RUN_COLUMNS, Row

_FLOW_RUN = "SELECT " + ", ".join(FLOW_RUN_COLUMNS) + " FROM flow_runs"


class Browsing:
    """Read-only queries for listing and finding runs (see :class:`MetadataStore`)."""

    ORDER: ClassVar[str]
    NO_PARENT: ClassVar[str]
    _rows: Any

    def flush(self) -> None:  # pragma: no cover - the store's
        raise NotImplementedError

    def read_flow_run_page(
        self, flow_name: str | None = None, state: str | None = None, since: float | None = None,
        until: float | None = None, cursor: str | None = None, newer: bool = False,
        limit: int = 50, top_level: bool = False,
    ) -> tuple[list[Row], str | None, str | None]:
        """A keyset page on the ``(created, id)`` order: an index range scan, never OFFSET."""
        self.flush()
        where, params = ["TRUE"], []
        for sql, value in (("flow_name = ?", flow_name), ("created >= ?", since),
                           ("created < ?", until)):
            if value is not None:
                where.append(sql)
                params.append(value)
        if state is not None:
            where.append("(state_type = ? OR state_name = ?)")
            params += [state, state]
        if top_level:
            where.append(self.NO_PARENT)
        if cursor is not None:
            where.append("(created, id) > (?, ?)" if newer else "(created, id) < (?, ?)")
            params += _parse_cursor(cursor)
        order = "ASC" if newer else "DESC"
        rows = self._rows(
            f"{_FLOW_RUN} WHERE {' AND '.join(where)} "
            f"ORDER BY created {order}, id {order} LIMIT ?",
            (*params, int(limit) + 1),
        )
        more = len(rows) > limit
        rows = rows[:limit]
        if newer:
            rows.reverse()
        first, last = (_cursor(rows[0]), _cursor(rows[-1])) if rows else (cursor, cursor)
        older_cursor = last if (more or newer) and rows else None
        newer_cursor = first if (cursor is not None and (more or not newer)) else None
        return rows, older_cursor, newer_cursor

    def read_flow_names(self) -> list[str]:
        """Distinct flow names by skipping along the ``flow_runs_by_name`` index."""
        self.flush()
        rows = self._rows(
            "WITH RECURSIVE names(n) AS (SELECT MIN(flow_name) FROM flow_runs UNION ALL "
            "SELECT (SELECT MIN(flow_name) FROM flow_runs WHERE flow_name > n) FROM names "
            "WHERE n IS NOT NULL) SELECT n FROM names WHERE n IS NOT NULL"
        )
        return [r[0] for r in rows]

    def read_resumed_runs(self, flow_run_id: str) -> list[Row]:
        self.flush()
        return self._rows(
            f"{_FLOW_RUN} WHERE resumed_from = ? ORDER BY created, {self.ORDER}", (flow_run_id,)
        )

    def find_run_ids(self, prefix: str, limit: int = 10) -> list[tuple[str, str]]:
        """``(kind, id)`` of the flow runs and task runs whose id starts with ``prefix``:
        a range scan (``id >= prefix AND id < next``) of each table's primary key."""
        self.flush()
        if not prefix:
            return []
        upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        rows = self._rows(
            "SELECT * FROM (SELECT 'flow' AS kind, id FROM flow_runs WHERE id >= ? AND id < ? "
            "ORDER BY id LIMIT ?) AS f UNION ALL SELECT * FROM (SELECT 'task' AS kind, id "
            "FROM task_runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?) AS t",
            (prefix, upper, int(limit), prefix, upper, int(limit)),
        )
        return [(r[0], r[1]) for r in rows][: int(limit)]

    def read_result_rows(
        self, flow_name: str | None = None, flow_run_id: str | None = None,
        since: float | None = None,
    ) -> list[Row]:
        """Runs whose state holds result data, newest result first (keys
        :data:`RESULT_ROW_COLUMNS`; ``created``: when that state was recorded)."""
        self.flush()
        parts, params = [], []
        for kind, table, name, flow_id, join in (
            ("task", "task_runs r", "r.task_name", "r.flow_run_id",
             "LEFT JOIN flow_runs f ON f.id = r.flow_run_id"),
            ("flow", "flow_runs r", "r.flow_name", "r.id", "JOIN flow_runs f ON f.id = r.id"),
        ):
            where = ["r.state_data IS NOT NULL"]
            for sql, value in (("f.flow_name = ?", flow_name), (f"{flow_id} = ?", flow_run_id),
                               ("r.state_timestamp >= ?", since)):
                if value is not None:
                    where.append(sql)
                    params.append(value)
            parts.append(
                f"SELECT '{kind}' AS kind, r.id AS id, {name} AS name, {flow_id} AS flow_run_id, "
                f"f.flow_name AS flow_name, r.state_timestamp AS created, r.state_data AS state_data "
                f"FROM {table} {join} WHERE {' AND '.join(where)}"
            )
        return self._rows(" UNION ALL ".join(parts) + " ORDER BY created DESC", tuple(params))


def _cursor(row: Row) -> str:
    """A page cursor: the row's place in the ``(created, id)`` order."""
    return f"{row['created']!r}~{row['id']}"


def _parse_cursor(cursor: str) -> list[Any]:
    created, sep, run_id = str(cursor).partition("~")
    try:
        if not sep or not run_id:
            raise ValueError
        return [float(created), run_id]
    except ValueError:
        raise ValueError(
            f"page cursor {cursor!r} is not one this store made; start again from the first page"
        ) from None
