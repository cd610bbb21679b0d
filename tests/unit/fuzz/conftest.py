"""The fuzz suite's budget.

In ``make test`` every fuzz test runs a fixed number of examples (the ``max_examples`` of
hypothesis' default profile, 100), derandomized so that CI gives the same verdict on the
same code. A test fails on any input that raises anything but the parser's own counted
error, or that takes over 100 ms on each of three runs (``within_budget`` in
``mutation.py``). For a longer run, as nightly::

    .venv/bin/pytest tests/unit/fuzz -p no:randomly --hypothesis-profile=citysoc-nightly

(20,000 random examples a test; what it finds becomes a named regression test). Seeds are
the bundled samples in ``collectors/samples/``, the repository's own rules and small
hand-written feeds, mutated byte by byte.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "citysoc-nightly",
    max_examples=20_000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
