"""Computed attributes: what providers derive from the whole stack, added at resolve time.

A provider's ``computed_attributes(stack, resource)`` (see :class:`stackform.provider.BaseProvider`)
sees the resolved stack, pipelines included, and returns attributes merged into the resource's
desired attributes, so plan, apply, state and a saved plan's digest all see them like any other.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackform.config.model import ResolvedStack
from stackform.diagnostics import Diagnostic, Diagnostics
from stackform.errors import StackformError
from stackform.provider import ComputesAttributes
from stackform.registry import Registry


def with_computed(stack: ResolvedStack, registry: Registry, diags: Diagnostics,
                  locate: Any) -> ResolvedStack:
    """Add each provider's computed attributes (derived from the whole stack) to its
    resources; a provider's objection is reported at its block."""
    resources = dict(stack.resources)
    for address, resource in stack.resources.items():
        provider = registry.get(resource.kind)
        if not isinstance(provider, ComputesAttributes):
            continue
        try:
            extra = dict(provider.computed_attributes(stack, resource))
        except StackformError as exc:
            diags.add(Diagnostic(exc.reason, path=address,
                                 location=locate((resource.kind, resource.name), True),
                                 hint=exc.hint))
            continue
        if not extra:
            continue
        undeclared = set(extra) - set(provider.computed_fields)
        clashing = set(extra) & set(provider.Config.model_fields)
        if undeclared or clashing:
            raise StackformError(
                f"provider {resource.kind} computed attributes "
                f"{', '.join(sorted(undeclared | clashing))} it does not declare in "
                "computed_fields, or that are Config fields",
                hint="this is a bug of the provider; report it to its authors")
        resources[address] = replace(resource, attributes={**resource.attributes, **extra})
    diags.raise_if_errors()
    return replace(stack, resources=resources)
