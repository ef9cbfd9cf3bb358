"""What every service's composition root (``isp_<svc>.bootstrap.build``) takes besides its settings.

``build(settings, **collaborators)`` passes these on to :class:`isp_common.runtime.ServiceRuntime`
unchanged; each is optional (None or absent: the runtime builds the real one from the settings),
so tests pass an in-memory engine, a ``FixedClock`` or a fake producer to the same ``build``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypedDict

from aiokafka import AIOKafkaProducer
from sqlalchemy.engine import Engine

from .clock import Clock


class Collaborators(TypedDict, total=False):
    """The runtime's collaborators, as keyword arguments: ``**collaborators: Unpack[Collaborators]``."""

    engine: Engine | None
    clock: Clock | None
    producer_factory: Callable[[], AIOKafkaProducer] | None
