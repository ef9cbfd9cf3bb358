"""The one test kit, used by every service's tests and the end-to-end tests.

- :class:`FixedClock`: time that moves only when told;
- :func:`auth_headers` / :func:`bearer`: a signed token for an org and roles;
- :func:`nhs_number` / :func:`fresh_nhs_number`: valid (modulus 11) NHS numbers;
- :func:`migrated_engine` / :func:`migrated_unit_of_work`: a service's database (in-memory SQLite
  unless told), migrated to head as in production, its partnership directory (if it keeps one)
  seeded from :data:`TEST_DIRECTORY_FILE`;
- :func:`organisation` / :func:`seed_directory`: a directory entry of a test's own, and putting it in;
- :func:`outbox_events` / :func:`published_events`: the CloudEvents a unit of work queued, by
  topic and type (as JSON objects / as ``CloudEvent``);
- :class:`FakeHttpClient`: an ``httpx.AsyncClient`` answering from a function, recording requests;
- :class:`InProcessBus`: drains services' outboxes into each other's event processors, so a
  rule that spans services is tested in milliseconds without a broker.

The pytest fixtures (broker, suite, PostgreSQL, Chromium) are in :mod:`.fixtures`, loaded by the
root ``conftest.py``; the helpers for tests against running processes are in :mod:`.e2e`.
"""

from __future__ import annotations

import inspect
import itertools
import json
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from isp_schemas.directory import Organisation
from isp_schemas.envelope import CloudEvent
from isp_schemas.people import make_nhs_number
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from .. import directory, migrations
from ..auth import issue_token
from ..clock import FixedClock
from ..db import UnitOfWork, make_engine, pending_outbox
from ..outbox import outbox_headers
from ..runtime import ServiceRuntime
from ..tables import OutboxMessage

__all__ = [
    "FakeHttpClient",
    "FixedClock",
    "InProcessBus",
    "RecordingDeadLetters",
    "TEST_DIRECTORY_FILE",
    "auth_headers",
    "bearer",
    "fresh_nhs_number",
    "migrated_engine",
    "migrated_unit_of_work",
    "nhs_number",
    "outbox_events",
    "organisation",
    "published_events",
    "seed_directory",
    "unique",
]


def unique(prefix: str = "") -> str:
    """A short unique id, so tests never share rows."""
    return f"{prefix}{uuid.uuid4().hex[:12]}"


# -- identity ------------------------------------------------------------------------------


def bearer(key_dir: Path | str, org: str, *roles: str, sub: str | None = None) -> str:
    """A token signed with the embedded key under ``key_dir`` (roles default to ``admin``)."""
    return issue_token(key_dir, sub or f"tester@{org.lower()}", org, list(roles) or ["admin"])


