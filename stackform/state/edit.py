"""Edits of recorded state that change no resource: ``state rm`` and ``state mv``.

Each returns the state to write, or refuses with what is wrong; the caller holds the lock and
writes the result as the next serial.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from stackform.errors import StackformError
from stackform.resource import split_address
from stackform.state.model import State


def without_resources(state: State | None, addresses: Sequence[str]) -> State:
    """``state`` forgetting ``addresses``; every one must be recorded."""
    missing = [a for a in addresses if not state or a not in state.resources]
    if missing or state is None:
        raise StackformError(f"not in state: {', '.join(missing)}",
                             hint="see `stackform state list`")
    new = state
    for address in addresses:
        new = new.without_resource(address)
    return new


def with_resource_moved(state: State | None, source: str, destination: str) -> State:
    """``state`` with the resource recorded at ``source`` recorded at ``destination`` (a
    renamed block), so it is not re-created; the kind cannot change."""
    if state is None or source not in state.resources:
        raise StackformError(f"no resource {source!r} in state",
                             hint="see `stackform state list`")
    if destination in state.resources:
        raise StackformError(f"{destination!r} is already in state")
    kind = split_address(source)[0]
    if kind != split_address(destination)[0]:
        raise StackformError("a resource cannot move to another kind",
                             hint=f"keep the kind: {kind}.NEW_NAME")
    moved = replace(state.resources[source], address=destination)
    return state.without_resource(source).with_resource(moved)
