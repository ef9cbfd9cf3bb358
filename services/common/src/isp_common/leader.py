"""Leadership for singleton jobs when a service runs as several replicas.

The outbox relay keeps one key's events in order only if one relay publishes at a time, and a
webhook must not be posted by two replicas at once. On PostgreSQL a replica leads a job while
it holds a session advisory lock on a connection of its own; if that replica dies, its
connection closes, the lock is released, and another replica takes over on its next try.

SQLite is meant to be one process's file, but nothing stops a second process being started on
it by mistake (``make run`` twice, a container scaled up): both would then publish every outbox
row and post every webhook. So on a SQLite file a job is led by whoever holds an exclusive lock
on a file next to the database (``<database>.<job>.lock``, ``flock``); the operating system
releases it when its holder exits, however it ends. An in-memory database, or a system without
``flock``, has one process by construction: that process leads.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no flock, one process per file as documented
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock_file_for(engine: Engine, name: str) -> Path | None:
    """The file whose lock leads ``name`` on ``engine``'s SQLite database file; None when there
    is no file to share (not SQLite, in memory) or no ``flock`` to share it with."""
    if fcntl is None or engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}.{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.lock")


class Leadership:
    def __init__(self, engine: Engine, name: str):
        self.engine = engine
        self.name = name
        self.key = lock_key(name)
        self._connection: Connection | None = None
        self.lock_file = lock_file_for(engine, name)
        self._locked: IO[bytes] | None = None

    @property
    def exclusive(self) -> bool:
        """Whether other processes may contend for the lead (else this one always leads)."""
        return self.engine.dialect.name == "postgresql" or self.lock_file is not None

    def held(self) -> bool:
        """True while this replica leads; tries to take the lead when nobody holds it."""
        if not self.exclusive:
            return True
        if self.lock_file is not None:
            return self._hold_file(self.lock_file)
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

    def _hold_file(self, lock_file: Path) -> bool:
        if self._locked is not None:
            return True
        try:
            handle = open(lock_file, "ab")  # noqa: SIM115 - held open while this replica leads
        except OSError:  # (logged once: this is asked before every batch)
            log.warning("cannot open %s; %s is led without a lock", lock_file.name, self.name)
            self.lock_file = None
            return True
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # another process leads
            handle.close()
            return False
        except OSError:  # a file system without locks: lead, as before there were locks (logged once)
            handle.close()
            log.warning("cannot lock %s; %s is led without a lock", lock_file.name, self.name)
            self.lock_file = None
            return True
        self._locked = handle
        log.info("took the lead for %s", self.name)
        return True

    def release(self) -> None:
        if self._locked is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._locked, fcntl.LOCK_UN)
            self._locked.close()
            self._locked = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(Exception):
                self._connection.close()
            self._connection = None
