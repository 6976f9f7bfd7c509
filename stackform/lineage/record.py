"""Recording lineage at apply: each applied resource's fragment, and those downstream of it
whose upstream lineage changed, go into state outputs (:data:`~stackform.lineage.join.
OUTPUT_KEY`), so the next plan reuses them instead of asking the providers again."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace

from stackform.config.model import ResolvedStack
from stackform.lineage.flow import data_upstream
from stackform.lineage.join import OUTPUT_KEY, Entry, join, recordable
from stackform.provider import Context
from stackform.provider_lineage import ProvidesLineage
from stackform.resource import ResourceState


def with_lineage(ctx: Context, provider_of: Callable[[str], object], stack: ResolvedStack,
                 states: Mapping[str, ResourceState], applied: Iterable[str]
                 ) -> list[ResourceState]:
    """The states whose recorded lineage changes: those ``applied`` now, and any whose
    recorded upstream digest no longer matches."""
    if not any(isinstance(provider_of(kind), ProvidesLineage)
               for kind in {s.kind for s in states.values()}):
        return []  # no provider of these kinds gives lineage: nothing to work out or record
    fresh = set(applied)
    upstream, _problem = data_upstream(stack, {a: s.dependencies for a, s in states.items()})
    entries = {a: Entry(s.kind, stack.resources.get(a), s.outputs,
                        tuple(upstream.get(a, s.dependencies)), fresh=a in fresh)
               for a, s in states.items()}
    def redactor() -> Callable[[str], str]:
        from stackform.redact import stack_redactor

        return stack_redactor(stack)

    joined = join(ctx, entries, provider_of, redactor=redactor)
    out = []
    for address, fragment in sorted(joined.fragments.items()):
        state = states[address]
        value = recordable(fragment, joined.digests[address],
                           joined.confirmed.get(address, ""))
        if state.outputs.get(OUTPUT_KEY) != value:
            out.append(replace(state, outputs={**state.outputs, OUTPUT_KEY: value}))
    return out
