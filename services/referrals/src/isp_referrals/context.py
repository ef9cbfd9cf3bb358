"""The referrals service's own collaborators, put on ``runtime.context`` by :func:`bootstrap.build`."""

from __future__ import annotations

from dataclasses import dataclass

from .domain import DueRules


@dataclass(frozen=True)
class Referrals:
    """What the referrals service adds to the runtime: the due-date rules on this deployment's calendar."""

    rules: DueRules
