"""The forgery harness: the real services (referrals, notifications, audit, built by their own
bootstraps as in :mod:`tests.inprocess.partnership`) joined by a bus that signs what each service
publishes with that service's own event key, as the outbox relay does, and trusting as a running
service does (:func:`isp_common.trust.trust_for`): ``embedded`` (unsigned events pass from an
organisation with no key) or ``production`` (every event signed). Every organisation a test uses
has a key in the directory, so even the embedded default refuses its unsigned or forged events.

An attacker publishes the way anyone on the broker can (:meth:`Forgery.send`), choosing the
event's ``source``, its organisation fields and its headers (:data:`DISGUISES`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from isp_common import directory
from isp_common.eventkeys import ensure_signer
from isp_common.outbox import outbox_headers
from isp_common.provenance import SIGNATURE_HEADER, SIGNED_FOR_HEADER, Signer
from isp_common.runtime import ServiceRuntime
from isp_common.tables import OutboxMessage
from isp_common.testing import InProcessBus
from isp_common.trust import trust_for
from isp_schemas.directory import Organisation
from isp_schemas.envelope import CloudEvent, EventData
from sqlmodel import Session

from tests.inprocess.partnership import CSC, PROVIDER, Partnership, start_partnership

OTHER_PROVIDER = "CGL-ESX"
"""Another treatment provider of the partnership, with its own key: a genuine partner gone rogue."""
OTHER_CSC = "BHCC-CSC"
"""Another children's social care organisation, with its own key."""
OUTSIDER = "OTHER-ORG"
ORGS = (CSC, PROVIDER, OTHER_PROVIDER, OTHER_CSC, OUTSIDER)

Headers = list[tuple[str, bytes]]
Hook = Callable[[ServiceRuntime, OutboxMessage], Awaitable[None]]


class SigningBus(InProcessBus):
    """An :class:`InProcessBus` on which each service's outbox rows carry that service's
    ``isp-signature`` (as :class:`~isp_common.outbox.OutboxRelay` publishes them), partners' events
    carry the headers their publisher chose, and ``before_each`` sees each outbox row before it is
    delivered (an attacker watching the broker)."""

    def __init__(self, runtimes: list[ServiceRuntime]) -> None:
        super().__init__(runtimes)
        self.before_each: Hook | None = None
        self._from: ServiceRuntime | None = None

    def _take(self, runtime: ServiceRuntime) -> Iterator[OutboxMessage]:
        for row in super()._take(runtime):
            self._from = runtime
            yield row

    async def send(
        self, event: CloudEvent, topic: str, headers: Headers, value: bytes | None = None, *, drain: bool = True
    ) -> None:
        """``event`` (or other bytes claiming to be it) on ``topic`` with ``headers``, then drain
        (unless told not to: from :attr:`before_each`, while the bus is draining)."""
        row = OutboxMessage(
            topic=topic,
            key=event.subject,
            event_id=event.id,
            event_type=event.type,
            value=value or event.to_json_bytes(),
        )
        await self._carry(row, headers)
        if drain:
            await self.drain()

    async def _deliver(self, row: OutboxMessage) -> None:
        runtime, self._from = self._from, None
        if runtime is None:  # InProcessBus.publish: a partner's event with no headers of its own
            await self._carry(row, outbox_headers(row))
            return
        if self.before_each is not None:
            await self.before_each(runtime, row)
        await self._carry(row, outbox_headers(row, runtime.signer))

    async def _carry(self, row: OutboxMessage, headers: Headers) -> None:
        self.carried.append((row.topic, row.value))
        key = row.key.encode() if row.key else None
        for runtime in self.runtimes:
            processor = runtime.processors.get(row.topic)
            if processor is not None:
                outcome = await processor.process(key, row.value, headers, row.topic)
                self.delivered.append((runtime.name, outcome))

    @property
    def refusals(self) -> list[str]:
        """The reasons of everything dead-lettered so far."""
        return [reason for _topic, reason in self.deadlettered]


def signed(value: bytes, signer: Signer, signed_for: str | None = None) -> Headers:
    headers = [(SIGNATURE_HEADER, signer.sign(value).encode())]
    if signed_for is not None:
        headers.append((SIGNED_FOR_HEADER, signed_for.encode()))
    return headers


