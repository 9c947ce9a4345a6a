"""The hybrid pattern: a site-to-site VPN between the VPC and an on-premises network.

Everything about the pattern lives here or is named here:
- `component.py`: the component and its Args (what it creates and why);
- `config.py`: the schema of the `aws-patterns:hybrid` block;
- `defaults.py`: that block's values per environment profile;
- `docs/patterns/hybrid.md`: architecture, config keys, outputs, security model, the AWS traps it guards;
- tests: `tests/test_hybrid.py`, `tests/test_hybrid_config.py`.
The Well-Architected rules (policy/wellarchitected.py) and the price table (tools/prices.yaml)
are keyed by AWS resource type and shared by every pattern (docs/adr/0011-a-package-per-pattern.md).
"""

from components.hybrid.component import Hybrid, HybridArgs
from components.hybrid.config import HybridConfig, documentation_address, on_premises_outside_the_vpc
from components.hybrid.defaults import DEFAULTS
from components.schema import Pattern

PATTERN = Pattern(
    key="hybrid",
    model=HybridConfig,
    defaults=DEFAULTS,
    title="Hybrid",
    docs="docs/patterns/hybrid.md",
    in_vpc=True,
    checks=(on_premises_outside_the_vpc,),
    placeholders=(documentation_address,),
)

__all__ = ["PATTERN", "Hybrid", "HybridArgs"]
