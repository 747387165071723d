"""`python -m benchmarks.soak`: see benchmarks/soak/__init__.py and docs/reliability.md."""

from benchmarks.soak.run import main

raise SystemExit(main())
