"""The referral's state machine: which party may make which command, from which states, to which state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .errors import IllegalTransition

STATES: tuple[str, ...] = ("requested", "accepted", "declined", "cancelled", "allocated", "active", "closed")
TERMINAL_STATES = frozenset({"declined", "cancelled", "closed"})
Party = Literal["sender", "receiver"]


@dataclass(frozen=True)
class Progress:
    """Where a referral is: its state and the milestones recorded while allocated."""

    state: str
    joint_visit_booked: bool = False
    joint_visit_done: bool = False
    workbook_opened: bool = False


@dataclass(frozen=True)
class Command:
    """A transition: who may make it, from which states, to which state."""

    name: str
    party: Party
    from_states: frozenset[str]
    to_state: str | None  # None: the state stays (a milestone or an amendment)

    def guard(self, progress: Progress) -> str | None:
        """Why the command is not allowed now despite the state, or None."""
        if self.name == "book_joint_visit" and progress.joint_visit_done:
            return "the joint visit is already done"
        if self.name == "record_joint_visit" and not progress.joint_visit_booked:
            return "the joint visit has not been booked"
        if self.name == "record_joint_visit" and progress.joint_visit_done:
            return "the joint visit is already recorded"
        if self.name == "open_workbook" and progress.workbook_opened:
            return "the workbook is already open"
        if self.name == "activate" and not (progress.joint_visit_done and progress.workbook_opened):
            return "the joint visit must be done and the workbook opened first"
        return None


def _command(name: str, party: Party, from_states: set[str], to_state: str | None) -> Command:
    return Command(name, party, frozenset(from_states), to_state)


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        _command("amend", "sender", {"requested"}, None),
        _command("cancel", "sender", {"requested"}, "cancelled"),
        _command("accept", "receiver", {"requested"}, "accepted"),
        _command("decline", "receiver", {"requested"}, "declined"),
        _command("allocate", "receiver", {"accepted"}, "allocated"),
        _command("book_joint_visit", "receiver", {"allocated"}, None),
        _command("record_joint_visit", "receiver", {"allocated"}, None),
        _command("open_workbook", "receiver", {"allocated"}, None),
        _command("activate", "receiver", {"allocated"}, "active"),
        _command("record_summary", "receiver", {"active"}, None),
        _command("close", "receiver", {"accepted", "allocated", "active"}, "closed"),
    )
}


def allowed_commands(progress: Progress) -> list[str]:
    """The commands allowed now, in the order of a referral's life."""
    return [c.name for c in COMMANDS.values() if progress.state in c.from_states and c.guard(progress) is None]


def transition(progress: Progress, command: str) -> str:
    """The state after ``command``; raises :class:`IllegalTransition` if it is not allowed."""
    spec = COMMANDS[command]
    if progress.state not in spec.from_states:
        raise IllegalTransition(
            command, progress.state, f"the referral is {progress.state}", allowed_commands(progress)
        )
    if (why := spec.guard(progress)) is not None:
        raise IllegalTransition(command, progress.state, why, allowed_commands(progress))
    return spec.to_state or progress.state


def party_of(command: str) -> Party:
    return COMMANDS[command].party
