"""Entry point the Pulumi CLI runs for `pulumi preview --policy-pack policy`."""

import sys
from pathlib import Path

# The CLI runs this folder as a script; make `policy.*` importable as in the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pulumi_policy import PolicyPack

from policy.pack import PACK_NAME, build_policies, engine_environment

PolicyPack(
    name=PACK_NAME,
    policies=build_policies(engine_environment()),
    description="Well-Architected guardrails for aws-patterns: one policy per rule in policy/wellarchitected.py",
)
