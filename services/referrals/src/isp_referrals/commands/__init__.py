"""What HTTP asks of referrals, one function per command, each taking a unit of work first.

Each loads the referral, checks that the caller's organisation is the party that may act, asks
the state machine, records the history and due dates and queues the event, all in the caller's
unit of work; none commits. :func:`apply` runs one to its commit, refusing a concurrent change.

The sending organisation's commands are in :mod:`.sender`, the receiving organisation's in
:mod:`.receiver`; what every step shares (who acts, loading, recording) is in :mod:`.steps`.
"""

from .receiver import (
    accept,
    activate,
    allocate,
    book_joint_visit,
    close,
    decline,
    open_workbook,
    record_joint_visit,
    record_summary,
)
from .sender import amend, cancel, make_referral, refer
from .steps import Actor, apply, load

__all__ = [
    "Actor",
    "accept",
    "activate",
    "allocate",
    "amend",
    "apply",
    "book_joint_visit",
    "cancel",
    "close",
    "decline",
    "load",
    "make_referral",
    "open_workbook",
    "record_joint_visit",
    "record_summary",
    "refer",
]
