"""Whether a failed Atomic call can have reached Atomic (docs/flows.md, "When the outcome is
unknown"): only a connection that was never made proves a request was not received."""

from __future__ import annotations

import httpx

from bot.errors import AtomicError

# Raised before any byte of the request was written: the connection was refused, the name did
# not resolve, or the TCP/TLS connection could not be opened in time. Read and write timeouts,
# dropped connections and every HTTP answer (5xx included) may come after Atomic received it.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


def never_reached(exc: AtomicError) -> bool:
    """True when `exc` proves the request never reached Atomic (bot.atomic.client raises its
    errors `from` the httpx error)."""
    cause = exc.__cause__
    return isinstance(cause, NOT_SENT)
