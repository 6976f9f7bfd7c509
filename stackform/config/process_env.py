"""Process environment variables for the whole stack (``[env]``) and per environment
(``[environments.NAME] env``), laid under the ``env`` of every block whose provider runs
processes (:class:`~stackform.provider.TakesProcessEnv`).

The order is stack < environment < block (and the environment's override of the block last, as
for any key). Values are interpolated with the block, so ``${secret.NAME}`` reaches the process
and is masked in plans and state like any secret; a literal under a name that names a secret is
warned about where it is written, as in a block's ``config``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackform.config.interpolate import Source
from stackform.config.loader import StackFile
from stackform.resource import KeyPath

StackEnv = dict[str, tuple[Any, KeyPath]]
"""Variable name -> (value as written, where it is written)."""


def stack_env(stack_file: StackFile, env_name: str, declared: bool) -> StackEnv:
    """``[env]`` with the environment's ``env`` over it."""
    found: StackEnv = {}
    for name, value in (stack_file.data.get("env") or {}).items():
        found[name] = (value, ("env", name))
    if declared:
        section = (stack_file.data.get("environments") or {}).get(env_name) or {}
        for name, value in (section.get("env") or {}).items():
            found[name] = (value, ("environments", env_name, "env", name))
    return found


def with_stack_env(block: dict[str, Any], source: Source, field: str, env: StackEnv
                   ) -> tuple[dict[str, Any], Source]:
    """``block`` with ``env`` under its ``field`` (a block whose ``field`` is not a table is
    left for its provider's validation to report)."""
    own = block.get(field, {})
    if not env or not isinstance(own, Mapping):
        return block, source
    inherited = {name: where for name, (_, where) in env.items() if name not in own}
    merged = {**{name: value for name, (value, _) in env.items()}, **own}

    def located(rel: KeyPath) -> KeyPath:
        if len(rel) >= 2 and rel[0] == field and rel[1] in inherited:
            return (*inherited[str(rel[1])], *rel[2:])
        return source(rel)

    return {**block, field: merged}, located
