"""How a submitted value reads, shared by the Block Kit text (blocks/format.py) and the card
previews (bot/render/values.py), so a number or a checkbox shows the same in both."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any


def format_number(value: Any) -> str:
    """`1,234`, `1,234.5`, `0.25`; text that is not a number comes back unchanged."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return f"{int(value):,}"
        return f"{value:,}"
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return str(value)
    if not number.is_finite():
        return str(value)
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number.normalize():,f}"


def truthy(value: Any) -> bool:
    """Whether a submitted switch or checkbox value means checked (`true`, `yes`, `on`, `1`...)."""
    if isinstance(value, str):
        return value.strip().lower() in {"true", "yes", "on", "1", "checked"}
    return bool(value)
