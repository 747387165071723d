"""Keep full garbage collections off the ack path.

After startup the process holds about 135,000 objects that live until it exits (modules, classes,
SQLAlchemy and pydantic machinery). CPython's full (generation 2) collection walks all of them:
measured here, 110-290 ms each, during which no request is acked. `gc.freeze()` moves them to the
permanent generation, which collections skip (about 3 ms then). They are still freed by reference
counting; only cycles among them wait for `thaw()` (the server calls it at shutdown).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect once, then exempt every object alive now from later collections; how many."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("%d objects alive after startup exempted from garbage collection", frozen)
    return frozen


def thaw() -> None:
    """Give the frozen objects back to the collector (shutdown; tests that start many servers)."""
    gc.unfreeze()
