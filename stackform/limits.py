"""Limits shared by everything stackform reads from a user or a store.

One copy of each, so that what the stack file may hold is exactly what a state document may
hold: a stack that validates can always be applied, and its state read back.
"""

from __future__ import annotations

from typing import Any

MAX_NESTING = 64
"""Tables and arrays nested inside one resource's attributes (or outputs). Real configurations
nest a few levels; the limit keeps every recursive walk (masking, diffing, rendering) far from
Python's recursion limit, so a hostile document is an error, never a crash."""


def too_deep(root: Any, limit: int = MAX_NESTING) -> tuple[str | int, ...] | None:
    """The key path of the first container nested deeper than ``limit`` inside ``root``, or
    ``None``. Iterative, so a hostile depth cannot exhaust the stack of the check itself."""
    todo: list[tuple[Any, tuple[str | int, ...]]] = [(root, ())]
    while todo:
        value, path = todo.pop()
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in items:
            if isinstance(child, dict | list):
                if len(path) + 1 >= limit:
                    return (*path, key)
                todo.append((child, (*path, key)))
    return None
