"""Which provider options (``--provider-option NAME``) a plan may carry: those an installed
provider takes, and one that needs refreshing only in a plan that refreshes."""

from __future__ import annotations

from collections.abc import Iterable

from stackform.errors import StackformError
from stackform.plan.builder import PlanOptions
from stackform.registry import Registry


def check_provider_options(registry: Registry, stack_kinds: Iterable[str],
                           options: PlanOptions) -> None:
    """Refuse a provider option no installed provider takes (the stack's own providers are
    asked first, so other providers are loaded only for a name they do not know), or one that
    needs refreshing in a plan that does not refresh."""
    if not options.provider_options:
        return
    kinds = sorted(set(stack_kinds))
    declared = registry.declared_options(kinds)
    if not set(options.provider_options) <= set(declared):
        declared = registry.declared_options([*kinds, *registry.kinds()])
    for name in options.provider_options:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise StackformError(f"no installed provider takes the option {name!r} "
                                 f"(options the providers take: {known})")
        kind, option = declared[name]
        if option.needs_refresh and not options.refresh:
            raise StackformError(f"the option {name} of the {kind} provider needs "
                                 "refreshing; drop --refresh=false")
