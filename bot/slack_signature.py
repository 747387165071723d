"""Slack's request signature, checked on the raw body before anything parses it
(docs/operations.md, "Hostile traffic").

Slack signs `v0:<timestamp>:<raw body>` with HMAC-SHA256 under the app's signing secret and sends
`X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`; a timestamp more than five minutes
off is refused. Unlike slack_sdk's `SignatureVerifier`, this never raises: a timestamp that is not
a plain number, a signature that is not ASCII or a body that is not UTF-8 simply do not verify.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

MAX_AGE_SECONDS = 5 * 60
_MAX_TIMESTAMP_DIGITS = 12  # seconds since 1970 have 10 digits until the year 2286


class SlackSignature:
    """Verifies requests signed with `signing_secret` (non-empty)."""

    def __init__(self, signing_secret: str, *, clock: Callable[[], float] = time.time) -> None:
        if not signing_secret:
            raise ValueError("a signing secret is needed to verify Slack requests")
        self._key = signing_secret.encode()
        self._clock = clock

    def is_valid(self, body: bytes, timestamp: str | None, signature: str | None) -> bool:
        """True when `signature` is Slack's for `body` at `timestamp`, and `timestamp` is recent.
        Constant-time in the signature."""
        if (not timestamp or signature is None or len(timestamp) > _MAX_TIMESTAMP_DIGITS
                or not (timestamp.isascii() and timestamp.isdigit())):
            return False
        if abs(self._clock() - int(timestamp)) > MAX_AGE_SECONDS:
            return False
        mac = hmac.new(self._key, b"v0:" + timestamp.encode() + b":", hashlib.sha256)
        mac.update(body)  # the body is not copied
        expected = b"v0=" + mac.hexdigest().encode()
        # Header values arrive decoded as latin-1 (ASGI); compare bytes, never non-ASCII text.
        return hmac.compare_digest(expected, signature.encode("latin-1", "replace"))
