"""The referral's transitions, one function per command. Each loads the referral, checks that
the caller's organisation is the party that may act, asks the state machine, records the
history and due dates and queues the event, all in the caller's unit of work.

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
from .sender import amend, cancel
from .steps import Actor, load

__all__ = [
    "Actor",
    "accept",
    "activate",
    "allocate",
    "amend",
    "book_joint_visit",
    "cancel",
    "close",
    "decline",
    "load",
    "open_workbook",
    "record_joint_visit",
    "record_summary",
]
