"""Which resources' data flows into which: the upstream of each resource for lineage.

Resource dependencies say what must be applied first; data flows along pipelines too: each
step of a pipeline reads what the steps before it wrote (a loader, the extractor's streams; dbt,
the loader's tables), though a pipeline's steps do not depend on one another. A resource's data
upstream is therefore its dependencies and every step before it in any pipeline; a step of a
chain (extractor, mappers, loader) reads only the steps of its own chain before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from graphlib import CycleError, TopologicalSorter

from stackform.config.model import ResolvedStack


def data_upstream(stack: ResolvedStack, dependencies: Mapping[str, tuple[str, ...]]
                  ) -> tuple[dict[str, tuple[str, ...]], str | None]:
    """For each resource, the resources whose data it reads; and a warning when pipelines
    order the same steps both ways (their order is then left out: a cycle has no lineage)."""
    upstream: dict[str, set[str]] = {a: set(d) for a, d in dependencies.items()}
    for pipeline in stack.pipelines.values():
        before: list[str] = []
        chain: list[str] = []
        for step in pipeline.steps:
            if step.chain is not None and step.bookmark is not None:
                chain = []  # a chain starts from its extractor's source, not earlier steps
            reads = chain if step.chain is not None else before
            if step.address != (before[-1] if before else None):
                upstream.setdefault(step.address, set()).update(
                    a for a in reads if a != step.address)
                before.append(step.address)
            if step.chain is not None:
                chain.append(step.address)
    try:
        tuple(TopologicalSorter(upstream).static_order())
    except CycleError as exc:
        cycle = " -> ".join(exc.args[1])
        return ({a: tuple(sorted(d)) for a, d in dependencies.items()},
                f"pipelines order {cycle} both ways: their steps' lineage is left out")
    return {a: tuple(sorted(d)) for a, d in upstream.items()}, None
