"""Both views `make plan` prints, the preview and the up run, from one program run.

The plan shows what `pulumi preview` would show (which stack outputs are known before anything
exists) and reviews what `pulumi up` would create (ARNs and policy documents resolved, so every
rule sees what it checks). Running the program once per view doubles the cost of the plan, so
`run_plan` runs it once in up mode and works out which values a preview would not know.

What a preview knows of a new resource is what the mocks answer in preview mode (its inputs,
for most resources; never its id; a referenced stack's outputs): everything else is unknown, and
so is everything built from it. The tracking monitor asks the mocks for both answers and marks
each output property of each resource with a dependency the SDK carries along on its own: the
engine may return `propertyDependencies` for a resource's outputs, and every Output built from
that property (`apply`, `Output.all`, `concat`, `json_dumps`, another resource's input) lists
them among its resources. A property is marked unknown when the preview answer lacks it or its
input was built from an unknown.
The marks are removed from each request before it is recorded, so the Run is the one a plain up
run records.

An id carries no mark (the SDK gives it no property dependencies), so a value that depends on a
resource without any of its marks was built from its id (unknown) or its URN (known; told apart
by the URN in the value). When a value uses both a resource's id and one of its known
properties, the id is found by its text in the value.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi.runtime.settings as pulumi_settings
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs, Mocks
from pulumi.runtime.sync_await import _sync_await

from tools.offline import UNKNOWN, RecordingMonitor, Run, run_program

# Dependency URNs the tracker adds: a prefix, then the URN of the resource the property belongs to.
KNOWN = "offline-preview:known:"
COMPUTED = "offline-preview:unknown:"


def _mark(urn: str) -> tuple[str, str] | None:
    for prefix in (KNOWN, COMPUTED):
        if urn.startswith(prefix):
            return prefix, urn[len(prefix) :]
    return None


class _PreviewTwin(Mocks):
    """The run's mocks, which also say what they would answer in a preview of the same request."""

    def __init__(self, mocks: Any) -> None:
        self.mocks = mocks
        self.preview = copy.copy(mocks)
        self.preview.preview = True
        # The SDK registers resources from a thread pool; each registration runs in one thread.
        self.answers = threading.local()

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.answers.preview = self.preview.new_resource(args)
        return self.mocks.new_resource(args)

    def call(self, args: MockCallArgs) -> Any:
        return self.mocks.call(args)


class PreviewTracker(RecordingMonitor):
    """A RecordingMonitor that marks every output property as known or unknown in a preview."""

    def __init__(self, mocks: Any) -> None:
        self.twin = _PreviewTwin(mocks)
        super().__init__(self.twin)
        self.ids: dict[str, str] = {}  # URN -> id of every resource a preview does not know the id of

    def unknown(self, text: Callable[[], str], dependencies: list[str]) -> bool:
        """Whether a preview would not know a value: `text()` is the value as text, `dependencies` its resources."""
        marked: dict[str, set[str]] = {}
        for urn in dependencies:
            mark = _mark(urn)
            if mark:
                marked.setdefault(mark[1], set()).add(mark[0])
        if any(COMPUTED in kinds for kinds in marked.values()):
            return True
        for urn in dependencies:
            if urn not in self.ids:
                continue  # a mark, a component, a provider (its id is known)
            if urn not in marked:
                if urn not in text():
                    return True  # only its id can have carried it
            elif self.ids[urn] in text():
                return True
        return False

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        inputs = request.object.fields
        unknown_inputs = {
            key: self.unknown(lambda key=key: str(inputs[key]) if key in inputs else "", list(deps.urns))
            for key, deps in request.propertyDependencies.items()
        }
        self._strip_marks(request)
        self.twin.answers.preview = None
        response = super().RegisterResource(request)
        if not request.custom or self.twin.answers.preview is None:
            return response
        preview_id, preview_outputs = self.twin.answers.preview
        for key in response.object.fields:
            unknown = key not in preview_outputs or unknown_inputs.get(key, False)
            response.propertyDependencies[key].urns.append((COMPUTED if unknown else KNOWN) + response.urn)
        if not preview_id:
            self.ids[response.urn] = response.id
        return response

    @staticmethod
    def _strip_marks(request: Any) -> None:
        kept = [u for u in request.dependencies if not _mark(u)]
        del request.dependencies[:]
        request.dependencies.extend(kept)
        for deps in request.propertyDependencies.values():
            kept = [u for u in deps.urns if not _mark(u)]
            del deps.urns[:]
            deps.urns.extend(kept)


def _preview_value(value: Any, tracker: PreviewTracker) -> Any:
    if isinstance(value, pulumi.Output):
        resolved = _sync_await(value.future())
        urns = [_sync_await(r.urn.future()) for r in _sync_await(value.resources())]
        if tracker.unknown(lambda: json.dumps(resolved, default=str), urns):
            return UNKNOWN
        return _preview_value(resolved, tracker)
    if isinstance(value, dict):
        return {k: _preview_value(v, tracker) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_preview_value(v, tracker) for v in value]
    return value


@dataclass
class PlanRun:
    """One program run in up mode, and the stack outputs a preview of it would show."""

    applied: Run
    preview_outputs: dict[str, Any]


def run_plan(stack: str, config: dict[str, str], program: Callable[[], object] | None = None) -> PlanRun:
    """Run the program (or `program`, as run_program takes it) once in up mode for `stack` with
    `config`, and derive the preview's outputs."""
    trackers: list[RecordingMonitor] = []
    applied = run_program(
        stack, preview=False, config=config, monitors=trackers, program=program, monitor_class=PreviewTracker
    )
    (tracker,) = trackers
    assert isinstance(tracker, PreviewTracker)
    # The root Stack of that run stays current until the next run_program resets it.
    root = pulumi_settings.get_root_resource()
    outputs = {k: _preview_value(v, tracker) for k, v in root.outputs.items()}  # type: ignore[union-attr]
    return PlanRun(applied, outputs)
