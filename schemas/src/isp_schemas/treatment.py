"""Events published by treatment providers on ``isp.treatment.v1`` (CONTRACT section 4)."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from . import topics
from .envelope import EventData
from .people import EntityId, Person

AppointmentKind = Literal["assessment", "review", "other"]


class TreatmentEvent(EventData):
    topic: ClassVar[str] = topics.TREATMENT


class AppointmentBooked(TreatmentEvent):
    """An appointment was booked for a service user."""

    event_type: ClassVar[str] = "uk.isp.treatment.appointment.booked.v1"

    appointment_id: EntityId = Field(description="The provider's appointment id.")
    person: Person = Field(description="The service user.")
    scheduled_for: AwareDatetime = Field(description="When the appointment is.")
    kind: AppointmentKind = Field(description="assessment, review or other.")
    referral_id: EntityId | None = Field(default=None, description="Set when the appointment answers a referral.")


class AppointmentAttended(TreatmentEvent):
    """The service user attended an appointment."""

    event_type: ClassVar[str] = "uk.isp.treatment.appointment.attended.v1"

    appointment_id: EntityId = Field(description="The provider's appointment id.")
    person: Person = Field(description="The service user.")
    attended_at: AwareDatetime = Field(description="When the service user attended.")


class AppointmentMissed(TreatmentEvent):
    """The service user did not attend (DNA) an appointment."""

    event_type: ClassVar[str] = "uk.isp.treatment.appointment.missed.v1"

    appointment_id: EntityId = Field(description="The provider's appointment id.")
    person: Person = Field(description="The service user.")
    scheduled_for: AwareDatetime = Field(description="When the missed appointment was.")
    recorded_at: AwareDatetime = Field(description="When the provider recorded the DNA.")


class EpisodeStarted(TreatmentEvent):
    """A treatment episode started."""

    event_type: ClassVar[str] = "uk.isp.treatment.episode.started.v1"

    episode_id: EntityId = Field(description="The provider's episode id.")
    person: Person = Field(description="The service user.")
    started_on: date = Field(description="The date treatment started.")


class EpisodeDisengaged(TreatmentEvent):
    """The service user has dropped out of treatment."""

    event_type: ClassVar[str] = "uk.isp.treatment.episode.disengaged.v1"

    episode_id: EntityId = Field(description="The provider's episode id.")
    person: Person = Field(description="The service user.")
    last_contact_on: date = Field(description="The date of the last contact.")
    reason: str | None = Field(default=None, description="Why, if known.")


class EpisodeCompleted(TreatmentEvent):
    """A treatment episode was completed."""

    event_type: ClassVar[str] = "uk.isp.treatment.episode.completed.v1"

    episode_id: EntityId = Field(description="The provider's episode id.")
    person: Person = Field(description="The service user.")
    completed_on: date = Field(description="The date treatment was completed.")


EVENTS: tuple[type[TreatmentEvent], ...] = (
    AppointmentBooked,
    AppointmentAttended,
    AppointmentMissed,
    EpisodeStarted,
    EpisodeDisengaged,
    EpisodeCompleted,
)
