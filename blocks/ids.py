"""Every command, action_id, callback_id and fixed block_id the app uses (handlers register on
these)."""

from __future__ import annotations

from enum import StrEnum


class Command(StrEnum):
    CUSTOMER = "/customer"
    CUSTOMER_CENTER = "/customer-center"


class ActionId(StrEnum):
    VIEW_CUSTOMER = "customer.view"  # button value: CustomerRef JSON


class CallbackId(StrEnum):
    pass


class BlockId(StrEnum):
    CUSTOMER_HEADER = "customer.header"
    CUSTOMER_PROFILE = "customer.profile"
    CUSTOMER_COUNTS = "customer.counts"
    MATCHES = "customer.matches"
    MATCH = "customer.match."  # + index


class Event(StrEnum):
    """Events API event types the app subscribes to (manifest.yml bot_events)."""

    APP_HOME_OPENED = "app_home_opened"
