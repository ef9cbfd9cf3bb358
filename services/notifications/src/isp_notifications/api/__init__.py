"""The HTTP API (CONTRACT §5, §6): one router per resource, every route for the caller's own
organisation, errors as problem+json."""

from __future__ import annotations

from fastapi import APIRouter

from . import alerts, conferences, directory, disclosure, subscriptions, withheld

ROUTERS: tuple[APIRouter, ...] = (
    subscriptions.router,
    alerts.router,
    conferences.router,
    disclosure.router,
    directory.router,
    withheld.router,
)
