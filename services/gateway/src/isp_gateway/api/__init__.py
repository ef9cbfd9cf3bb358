"""The gateway's HTTP API: ``POST /v1/events`` and the list of event types it takes."""

from .events import router

routers = [router]
