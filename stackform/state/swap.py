"""Compare-and-swap rules every state backend applies before it replaces a stored state."""

from __future__ import annotations

from stackform.errors import StateConflictError
from stackform.state.model import State


def check_swap(env: str, stored: State | None, state: State, prior: State | None) -> None:
    """Refuse a write unless the stored state is exactly the one the writer read."""
    hint = "another run changed this state since it was read; run plan again"
    if prior is None:
        if stored is not None:
            raise StateConflictError(
                f"state for {env!r} already exists (lineage {stored.lineage}, serial "
                f"{stored.serial}), but this write expected none",
                hint=hint,
            )
        return
    if stored is None:
        raise StateConflictError(
            f"state for {env!r} was removed since it was read (expected lineage "
            f"{prior.lineage}, serial {prior.serial})",
            hint=hint,
        )
    if stored.lineage != prior.lineage:
        raise StateConflictError(
            f"state for {env!r} has lineage {stored.lineage} (serial {stored.serial}), but "
            f"this write expected lineage {prior.lineage} (serial {prior.serial})",
            hint="it is another state (deleted and re-created, or pushed); run plan again",
        )
    if stored.serial != prior.serial:
        raise StateConflictError(
            f"state for {env!r} (lineage {stored.lineage}) is at serial {stored.serial}, but "
            f"this write expected serial {prior.serial}",
            hint=hint,
        )
    if state.lineage != prior.lineage:
        raise StateConflictError(
            f"refusing to replace state for {env!r} of lineage {prior.lineage} with a state "
            f"of lineage {state.lineage}",
            hint="a state of another lineage is another environment's history; "
            "delete this one first if that is really meant",
        )
    if state.serial <= prior.serial:
        raise StateConflictError(
            f"refusing to write serial {state.serial} of {env!r} over serial {prior.serial} "
            f"(lineage {prior.lineage}): a write must increase the serial",
            hint="write State.next() of the state read",
        )
