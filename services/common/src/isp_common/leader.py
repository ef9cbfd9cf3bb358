"""Leadership for singleton jobs when a service runs as several replicas.

The outbox relay keeps one key's events in order only if one relay publishes at a time, and a
webhook must not be posted by two replicas at once. On PostgreSQL a replica leads a job while
it holds a session advisory lock on a connection of its own; if that replica dies, its
connection closes, the lock is released, and another replica takes over on its next try.
SQLite is one process's file: that process always leads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class Leadership:
    def __init__(self, engine: Engine, name: str):
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self._connection: Connection | None = None

    @property
    def exclusive(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def held(self) -> bool:
        """True while this replica leads; tries to take the lead when nobody holds it."""
        if not self.exclusive:
            return True
        if self._connection is not None:
            try:
                self._connection.execute(text("SELECT 1"))
                return True
            except Exception:
                log.warning("lost the lead for %s (its connection failed)", self.name)
                self._drop()
        connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            if connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar():
                self._connection = connection
                log.info("took the lead for %s", self.name)
                return True
        except Exception:
            log.exception("could not ask for the lead for %s", self.name)
        connection.close()
        return False

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
