"""Limits shared by everything stackform reads from a user or a store.

One copy of each, so that what the stack file may hold is exactly what a state document may
hold: a stack that validates can always be applied, and its state read back.
"""

MAX_NESTING = 64
"""Tables and arrays nested inside one resource's attributes (or outputs). Real configurations
nest a few levels; the limit keeps every recursive walk (masking, diffing, rendering) far from
Python's recursion limit, so a hostile document is an error, never a crash."""
