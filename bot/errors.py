"""Errors whose message is safe to show to the Slack user.

AppError ─┬─ PermissionDenied (`needed`: the role value the refusal asks for)
          ├─ SlackBusy (429 on the interactive path)
          ├─ AppBusy (a pre-ack read ran out of its budget)
          ├─ AccessCheckFailed (the role could not be read in time)
          ├─ NotFound ─ CustomerNotFound, CardNotFound, FlowNotFound
          ├─ InvalidInput (field errors keyed by input block_id, or one message)
          ├─ StaleForm (a button value or private_metadata the app no longer reads)
          ├─ TamperedForm (a sealed private_metadata changed outside Slack)
          ├─ ConfigError (missing or contradictory settings)
          ├─ NotInstalled (OAuth distribution: no installation for a workspace any more)
          ├─ FlowDisabled
          └─ AtomicError (raised only by bot.atomic; generic user text, detail for admins)
                ├─ AtomicUnavailable (timeout, network, 5xx, 429)
                ├─ AtomicRejected (4xx other than 404)
                └─ AtomicNotFound (404)
"""

from __future__ import annotations

from uuid import uuid4


def new_incident() -> str:
    """A short id that ties what a user is shown to the log line with the details."""
    return uuid4().hex[:8]


class AppError(Exception):
    """Base of every error the app raises on purpose; `user_message` is shown in Slack."""

    user_message: str = "Something went wrong. Please try again."

    def __init__(self, user_message: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        super().__init__(self.user_message)


class PermissionDenied(AppError):
    """`needed` is the value of the role that was missing ("" when not said): the refusal's
    Request access button asks for it."""

    user_message = "You don't have access to the Customer Center. Ask an app admin to grant it."

    def __init__(self, user_message: str | None = None, *, needed: str = "") -> None:
        self.needed = needed
        super().__init__(user_message)


class SlackBusy(AppError):
    user_message = "Slack is busy right now. Please try again in a few seconds."


class AppBusy(AppError):
    """Work that must finish before the ack (3 s) ran out of its budget; nothing was done."""

    user_message = ("The Customer Center is busy right now, so nothing was done. Try again in a "
                    "moment.")


class AccessCheckFailed(AppError):
    """The user's role could not be read, so nothing was shown or done."""

    user_message = ("Couldn't check your access right now, so nothing was done. Try again in a "
                    "moment.")


class NotFound(AppError):
    user_message = "Not found."


class CustomerNotFound(NotFound):
    def __init__(self, customer_id: str) -> None:
        self.customer_id = customer_id
        super().__init__(f"No customer with id {customer_id} in the Customer Center.")


class CardNotFound(NotFound):
    def __init__(self, card_id: str) -> None:
        self.card_id = card_id
        super().__init__(f"No card with id {card_id}.")


class FlowNotFound(NotFound):
    def __init__(self, flow_id: str) -> None:
        self.flow_id = flow_id
        super().__init__(f"No Action Flow with id {flow_id}.")


class InvalidInput(AppError):
    """Bad input; `field_errors` maps input block ids to messages when it came from a form."""

    def __init__(self, user_message: str, field_errors: dict[str, str] | None = None) -> None:
        self.field_errors = field_errors or {}
        super().__init__(user_message)


class StaleForm(AppError):
    """A button value or a modal's private_metadata the app cannot read (an older version of the
    app made it, or it was changed): the user starts again from a fresh message or view."""

    user_message = "This is out of date. Start again from a new `/customer` answer."


class TamperedForm(AppError):
    """A sealed private_metadata that does not match its seal: changed outside Slack."""

    user_message = "This form can't be used: it was changed outside Slack."


class ConfigError(AppError):
    user_message = "The app is not configured correctly."


class NotInstalled(AppError):
    """OAuth distribution: the workspace (or org) has no installation of the app, or not any
    more (uninstalled, its token revoked): background work for it stops (docs/slack-install.md)."""

    user_message = "The app is not installed in this workspace any more; reinstall it."

    def __init__(self, enterprise_id: str, team_id: str) -> None:
        self.enterprise_id, self.team_id = enterprise_id, team_id
        where = "/".join(part for part in (enterprise_id, team_id) if part) or "unknown"
        super().__init__(f"The app is not installed in workspace {where} any more (uninstalled, "
                         "or its token revoked); reinstall it from /slack/install.")


ATOMIC_TROUBLE = ("Atomic didn't answer; try again in a minute. If it keeps failing, tell an "
                  "app admin")


class AtomicError(AppError):
    """A failure talking to Atomic.

    What a support agent sees (`user_message`) is generic, with an `incident` id; Atomic's own
    text, HTTP bodies and configuration hints are in `admin_message` and `detail`, for the logs
    and for admins (job status, the flow registry) only. `str()` is the admin text. `status` is
    the HTTP status when there was one.
    """

    user_message = ATOMIC_TROUBLE
    admin_message = "Atomic returned an error."
    with_incident = True  # the user text ends with "(incident …)."

    def __init__(self, admin_message: str | None = None, *, status: int | None = None,
                 detail: str = "") -> None:
        self.status = status
        self.detail = detail
        if admin_message is not None:
            self.admin_message = admin_message
        self.incident = new_incident()
        text = type(self).user_message
        super().__init__(f"{text} (incident {self.incident})." if self.with_incident else text)

    def __str__(self) -> str:
        return f"{self.admin_message} (incident {self.incident})"


class AtomicUnavailable(AtomicError):
    """Timeout, connection failure, 5xx, or 429 after retries."""

    admin_message = "Atomic is not reachable right now. Try again in a minute."

    def __init__(self, admin_message: str | None = None, *, status: int | None = None,
                 detail: str = "", retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(admin_message, status=status, detail=detail)


class AtomicRejected(AtomicError):
    """Atomic refused the request (4xx other than 404): bad credentials, missing variables…"""

    user_message = "Atomic refused this request. If it keeps failing, tell an app admin"

    def __init__(self, admin_message: str | None = None, *, status: int | None = None,
                 detail: str = "") -> None:
        if admin_message is None:
            reason = f": {detail[:200]}" if detail else ""
            admin_message = f"Atomic rejected the request (HTTP {status}){reason}"
        super().__init__(admin_message, status=status, detail=detail)


class AtomicNotFound(AtomicError):
    user_message = "Atomic has no such record."
    admin_message = "Atomic has no such record."
    with_incident = False


def admin_text(exc: BaseException) -> str:
    """What admins read of a failure (job status): Atomic's own text and incident for an
    AtomicError, the user message of another AppError, else only the exception type."""
    if isinstance(exc, AtomicError):
        return str(exc)
    return exc.user_message if isinstance(exc, AppError) else type(exc).__name__


class FlowDisabled(AppError):
    """The Action Flow may not be sent from Slack (disabled, unpublished or gone from Atomic)."""

    def __init__(self, flow_name: str, reason: str = "it is no longer enabled") -> None:
        self.flow_name = flow_name
        self.reason = reason
        super().__init__(f"The Action Flow “{flow_name}” can't be sent: {reason}.")
