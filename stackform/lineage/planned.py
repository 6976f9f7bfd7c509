"""The lineage section of a plan: the environment's graph as recorded, the graph the plan
leads to, and what the difference breaks (:func:`plan_impact`).

The graph before is what the last applies recorded in state. The graph after reuses each of
those fragments for a resource the plan leaves alone whose upstream lineage is unchanged, and
asks the provider again only for the rest: a no-op plan asks no provider anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from stackform.config.model import ResolvedStack
from stackform.lineage.flow import data_upstream
from stackform.lineage.impact import compare
from stackform.lineage.join import Entry, Joined, join
from stackform.plan.model import Action, ResourceChange
from stackform.provider import (
    Context,
)
from stackform.provider_lineage import ProvidesLineage
from stackform.resource import Resource, ResourceState


def before_and_after(ctx: Context, provider_of: Callable[[str], object],
                     resources: Mapping[str, Resource],
                     recorded: Mapping[str, ResourceState],
                     current: Mapping[str, ResourceState | None],
                     changes: Iterable[ResourceChange],
                     dependencies: Mapping[str, tuple[str, ...]]) -> tuple[Joined, Joined]:
    """The lineage as recorded, and as it will be once the plan is applied; ``dependencies``
    are the data upstream of each resource (:func:`~stackform.lineage.flow.data_upstream`)."""
    def redactor() -> Callable[[str], str]:
        from stackform.redact import Redactor, secret_values

        return Redactor(secret_values(resources.values()))

    acting = {c.address: c.action for c in changes}
    # What the plan changes is taken as recorded before it, even where a run confirmed since.
    before = join(ctx, {
        address: Entry(state.kind, resources.get(address), state.outputs,
                       tuple(dependencies.get(address, state.dependencies)),
                       fresh=acting.get(address, Action.NOOP) is not Action.NOOP)
        for address, state in recorded.items()
    }, provider_of, as_recorded=True, redactor=redactor)
    after_entries = {}
    for address, resource in resources.items():
        if acting.get(address) is Action.DELETE:
            continue
        prior = current.get(address) or recorded.get(address)
        if prior is None:
            continue  # new: its lineage is known once applied, and it can break nothing
        after_entries[address] = Entry(
            resource.kind, resource, prior.outputs, tuple(dependencies.get(address, ())),
            fresh=acting.get(address, Action.NOOP) is not Action.NOOP
            or current.get(address) is None)
    reuse = {a: (f, before.digests[a]) for a, f in before.fragments.items()}
    after = join(ctx, after_entries, provider_of, reuse=reuse, redactor=redactor)
    return before, after


def plan_impact(ctx: Context, provider_of: Callable[[str], object], stack: ResolvedStack,
                recorded: Mapping[str, ResourceState],
                current: Mapping[str, ResourceState | None],
                changes: Iterable[ResourceChange],
                dependencies: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """The plan's ``impact`` (:mod:`stackform.lineage.impact`), or ``{}`` when no provider of
    the stack knows any lineage."""
    resources = stack.resources
    kinds = {r.kind for r in resources.values()} | {s.kind for s in recorded.values()}
    if not any(isinstance(provider_of(k), ProvidesLineage) for k in kinds):
        return {}
    upstream, problem = data_upstream(stack, dependencies)
    before, after = before_and_after(ctx, provider_of, resources, recorded, current, changes,
                                     upstream)
    impact = compare(before.graph, after.graph)
    if problem:
        impact["warnings"].append(problem)
        impact["complete"] = False
    return impact
