"""Finding the block a connector command names (``stackform catalog orders``, ``stackform
invoke transformers.dbt``) and the provider capability the command needs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError
from stackform.provider import Context, make_context
from stackform.resource import Resource, ResourceState, fingerprinter
from stackform.session import Session


@dataclass(frozen=True)
class Found:
    """The block, its provider (which has the capability asked for), its state and a context
    for the provider, in the session's environment."""

    resource: Resource
    provider: Any
    prior: ResourceState | None
    ctx: Context


def find_capable(session: Session, name: str, capability: type, command: str,
                 what: str) -> Found:
    """The block ``name`` (``kind.name``, or a name only one block of a capable kind has)
    whose provider is a ``capability``; a clear error naming those that are, otherwise.
    ``what`` names what the command needs, for the errors: ``"catalog"``."""
    stack, registry = session.stack, session.registry
    capable = sorted(a for a, r in stack.resources.items()
                     if isinstance(registry.get(r.kind), capability))
    listed = (f"blocks that have one: {', '.join(capable)}" if capable
              else f"no block of this stack has a {what}")
    address = name
    if name not in stack.resources and "." not in name:
        named = [a for a in capable if a.partition(".")[2] == name] or [
            a for a in stack.resources if a.partition(".")[2] == name]
        if len(named) > 1:
            raise StackformError(f"{name!r} names {' and '.join(named)}: say which",
                                 hint=f"stackform {command} {named[0]}")
        address = named[0] if named else name
    resource = stack.resources.get(address)
    if resource is None:
        near = did_you_mean(name, [*capable, *(a.partition(".")[2] for a in capable)])
        raise StackformError(f"no block {name!r} in the stack (environment {stack.env})",
                             hint=near or listed)
    provider = registry.get(resource.kind)
    if not isinstance(provider, capability):
        raise StackformError(f"{address}: {resource.kind} blocks have no {what}", hint=listed)
    state = session.read_state()
    prior = state.resources.get(address) if state else None
    ctx = make_context(stack, fingerprinter(state.lineage if state else "none"), session.log)
    return Found(resource, provider, prior, ctx)
