"""The registry of patterns: the one list the config schema, the profiles, the alarms, the
dashboard and the docs all read. A new pattern is a package under components/ (see any of the
five) plus one line here and its block in __main__.py.

The order is the order of the config reference, the dashboard sections and the docs.
"""

from __future__ import annotations

from components import event_driven, hybrid, microservices, multi_tier, serverless
from components.schema import Pattern

PATTERNS: tuple[Pattern, ...] = (
    microservices.PATTERN,
    event_driven.PATTERN,
    serverless.PATTERN,
    multi_tier.PATTERN,
    hybrid.PATTERN,
)
BY_KEY = {p.key: p for p in PATTERNS}
