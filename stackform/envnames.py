"""The rules for environment names, each written once.

Two rules, one inside the other:

- :data:`ENV_NAME_RE`, what a stack file declares and ``--env`` selects (a per-developer name
  included): lower-case letters, digits, ``-`` and ``_``. Such a name ends up in paths and in
  schema names.
- :data:`STORED_ENV_NAME`, what the state backends and the run-state stores accept as the
  environment part of a file name or an object key: wider (upper case, ``.``, ``@``, ``+``),
  so state made by other means stays readable, yet never a path of its own (no ``/``, not
  starting with ``.``, at most 200 characters).
"""

from __future__ import annotations

import re

from stackform.errors import StackformError

ENV_NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
"""Environment names of a stack (use ``fullmatch``)."""

STORED_ENV_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,199}$")
"""Environment names state and run state are kept under (use ``match``)."""

STORED_ENV_NAME_HINT = "use letters, digits, '_', '-', '.', '@' or '+', not starting with '.'"


def is_stored_env_name(name: object) -> bool:
    """Whether state and run state may be kept under ``name``."""
    return isinstance(name, str) and STORED_ENV_NAME.match(name) is not None


def check_stored_env_name(name: object, store: str,
                          error: type[StackformError] = StackformError) -> None:
    """Raise ``error`` unless state may be kept under ``name`` in ``store`` ("local state")."""
    if not is_stored_env_name(name):
        raise error(f"{name!r} is not a valid environment name for {store}",
                    hint=STORED_ENV_NAME_HINT)
