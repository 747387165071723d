"""Request bodies read within a limit, before anything parses them (docs/operations.md,
"Hostile traffic"): a body over the limit is refused while it is being read, so no unverified
client can make the app buffer, parse or log more than the limit."""

from __future__ import annotations

from starlette.requests import Request


class BodyTooLarge(Exception):
    """The body is longer than the limit (answer 413)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"body larger than {limit} bytes")
        self.limit = limit


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, at most `limit` bytes; raises BodyTooLarge as soon as it is longer (a
    declared Content-Length over the limit is refused before reading). The body is kept on the
    request, so a later `await request.body()` (Bolt's adapter) returns it."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's own cache of the body (Request.body() returns it)
    return body
