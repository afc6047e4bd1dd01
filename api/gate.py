"""The gate every HTTP request passes before the app reads a byte of its body: its token, its size, its pace.

FastAPI reads and parses a body before it runs a route's dependencies, so an unauthenticated 50 MB POST used to be
read whole before its 401, and nothing capped a body at all. A pure ASGI middleware, in this order:

1. under `/api/v1` (everything there needs a token, whatever the method), a request without a valid admin or
   community token is answered 401, exactly as api/deps.py answers it, before its body is read;
2. a `Content-Length` over the cap is answered 413 before the body is read;
3. the body is counted as the app reads it: past the cap (a chunked body has no length) the app's read fails and the
   answer is 413; a body that has not all arrived `body_timeout_s` after the request's head is answered 408.

A response that starts while the request's body is still unread says `Connection: close`: the server would
otherwise read and throw away the rest of the body, for as long as the client cares to send it.
"""

from __future__ import annotations

import asyncio
import logging

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .deps import BAD_TOKEN, CALLER_STATE, CHALLENGE, NO_TOKEN, Caller, Context, authenticate, bearer_token
from .limits import Limits

__all__ = ["PROTECTED", "Gate", "needs_token"]

log = logging.getLogger(__name__)

PROTECTED = "/api/v1"
"""Every path under this one needs a token (tests/api/test_gate.py checks the routes agree)."""

_CLOSE = (b"connection", b"close")


def needs_token(path: str) -> bool:
    return path == PROTECTED or path.startswith(PROTECTED + "/")


def _content_length(headers: Headers) -> int | None:
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):  # h11 refuses a malformed one before we see it
        return None


def _has_body(headers: Headers) -> bool:
    return "transfer-encoding" in headers or (_content_length(headers) or 0) > 0


async def _answer(send: Send, status: int, detail: str, headers: dict[str, str] | None, close: bool) -> None:
    """`{"detail": ...}` like every other error of the API, sent by the gate itself."""
    response = JSONResponse({"detail": detail}, status_code=status, headers=headers)
    if close:
        response.headers["Connection"] = "close"
    await send({"type": "http.response.start", "status": response.status_code, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class Rejected(HTTPException):
    """Raised where the app reads a body the gate refuses; the gate answers it (413 or 408) whatever the app does."""


class _Body:
    """One request's `receive` and `send`, as the gate hands them to the app."""

    def __init__(self, receive: Receive, send: Send, limits: Limits, has_body: bool) -> None:
        self._receive, self._send, self._limits = receive, send, limits
        self._deadline = asyncio.get_running_loop().time() + limits.body_timeout_s
        self._received = 0
        self.complete = not has_body
        self.started = False
        self.rejected: Rejected | None = None
        self._answered = False

    def _reject(self, status: int, detail: str) -> Rejected:
        self.rejected = Rejected(status, detail)
        return self.rejected

    async def receive(self) -> Message:
        if self.rejected is not None:
            return {"type": "http.disconnect"}  # read no further
        if self.complete:
            return await self._receive()  # the body is in: what is left to hear is a disconnect
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            late = f"the request body did not arrive within {self._limits.body_timeout_s:g} s"
            raise self._reject(408, late) from None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._limits.max_body_bytes:
                raise self._reject(413, _too_large(self._limits))
            self.complete = not message.get("more_body", False)
        else:
            self.complete = True  # the client is gone
        return message

    async def answer_rejection(self) -> None:
        """Answer the refused body (once, and only if the app has not begun another answer)."""
        if self.rejected is not None and not self.started:
            self.started = self._answered = True
            await _answer(self._send, self.rejected.status_code, self.rejected.detail, None, close=True)

    async def send(self, message: Message) -> None:
        if self.rejected is not None and not self.started:
            await self.answer_rejection()  # whatever the app makes of the failed read, the answer is the rejection
        if self._answered:
            return  # the app's own answer to the failed read
        if message["type"] == "http.response.start":
            self.started = True
            if not self.complete:
                message = {**message, "headers": [*message.get("headers", ()), _CLOSE]}
        await self._send(message)


def _too_large(limits: Limits) -> str:
    return f"the request body is larger than {limits.max_body_bytes} bytes, the most the API takes"


class Gate:
    """The middleware; `create_app` installs it with the app's context and limits."""

    def __init__(self, app: ASGIApp, context: Context, limits: Limits) -> None:
        self.app = app
        self.context = context
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        has_body = _has_body(headers)
        if needs_token(scope["path"]):
            caller, refusal = await self._caller(headers)
            if refusal is not None:
                status, detail, extra = refusal
                await _answer(send, status, detail, extra, close=has_body)
                return
            scope.setdefault("state", {})[CALLER_STATE] = caller  # api/deps.py takes it from here: one look-up
        length = _content_length(headers)
        if length is not None and length > self.limits.max_body_bytes:
            await _answer(send, 413, _too_large(self.limits), None, close=True)
            return
        body = _Body(receive, send, self.limits, has_body)
        try:
            await self.app(scope, body.receive, body.send)
        except Exception:
            if body.rejected is None:
                raise
            log.debug("the app failed on a refused body", exc_info=True)
        await body.answer_rejection()

    async def _caller(self, headers: Headers) -> tuple[Caller | None, tuple[int, str, dict[str, str] | None] | None]:
        """Who is calling under `/api/v1`, or why the request may not go on (status, detail, headers)."""
        token = bearer_token(headers.get("authorization"))
        if token is None:
            return None, (401, NO_TOKEN, CHALLENGE)
        try:
            caller = await authenticate(self.context, token)
        except HTTPException as exc:  # the service is not running (503)
            return None, (exc.status_code, str(exc.detail), dict(exc.headers or {}) or None)
        return caller, (401, BAD_TOKEN, CHALLENGE) if caller is None else None
