"""The event-driven pattern: an EventBridge bus, rules, SQS queues, SNS topics and consumers.

Everything about the pattern lives here or is named here:
- `component.py`: the component and its Args (what it creates and why);
- `config.py`: the schema of the `aws-patterns:eventDriven` block;
- `defaults.py`: that block's values per environment profile;
- `docs/patterns/event-driven.md`: architecture, config keys, outputs, security model, the AWS traps it guards;
- `lambdas/order_processor/`: the consumer the repository ships;
- tests: `tests/test_event_driven.py`, `tests/test_event_driven_config.py`, `tests/test_event_driven_app.py`.
The Well-Architected rules (policy/wellarchitected.py) and the price table (tools/prices.yaml)
are keyed by AWS resource type and shared by every pattern (docs/adr/0011-a-package-per-pattern.md).
"""

from components.event_driven.component import EventDriven, EventDrivenArgs
from components.event_driven.config import EventDrivenConfig, bus_in_the_stack_region
from components.event_driven.defaults import DEFAULTS
from components.schema import Pattern

PATTERN = Pattern(
    key="eventDriven",
    model=EventDrivenConfig,
    defaults=DEFAULTS,
    title="Event-driven",
    docs="docs/patterns/event-driven.md",
    in_vpc=False,
    checks=(bus_in_the_stack_region,),
)

__all__ = ["PATTERN", "EventDriven", "EventDrivenArgs"]
