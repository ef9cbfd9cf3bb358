"""CONTRACT §11 limits on HTTP: a body over 1 MiB is refused with 413 before it is read further.

A pure ASGI middleware, so nothing (not the token check, not the body parser) reads more than the
limit: a declared ``Content-Length`` over it is answered at once; a body sent in chunks is cut off
as soon as it passes the limit, and whatever the application would have answered is replaced by
the 413 problem.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import problem_body

MAX_BODY_BYTES = 1024 * 1024
"""The largest HTTP body any API takes (CONTRACT §11)."""


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        received, exceeded, answered = 0, False, False

        async def limited() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request" and not exceeded:
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if not exceeded:
                await send(message)
            elif not answered:  # replace the application's own answer to a truncated body
                answered = True
                await self._refuse(send)

        await self.app(scope, limited, guarded)

    async def _refuse(self, send: Send) -> None:
        body: dict[str, Any] = problem_body(413, detail=f"The request body is larger than {self.limit:,} bytes.")
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
