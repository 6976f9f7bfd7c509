"""``stackform validate --deep``: every resource checked by its provider's real tool.

The schema, references and cycles are checked by resolving the stack; a *deep* check goes
further and runs what the provider would run at apply, without deploying anything (an
orchestrator imports its generated DAGs with the orchestrator it installs). Providers opt in
through :meth:`~stackform.provider.DeepValidator.validate_deep`; core knows no kind by name.
Checks of different resources and environments run in parallel threads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from stackform.config.loader import StackFile
from stackform.config.model import ResolvedStack
from stackform.diagnostics import Diagnostic
from stackform.errors import StackformError
from stackform.provider import DeepValidator, make_context
from stackform.registry import Registry
from stackform.resource import Resource, fingerprinter


@dataclass(frozen=True)
class DeepReport:
    checked: tuple[str, ...]
    """``address (env)`` of every resource a provider checked."""
    diagnostics: tuple[Diagnostic, ...]

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "error"]


def deep_check(stacks: Sequence[ResolvedStack], registry: Registry, stack_file: StackFile,
               *, log: Callable[[str], None] = lambda _m: None,
               parallelism: int = 4) -> DeepReport:
    """Run every provider's deep check on every resource of ``stacks`` (one per environment).

    A provider's :class:`StackformError` (an install that fails, say) becomes an error
    diagnostic of that resource; diagnostics without a location point at the block.
    """
    jobs: list[tuple[ResolvedStack, Resource, DeepValidator]] = []
    for stack in stacks:
        for resource in stack.resources.values():
            provider = registry.get(resource.kind)
            if isinstance(provider, DeepValidator):
                jobs.append((stack, resource, provider))

    def run(job: tuple[ResolvedStack, Resource, DeepValidator]
            ) -> tuple[str, list[Diagnostic] | None]:
        stack, resource, provider = job
        ctx = make_context(stack, fingerprinter(str(uuid.uuid4())), log)
        label = f"{resource.address} ({stack.env})"
        try:
            found = provider.validate_deep(ctx, resource)
        except StackformError as exc:
            found = [Diagnostic(f"{exc.reason} (environment {stack.env})", hint=exc.hint)]
        if found is None:
            return label, None
        where = stack_file.location((resource.kind, resource.name), True)
        return label, [d if d.location else replace(d, location=where,
                                                     path=d.path or resource.address)
                       for d in found]

    if not jobs:
        return DeepReport((), ())
    workers = max(1, min(parallelism, len(jobs)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deep") as pool:
        results = list(pool.map(run, jobs))
    checked = tuple(label for label, found in results if found is not None)
    # The same finding in several environments (a missing setting, say) is reported once.
    diagnostics = tuple(dict.fromkeys(d for _label, found in results for d in (found or [])))
    return DeepReport(checked, diagnostics)