@dataclass
class Forgery:
    """The partnership under test, the organisations' private keys, and how it trusts."""

    partnership: Partnership
    bus: SigningBus
    mode: str
    keys: dict[str, Signer] = field(default_factory=dict)
    compromised: Signer | None = None
    """The register service's key: a partnership service that discloses nothing."""

    @property
    def production(self) -> bool:
        return self.mode == "production"

    def event(self, data: EventData, source: str, **extensions: Any) -> CloudEvent:
        clock = self.partnership.clock
        return CloudEvent.create(type=data.event_type, source_org=source, data=data, time=clock.now(), **extensions)

    async def genuine(self, data: EventData, source: str) -> CloudEvent:
        """``source`` publishes ``data`` signed with its own key, as a partner's system does."""
        event = self.event(data, source)
        value = event.to_json_bytes()
        await self.bus.send(event, data.topic, signed(value, self.keys[source]), value)
        return event

    async def send(
        self, data: EventData, disguise: str, victim: str, attacker: str, *, drain: bool = True, **changes: Any
    ) -> str:
        """The attacker publishes ``data`` (its JSON with ``changes``) dressed as :data:`DISGUISES`
        says; returns the reason it was dead-lettered ('' when it was taken)."""
        before = len(self.bus.deadlettered)
        source = attacker if disguise in ("fields", "as_itself") else victim
        body = data.model_dump(mode="json", exclude_none=True) | changes
        event = CloudEvent.create(type=data.event_type, source_org=source, data=body, time=self.partnership.clock.now())
        value = event.to_json_bytes()
        headers: Headers = []
        if disguise in ("own_key", "fields", "as_itself"):
            headers = signed(value, self.keys[attacker])
        elif disguise == "gateway":
            headers = signed(value, self.keys[attacker], signed_for=victim)
        elif disguise == "tampered":  # a signature of the victim's, over other bytes
            headers = signed(value.replace(b"}", b" }", 1), self.keys[victim])
        elif disguise == "compromised_service":
            assert self.compromised is not None
            headers = signed(value, self.compromised)
        await self.bus.send(event, data.topic, headers, value, drain=drain)
        refused = self.bus.refusals[before:]
        return refused[0] if refused else ""


DISGUISES = {
    "unsigned": "no signature, the victim named as source",
    "own_key": "signed with the attacker's own key, the victim named as source",
    "gateway": "signed with the attacker's key, claiming the gateway signed it for the victim",
    "tampered": "a signature of the victim's over other bytes",
    "fields": "signed by the attacker as itself, the victim named in the organisation fields",
}
"""How an attacker on the broker dresses a forged event as the victim (each refused by provenance).
``as_itself`` (signed by the attacker as itself, about the victim's fact) is refused by the
owning service's own rule; ``compromised_service``: signed with the key of a service that may not
publish the type."""


def start(var_dir: Path, mode: str) -> Forgery:
    """The partnership on ``var_dir`` trusting as ``mode`` (``embedded`` or ``production``) does,
    every service with its event key, and each organisation of :data:`ORGS` with a key in the
    directory of each service that keeps one."""
    partnership = start_partnership(var_dir)
    runtimes = [partnership.referrals, partnership.notifications, partnership.audit]
    forgery = Forgery(partnership, SigningBus(runtimes), mode)
    partnership.bus = forgery.bus
    keys_dir = partnership.referrals.settings.resolved_event_keys_dir
    for runtime in runtimes:
        runtime.signer = ensure_signer(runtime.settings.resolved_event_key_file, create=True)
    forgery.compromised = ensure_signer(keys_dir / "register.jwk", create=True)
    for org in ORGS:
        private = Ed25519PrivateKey.generate()
        forgery.keys[org] = Signer.from_jwk(directory.private_jwk(private))
        for runtime in runtimes:
            if directory.has_table(runtime.engine):
                with Session(runtime.engine) as session:
                    entry = directory.organisation(session, org)
                    assert entry is not None, org
                    keys = {"keys": [directory.public_jwk(private.public_key())]}
                    keyed = Organisation.model_validate(entry.model_dump(mode="json") | {"keys": keys})
                    directory.put(session, keyed, partnership.clock.now())
                    session.commit()
    for runtime in runtimes:  # as the runtime builds it, after every key above exists
        runtime.trust = trust_for(runtime.engine, keys_dir, allow_unsigned=mode == "embedded")
    return forgery
