"""The serverless pattern: an upload pipeline (HTTP API, Lambda, DynamoDB, S3).

Everything about the pattern lives here or is named here:
- `component.py`: the component and its Args (what it creates and why);
- `config.py`: the schema of the `aws-patterns:serverless` block;
- `defaults.py`: that block's values per environment profile;
- `docs/patterns/serverless.md`: architecture, config keys, outputs, security model, the AWS traps it guards;
- `lambdas/uploads_intake/`, `lambdas/uploads_processor/`: the two functions;
- tests: `tests/test_serverless.py`, `tests/test_serverless_config.py`, `tests/test_serverless_app.py`.
The Well-Architected rules (policy/wellarchitected.py) and the price table (tools/prices.yaml)
are keyed by AWS resource type and shared by every pattern (docs/adr/0011-a-package-per-pattern.md).
"""

from components.schema import Pattern
from components.serverless.component import Serverless, ServerlessArgs
from components.serverless.config import ServerlessConfig
from components.serverless.defaults import DEFAULTS

PATTERN = Pattern(
    key="serverless",
    model=ServerlessConfig,
    defaults=DEFAULTS,
    title="Serverless",
    docs="docs/patterns/serverless.md",
    in_vpc=False,
    checks=(),
)

__all__ = ["PATTERN", "Serverless", "ServerlessArgs"]
