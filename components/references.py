"""What a stack uses but does not own: other stacks' outputs, and resources passed by name.

`StackReferences` holds one `pulumi.StackReference` per stack this one reads (a network stack's
`network` output, a shared bus's `eventDriven` output). Patterns create one resource per
borrowed subnet or route table (an RDS subnet group entry, a VPN route propagation), so how many
ids there are must be known when resources are registered, never inside `apply`. The engine
reads a referenced stack's outputs in previews as well as updates, so `output()` waits for them
once, when the program starts, and returns each output twice: as a plain value, to validate it
and size loops with, and as an `Output`, so that every resource built from it depends on the
reference (docs/adr/0018-borrowed-network-and-bus.md).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime.sync_await import _sync_await

from components.defaults import NAMESPACE
from components.schema import ConfigError


@dataclass(frozen=True)
class EventBusRef:
    """An EventBridge bus by name and ARN: one the stack creates, or one it borrows."""

    name: pulumi.Input[str]
    arn: pulumi.Input[str]


@dataclass(frozen=True)
class StackOutput:
    """One output of a referenced stack: its value now, and the same value as an Output."""

    stack: str
    name: str
    value: Any
    output: pulumi.Output[Any]

    def get(self, *path: str | int) -> pulumi.Output[Any]:
        """The item at `path` inside the output, depending on the StackReference like the output."""
        return self.output.apply(lambda value: functools.reduce(lambda inner, part: inner[part], path, value))


class StackReferences:
    """The stacks this stack reads, one `StackReference` each, registered when first needed."""

    def __init__(self) -> None:
        self._references: dict[str, pulumi.StackReference] = {}

    def output(self, stack: str, name: str, key: str) -> StackOutput:
        """Output `name` of `stack` (`organization/project/stack`), which config key `key` names.

        Raises ConfigError naming `key` when the stack is this one or does not export `name`
        (a referenced stack that was never deployed has no outputs).
        """
        if self._is_this_stack(stack):
            raise ConfigError(f"{NAMESPACE}:{key}: {stack!r} is this stack; name the stack that owns what it borrows")
        if stack not in self._references:
            # The fully qualified name is the logical name, as Pulumi's own examples do, so two
            # keys naming the same stack share one reference.
            self._references[stack] = pulumi.StackReference(stack)
        reference = self._references[stack]
        # The SDK's own way to wait inside a running program (what a synchronous invoke does):
        # the read is already in flight, and the engine answers it before any resource exists.
        details = _sync_await(reference.get_output_details(name))
        value = details.value if details.value is not None else details.secret_value
        if value is None:
            raise ConfigError(
                f"{NAMESPACE}:{key}: stack {stack!r} exports no {name!r} output; deploy it first "
                f"(`pulumi up` in that stack) or check the name"
            )
        return StackOutput(stack=stack, name=name, value=value, output=reference.require_output(name))

    @staticmethod
    def _is_this_stack(stack: str) -> bool:
        organization, project, name = stack.split("/")
        own = (pulumi.get_project(), pulumi.get_stack())
        # Under mocks the organization is not set; the project and stack names then decide.
        same_organization = pulumi.get_organization() in (None, organization)
        return same_organization and (project, name) == own
