"""The multi-tier pattern: internet → ALB → Auto Scaling web tier → PostgreSQL.

Everything about the pattern lives here or is named here:
- `component.py`: the component and its Args (what it creates and why);
- `config.py`: the schema of the `aws-patterns:multiTier` block;
- `defaults.py`: that block's values per environment profile;
- `docs/patterns/multi-tier.md`: architecture, config keys, outputs, security model, the AWS traps it guards;
- `apps/web/`: the web app the instances run, its unit file and boot script;
- tests: `tests/test_multi_tier.py`, `tests/test_multi_tier_bootstrap.py`, `tests/test_web_app.py`.
The Well-Architected rules (policy/wellarchitected.py) and the price table (tools/prices.yaml)
are keyed by AWS resource type and shared by every pattern (docs/adr/0011-a-package-per-pattern.md).
"""

from components.multi_tier.component import MultiTier, MultiTierArgs
from components.multi_tier.config import MultiTierConfig, example_domain, fits_the_stack
from components.multi_tier.defaults import DEFAULTS
from components.schema import Pattern

PATTERN = Pattern(
    key="multiTier",
    model=MultiTierConfig,
    defaults=DEFAULTS,
    title="Multi-tier",
    docs="docs/patterns/multi-tier.md",
    in_vpc=True,
    checks=(fits_the_stack,),
    placeholders=(example_domain,),
)

__all__ = ["PATTERN", "MultiTier", "MultiTierArgs"]
