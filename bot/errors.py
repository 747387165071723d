"""Errors whose message is safe to show to the Slack user.

AppError ─┬─ PermissionDenied
          ├─ SlackBusy (429 on the interactive path)
          ├─ NotFound ─ CustomerNotFound, CardNotFound, FlowNotFound
          ├─ InvalidInput (field errors keyed by input block_id, or one message)
          ├─ ConfigError (missing or contradictory settings)
          └─ AtomicError (raised only by bot.atomic)
                ├─ AtomicUnavailable (timeout, network, 5xx, 429)
                ├─ AtomicRejected (4xx other than 404)
                └─ AtomicNotFound (404)
"""

from __future__ import annotations


class AppError(Exception):
    """Base of every error the app raises on purpose; `user_message` is shown in Slack."""

    user_message: str = "Something went wrong. Please try again."

    def __init__(self, user_message: str | None = None) -> None:
        if user_message is not None:
            self.user_message = user_message
        super().__init__(self.user_message)


class PermissionDenied(AppError):
    user_message = "You don't have access to the Customer Center. Ask an app admin to grant it."


class SlackBusy(AppError):
    user_message = "Slack is busy right now. Please try again in a few seconds."


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


class ConfigError(AppError):
    user_message = "The app is not configured correctly."


class AtomicError(AppError):
    """A failure talking to Atomic. `status` is the HTTP status when there was one."""

    user_message = "Atomic returned an error."

    def __init__(self, user_message: str | None = None, *, status: int | None = None,
                 detail: str = "") -> None:
        self.status = status
        self.detail = detail
        super().__init__(user_message)


class AtomicUnavailable(AtomicError):
    """Timeout, connection failure, 5xx, or 429 after retries."""

    user_message = "Atomic is not reachable right now. Try again in a minute."

    def __init__(self, user_message: str | None = None, *, status: int | None = None,
                 detail: str = "", retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(user_message, status=status, detail=detail)


class AtomicRejected(AtomicError):
    """Atomic refused the request (4xx other than 404): bad credentials, missing variables…"""

    def __init__(self, user_message: str | None = None, *, status: int | None = None,
                 detail: str = "") -> None:
        if user_message is None:
            reason = f": {detail[:200]}" if detail else ""
            user_message = f"Atomic rejected the request (HTTP {status}){reason}"
        super().__init__(user_message, status=status, detail=detail)


class AtomicNotFound(AtomicError):
    user_message = "Atomic has no such record."


class FlowDisabled(AppError):
    """The Action Flow may not be sent from Slack (disabled, unpublished or gone from Atomic)."""

    def __init__(self, flow_name: str, reason: str = "it is no longer enabled") -> None:
        self.flow_name = flow_name
        self.reason = reason
        super().__init__(f"The Action Flow “{flow_name}” can't be sent: {reason}.")