def auth_headers(key_dir: Path | str, org: str, *roles: str, sub: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer ...`` for ``org`` with ``roles``."""
    return {"Authorization": f"Bearer {bearer(key_dir, org, *roles, sub=sub)}"}


# -- people ----------------------------------------------------------------------------------


def nhs_number(n: int) -> str:
    """The ``n``-th valid NHS number of a fixed series (``nhs_number(0) != nhs_number(1)``)."""
    for candidate in itertools.count(n * 11):
        number = make_nhs_number(f"{943000000 + candidate:09d}")
        if number is not None:
            return number
    raise AssertionError("unreachable")


def fresh_nhs_number(rng: random.Random | None = None) -> str:
    """A random valid NHS number, so runs against a long-lived suite never collide."""
    rng = rng or random.SystemRandom()
    while True:
        number = make_nhs_number(f"{rng.randrange(400_000_000, 999_999_999):09d}")
        if number is not None:
            return number


# -- the database ----------------------------------------------------------------------------


def _repository_file(relative: str) -> Path:
    here = Path(__file__).resolve()
    return next((p / relative for p in here.parents if (p / relative).is_file()), Path(relative))


TEST_DIRECTORY_FILE = _repository_file("tests/directory.json")
"""The test suite's partnership directory: the example organisations of ``deploy/directory.json``
and the ones the tests use (``OTHER-ORG``, ``WSX-IG``, ...). Every test database that keeps a
directory starts from it, and the test session points ``ISP_DIRECTORY_FILE`` at it."""

_SEEDED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def migrated_engine(package: str, url: str = "sqlite://") -> Engine:
    """An engine on ``url`` (default: a fresh in-memory SQLite database) with ``package``'s
    migrations (``"isp_referrals"``, ...) run to head, as the runtime does at start, and its
    directory (if it keeps one) seeded from :data:`TEST_DIRECTORY_FILE`."""
    engine = make_engine(url)
    migrations.upgrade(engine, package)
    if directory.has_table(engine):
        with Session(engine) as session:
            directory.seed(session, directory.load_file(TEST_DIRECTORY_FILE), _SEEDED_AT)
            session.commit()
    return engine


def organisation(org_id: str | None = None, kind: str = "other", **fields: Any) -> Organisation:
    """A directory entry for a test (``org_id`` default: a fresh one), of ``kind``; other fields
    (``name``, ``dsl_contact``, ``out_of_hours``, ``keys``) default to something plausible."""
    org_id = org_id or unique("T-").upper()
    return Organisation.model_validate(
        {"id": org_id, "kind": kind, "name": f"Test organisation {org_id}", "dsl_contact": "dsl@example.test"} | fields
    )


def seed_directory(where: Session | Engine, *orgs: Organisation) -> None:
    """Put ``orgs`` in the directory (adding or replacing entries). Given an engine it commits;
    given a session it only flushes (the test commits, e.g. its unit of work)."""
    if isinstance(where, Session):
        for org in orgs:
            directory.put(where, org, _SEEDED_AT)
        return
    with Session(where) as session:
        seed_directory(session, *orgs)
        session.commit()


def migrated_unit_of_work(package: str, url: str = "sqlite://") -> Iterator[UnitOfWork]:
    """A unit of work on its own :func:`migrated_engine` (default: in memory), for a fixture to
    ``yield from``; a test commits it between steps. The engine's connections are closed after."""
    engine = migrated_engine(package, url)
    try:
        with UnitOfWork(engine) as unit:
            yield unit
    finally:
        engine.dispose()


# -- the outbox ----------------------------------------------------------------------------


def outbox_events(
    where: Session | Engine,
    topic: str | None = None,
    type: str | None = None,
    *,
    sent: bool | None = None,
) -> list[dict[str, Any]]:
    """The CloudEvents queued in an outbox (oldest first), as JSON objects, filtered."""
    stmt = select(OutboxMessage).order_by(col(OutboxMessage.id))
    if topic is not None:
        stmt = stmt.where(OutboxMessage.topic == topic)
    if type is not None:
        stmt = stmt.where(OutboxMessage.event_type == type)
    if isinstance(where, Session):
        rows = list(where.exec(stmt))
    else:
        with Session(where) as session:
            rows = list(session.exec(stmt))
    if sent is not None:
        rows = [r for r in rows if (r.sent_at is not None) == sent]
    return [json.loads(r.value) for r in rows]


def published_events(session: Session, event_type: str | None = None) -> list[CloudEvent]:
    """The events queued in the outbox of ``session`` (oldest first), of ``event_type`` if given."""
    return [CloudEvent.model_validate(event) for event in outbox_events(session, type=event_type)]


# -- dead letters ---------------------------------------------------------------------------


class RecordingDeadLetters:
    """Stands in for :class:`~isp_common.deadletter.DeadLetters`: keeps what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(
        self,
        key: bytes | None,
        value: bytes | None,
        headers: list[tuple[str, bytes]],
        reason: str,
        source_topic: str,
        position: tuple[int, int] | None = None,
    ) -> None:
        self.sent.append(
            {
                "key": key,
                "value": value,
                "headers": headers,
                "reason": reason,
                "topic": source_topic,
                "position": position,
            }
        )

    @property
    def reasons(self) -> list[str]:
        return [sent["reason"] for sent in self.sent]


# -- HTTP ------------------------------------------------------------------------------------


Responder = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


class FakeHttpClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` whose answers come from ``respond(request)`` (default: 200).

    Every request is kept in :attr:`requests`; ``respond`` may be sync or async, and may raise
    an ``httpx`` error to play a dead endpoint.
    """

    def __init__(self, respond: Responder | None = None) -> None:
        self.requests: list[httpx.Request] = []
        answer = respond or (lambda _request: httpx.Response(200))

        async def handle(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            response = answer(request)
            return await response if inspect.isawaitable(response) else response

        super().__init__(transport=httpx.MockTransport(handle), follow_redirects=False)

    def to(self, url: str) -> list[httpx.Request]:
        return [r for r in self.requests if str(r.url) == url]


# -- several services in one process -------------------------------------------------------


class InProcessBus:
    """Carries events between services' runtimes in one process, as the broker would.

    Each :meth:`drain` takes every unsent outbox row of every runtime, oldest first, hands it
    to each runtime's event processor for that topic (the same code path a faust agent runs:
    parse, inbox, handler, dead-letter), and marks it sent; it repeats until nothing is left.
    :meth:`publish` plays a partner producing an event to the broker. Everything carried is kept
    for :meth:`events`; dead-letters are kept in :attr:`deadlettered` instead of being published.
    """

    def __init__(self, runtimes: Iterable[ServiceRuntime]) -> None:
        self.runtimes = list(runtimes)
        self.deadlettered: list[tuple[str, str]] = []
        self.delivered: list[tuple[str, str]] = []
        self.carried: list[tuple[str, bytes]] = []
        for runtime in self.runtimes:
            runtime.deadletters.producer = _DeadLetterSink(self)

    async def publish(self, event: CloudEvent, topic: str, key: str | None = None) -> int:
        """A partner's event on ``topic`` (keyed by its subject unless ``key`` is given), delivered
        to every runtime consuming it; then :meth:`drain`, so all it causes has happened. Returns
        how many events were carried, this one included."""
        row = OutboxMessage(
            topic=topic,
            key=key if key is not None else event.subject,
            event_id=event.id,
            event_type=event.type,
            value=event.to_json_bytes(),
        )
        await self._deliver(row)
        return 1 + await self.drain()

    def events(self, topic: str | None = None, type: str | None = None) -> list[dict[str, Any]]:
        """The CloudEvents carried so far (partners' and outboxes'), oldest first, as JSON objects."""
        found = [json.loads(value) for carried_topic, value in self.carried if topic in (None, carried_topic)]
        return [event for event in found if type in (None, event["type"])]

    async def drain(self, max_rounds: int = 50) -> int:
        """Deliver until every outbox is empty; return how many events were delivered."""
        total = 0
        for _ in range(max_rounds):
            moved = 0
            for runtime in self.runtimes:
                for row in self._take(runtime):
                    moved += 1
                    await self._deliver(row)
            total += moved
            if not moved:
                return total
        raise AssertionError(f"the outboxes were still not empty after {max_rounds} rounds")

    def _take(self, runtime: ServiceRuntime) -> Iterator[OutboxMessage]:
        with Session(runtime.engine, expire_on_commit=False) as session:
            rows = pending_outbox(session)
            for row in rows:
                row.sent_at = runtime.clock.now()
                session.add(row)
            session.commit()
        yield from rows

    async def _deliver(self, row: OutboxMessage) -> None:
        self.carried.append((row.topic, row.value))
        key = row.key.encode() if row.key else None
        for runtime in self.runtimes:
            processor = runtime.processors.get(row.topic)
            if processor is not None:
                outcome = await processor.process(key, row.value, outbox_headers(row), row.topic)
                self.delivered.append((runtime.name, outcome))


class _DeadLetterSink:
    """Stands in for the producer of :class:`~isp_common.deadletter.DeadLetters`."""

    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus

    async def send(self, topic: str, *, value: bytes | None, key: bytes | None, headers: list[Any]) -> Any:
        reason = dict(headers).get("isp-error", b"").decode()
        self.bus.deadlettered.append((topic, reason))
        return _done()


async def _done() -> None:
    return None


from .e2e import KafkaProbe, WebhookReceiver, event_json, wait_for, wait_for_consent  # noqa: E402

__all__ += ["KafkaProbe", "WebhookReceiver", "event_json", "wait_for", "wait_for_consent"]
