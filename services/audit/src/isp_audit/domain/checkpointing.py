"""When the head of the chain is signed: after N new records or M seconds, whichever comes first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class CheckpointPolicy:
    every_records: int
    every_seconds: float

    def due(self, size: int, last_size: int, last_time: datetime | None, now: datetime) -> bool:
        """True when the head should be signed now (never for an empty or unchanged chain).

        ``last_size``/``last_time``: the last checkpoint (0 and None when there is none).
        """
        if size <= last_size:
            return False
        if size - last_size >= self.every_records:
            return True
        if last_time is None:
            return True
        return (now - last_time).total_seconds() >= self.every_seconds
