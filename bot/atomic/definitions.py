"""The Atomic side's name for reading card definitions (bot/atomic/wire.py, webhook ingest).

The rules are pure and live on the domain floor, bot/domain/definitions.py, so store/ and blocks/
use them without importing the Atomic client package.
"""

from __future__ import annotations

from bot.domain.definitions import (
    INPUT_KINDS,
    INPUT_NODE_KINDS,
    guess_kind,
    input_nodes,
    input_specs,
    iter_nodes,
)

__all__ = ["INPUT_KINDS", "INPUT_NODE_KINDS", "guess_kind", "input_nodes", "input_specs",
           "iter_nodes"]
