"""After a successful run: the providers that :class:`~stackform.provider.ConfirmsLineage` read
what the run landed from the warehouse's own catalog (docs/lineage.md), so that the lineage
names what is really there rather than the loader's guessed normalisation.

A warehouse that does not answer is a warning in the run's log and on the console; the run
stays successful and the lineage keeps its guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from stackform.errors import StackformError
from stackform.provider import (
    RunContext,
    RunStep,
)
from stackform.provider_lineage import ConfirmsLineage


def confirm_after_run(run: RunContext, steps: Iterable[RunStep]) -> list[str]:
    """Ask each step's provider to confirm its lineage; the warnings, one per step that could
    not (already said and logged)."""
    warnings: list[str] = []
    seen: set[str] = set()
    for step in steps:
        address = step.resource.address
        if address in seen or not isinstance(step.provider, ConfirmsLineage):
            continue
        seen.add(address)
        try:
            step.provider.confirm_lineage(run, step)
        except StackformError as exc:
            warnings.append(f"warning: {address}: lineage not confirmed against the "
                            f"warehouse: {exc.reason}")
        except Exception as exc:  # a provider's bug must not fail a run that succeeded
            warnings.append(f"warning: {address}: lineage not confirmed against the "
                            f"warehouse: {type(exc).__name__}: {exc}")
        else:
            run.log(f"# {address}: lineage confirmed against the warehouse's catalog")
    for warning in warnings:
        run.log(f"# {warning}")
        run.say(warning)
    return warnings
