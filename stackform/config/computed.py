"""What providers derive from the whole stack, added at resolve time.

First the values blocks offer others (:class:`~stackform.provider.Exports`, e.g. the schema a
dbt block builds into), then the blocks a resource depends on beyond ``depends_on``
(:class:`~stackform.provider.DependsOnBlocks`), so that computed attributes may read both.

A provider's ``computed_attributes(stack, resource)``
(:class:`~stackform.provider.ComputesAttributes`) sees the resolved stack, pipelines included,
and returns attributes merged into the resource's desired attributes, so plan, apply, state and
a saved plan's digest all see them like any other. A provider's
``pipeline_dependencies(stack, resource)`` (:class:`~stackform.provider.DependsOnPipelines`)
names the pipelines a resource depends on, which the dependency graph
(:func:`stackform.graph.stack_edges`) turns into edges.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackform.config.model import ResolvedStack
from stackform.diagnostics import Diagnostic, Diagnostics
from stackform.errors import StackformError
from stackform.provider import (
    ComputesAttributes,
    DependsOnBlocks,
    DependsOnPipelines,
    Exports,
    Provider,
)
from stackform.registry import Registry


def with_computed(stack: ResolvedStack, registry: Registry, diags: Diagnostics,
                  locate: Any) -> ResolvedStack:
    """Add the values blocks export to others, each provider's computed attributes (derived
    from the whole stack) to its resources, and the pipelines and blocks each depends on; a
    provider's objection is reported at its block."""
    stack = _with_exports(stack, registry, diags, locate)
    stack = _with_block_dependencies(stack, registry, diags, locate)
    resources = dict(stack.resources)
    needs: dict[str, tuple[str, ...]] = {}
    # A runtime protocol check costs more than the rest of a block: once per kind, not block.
    computing: dict[str, ComputesAttributes | None] = {}
    depending: dict[str, DependsOnPipelines | None] = {}
    for address, resource in stack.resources.items():
        if resource.kind not in computing:
            provider = registry.get(resource.kind)
            computing[resource.kind] = (provider if isinstance(provider, ComputesAttributes)
                                        else None)
            depending[resource.kind] = (provider if isinstance(provider, DependsOnPipelines)
                                        else None)
        try:
            if (pipelines := depending[resource.kind]) is not None:
                found = _pipelines(stack, address, pipelines.pipeline_dependencies(stack,
                                                                                  resource))
                if found:
                    needs[address] = found
            if (computes := computing[resource.kind]) is None:
                continue
            extra = dict(computes.computed_attributes(stack, resource))
        except StackformError as exc:
            # Located only now: a location builds the stack file's source map.
            where = locate((resource.kind, resource.name), True)
            diags.add(Diagnostic(exc.reason, path=address, location=where, hint=exc.hint))
            continue
        if not extra:
            continue
        _check_declared(resource.kind, computes, registry.get(resource.kind), extra)
        resources[address] = replace(resource, attributes={**resource.attributes, **extra})
    diags.raise_if_errors()
    return replace(stack, resources=resources, pipeline_dependencies=needs)


def _pipelines(stack: ResolvedStack, address: str, names: Any) -> tuple[str, ...]:
    found = tuple(sorted({str(name) for name in names}))
    unknown = [name for name in found if name not in stack.pipelines]
    if unknown:
        raise StackformError(
            f"{address} depends on pipelines the stack does not have: {', '.join(unknown)}",
            hint="this is a bug of the provider; report it to its authors")
    return found


def _check_declared(kind: str, computes: ComputesAttributes, provider: Provider,
                    extra: dict[str, Any]) -> None:
    undeclared = set(extra) - set(computes.computed_fields)
    clashing = set(extra) & set(provider.Config.model_fields)
    if undeclared or clashing:
        raise StackformError(
            f"provider {kind} computed attributes "
            f"{', '.join(sorted(undeclared | clashing))} it does not declare in "
            "computed_fields, or that are Config fields",
            hint="this is a bug of the provider; report it to its authors")


def _capable(registry: Registry, stack: ResolvedStack, protocol: type) -> dict[str, Any]:
    """The providers of the stack's kinds that have ``protocol``, by kind (checked once)."""
    found: dict[str, Any] = {}
    for kind in {r.kind for r in stack.resources.values()}:
        provider = registry.get(kind)
        if isinstance(provider, protocol):
            found[kind] = provider
    return found


def _with_exports(stack: ResolvedStack, registry: Registry, diags: Diagnostics,
                  locate: Any) -> ResolvedStack:
    providers: dict[str, Exports] = _capable(registry, stack, Exports)
    if not providers:
        return stack
    exports: dict[str, dict[str, Any]] = {}
    for address, resource in stack.resources.items():
        if (provider := providers.get(resource.kind)) is None:
            continue
        try:
            values = dict(provider.exports(stack, resource))
            undeclared = set(values) - set(provider.exported_fields)
            if undeclared:
                raise StackformError(
                    f"provider {resource.kind} exports {', '.join(sorted(undeclared))}, which "
                    "it does not declare in exported_fields",
                    hint="this is a bug of the provider; report it to its authors")
        except StackformError as exc:
            where = locate((resource.kind, resource.name), True)
            diags.add(Diagnostic(exc.reason, path=address, location=where, hint=exc.hint))
            continue
        exports[address] = values
    diags.raise_if_errors()
    return replace(stack, exports=exports)


def _with_block_dependencies(stack: ResolvedStack, registry: Registry, diags: Diagnostics,
                             locate: Any) -> ResolvedStack:
    providers: dict[str, DependsOnBlocks] = _capable(registry, stack, DependsOnBlocks)
    if not providers:
        return stack
    needs: dict[str, tuple[str, ...]] = {}
    for address, resource in stack.resources.items():
        if (provider := providers.get(resource.kind)) is None:
            continue
        try:
            found = tuple(sorted({str(a) for a in provider.block_dependencies(stack, resource)}))
            unknown = [a for a in found if a not in stack.resources or a == address]
            if unknown:
                raise StackformError(
                    f"{address} depends on blocks the stack does not have: {', '.join(unknown)}",
                    hint="add the block, or fix the setting of this block that names it")
        except StackformError as exc:
            where = locate((resource.kind, resource.name), True)
            diags.add(Diagnostic(exc.reason, path=address, location=where, hint=exc.hint))
            continue
        if found:
            needs[address] = found
    diags.raise_if_errors()
    return replace(stack, block_dependencies=needs)
