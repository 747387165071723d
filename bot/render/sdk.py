"""Which definition elements an SDK version can show (`minimumSdkVersions`,
docs/atomic-contract.md#card-definitions)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def parse_version(value: str) -> tuple[int, ...] | None:
    """`24.2.0` → (24, 2, 0); None for anything that is not a dotted version."""
    parts = value.strip().split(".")
    if not value.strip() or len(parts) > 4 or not all(p.isdigit() and len(p) < 6 for p in parts):
        return None
    return tuple(int(p) for p in parts)


def minimum_versions(definition: Mapping[str, Any]) -> dict[str, str]:
    raw = definition.get("minimumSdkVersions")
    if not isinstance(raw, Mapping):
        return {}
    return {str(k): str(v) for k, v in raw.items() if isinstance(v, str | int | float)}


@dataclass(frozen=True, slots=True)
class SdkGate:
    """What one node needs: `element` set → the node is left out; `properties` → drawn, but
    those properties are ignored by the chosen SDK."""

    element: str | None = None
    properties: tuple[tuple[str, str], ...] = ()


def gate(node: Mapping[str, Any], minimums: Mapping[str, str], sdk: str) -> SdkGate:
    """Compare a node with the definition's minimum versions; `sdk` "" means the latest."""
    chosen = parse_version(sdk) if sdk else None
    if chosen is None or not minimums:
        return SdkGate()
    kind = str(node.get("type", ""))

    def too_old(key: str) -> str | None:
        required = minimums.get(key)
        version = parse_version(required) if required else None
        return required if version is not None and chosen < version else None

    element = too_old(kind)
    if element is not None:
        return SdkGate(element=element)
    props = tuple((prop, req) for prop in node if isinstance(prop, str)
                  for req in [too_old(f"{kind}.{prop}")] if req is not None)
    return SdkGate(properties=props)
