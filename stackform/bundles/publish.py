"""Apply's side: the bundle of a stack, its digest for the DAGs, and publishing it.

The digest is computed when the stack is resolved (an orchestrator pins it in the DAG it
renders, so the plan shows a DAG rewrite whenever a file a run needs changed) and again when
apply publishes the bundle, from the same files: the one published is the one the DAGs name.
Publishing happens before any resource is applied, so a DAG is never deployed naming a bundle
that is not there yet; a bundle is written once and never changed (its key is its digest).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stackform.bundles.manifest import Bundle, build, sources_of
from stackform.bundles.store import store_for
from stackform.registry import Registry

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

_REGISTRY = Registry()
"""The installed providers, which say what each resource is built from. One instance for the
digest at resolve time and the bundle at apply, so both see the same files."""


def wants_bundle(stack: ResolvedStack) -> bool:
    """A stack with a scheduled pipeline is run by workers: it publishes a bundle."""
    return any(p.schedule for p in stack.pipelines.values())


def bundle_of(stack: ResolvedStack) -> Bundle:
    return build(sources_of(stack, _REGISTRY))


def publish(stack: ResolvedStack, log: object = None) -> str | None:
    """Publish the stack's bundle beside its state (when it has none there yet); its digest,
    or ``None`` for a stack nothing schedules."""
    if not wants_bundle(stack):
        return None
    bundle = bundle_of(stack)
    store = store_for(stack.state, stack.dir, stack.name)
    if not store.exists(bundle.digest):
        store.put(bundle.digest, bundle.archive)
        if callable(log):
            log(f"published bundle {bundle.digest[:12]} to {store.where(bundle.digest)}")
    return bundle.digest
