"""A fault-injection soak of two app instances on one PostgreSQL (docs/reliability.md).

    uv run python -m benchmarks.soak [--seconds N --sends N --events N --lookups N --seed N]
                                     [--kills N --cuts N --refusals N] [--no-fail] [--quiet]

Two real app processes, a fault-injecting proxy in front of the standalone Atomic emulator, a
FakeSlack answering some calls with 429 and 500; instances SIGKILLed and restarted, database
connections cut and refused; sends, webhook events and lookups all through. Then one table of
losses and duplicates (each targeted at 0): exit 1 when one is missed (0 with --no-fail).

Modules: config (settings), cluster (instances, crashes, database faults), workload (what is
sent), drivers (how it is sent and what came back), report (the figures), run (the whole).
"""

from .config import SoakConfig
from .report import Outcome
from .run import main, run_soak

__all__ = ["Outcome", "SoakConfig", "main", "run_soak"]
