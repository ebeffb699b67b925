"""What the hook registers: :class:`PostgresBackend`, the schemes and a factory.

Registering it costs no import of psycopg (about 25 ms at start-up, with the email
package it pulls in): :class:`~conveyor_metadata_postgres.postgres.PostgresStore` and
psycopg are imported when a PostgreSQL URL is first used.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PostgresBackend:
    """The PostgreSQL metadata backend: ``CONVEYOR_DATABASE_URL=postgresql://...``."""

    #: URL schemes it serves (the same as ``PostgresStore.schemes``).
    schemes: ClassVar[tuple[str, ...]] = ("postgresql", "postgres")

    @classmethod
    def from_url(cls, url: str) -> Any:
        """The :class:`~conveyor_metadata_postgres.postgres.PostgresStore` of ``url``."""
        from conveyor_metadata_postgres.postgres import (  # lazy: psycopg only when PostgreSQL is used
            PostgresStore,
        )

        return PostgresStore.from_url(url)


__all__ = ["PostgresBackend"]
