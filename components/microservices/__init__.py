"""The microservices pattern: one REST API in front of independent services, each with its own table.

Everything about the pattern lives here or is named here:
- `component.py`: the component and its Args (what it creates and why);
- `config.py`: the schema of the `aws-patterns:microservices` block;
- `defaults.py`: that block's values per environment profile;
- `docs/patterns/microservices.md`: architecture, config keys, outputs, security model, the AWS traps it guards;
- `lambdas/users/`, `lambdas/orders/`: the two services the repository ships;
- tests: `tests/test_microservices.py` (wiring), `tests/test_microservices_app.py` (handlers).
The Well-Architected rules (policy/wellarchitected.py) and the price table (tools/prices.yaml)
are keyed by AWS resource type and shared by every pattern (docs/adr/0011-a-package-per-pattern.md).
"""

from components.microservices.component import Microservices, MicroservicesArgs
from components.microservices.config import MicroservicesConfig
from components.microservices.defaults import DEFAULTS
from components.schema import Pattern

PATTERN = Pattern(
    key="microservices",
    model=MicroservicesConfig,
    defaults=DEFAULTS,
    title="Microservices",
    docs="docs/patterns/microservices.md",
    in_vpc=False,
    checks=(),
)

__all__ = ["PATTERN", "Microservices", "MicroservicesArgs"]
