"""Which values of a resolved block are secret, and a warning for a secret written in the open.

A value is sensitive when it comes from a ``${secret...}`` (:func:`map_sensitive` turns those
input paths into paths of the dumped attributes) or sits under a key that names a secret
(:mod:`stackform.secret_keys`); such a value that did not come from a secret is masked all the
same, with a warning about where it is written (:func:`not_from_secrets`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from stackform.config.interpolate import Locator, Source
from stackform.diagnostics import Diagnostic
from stackform.resource import KeyPath, format_path
from stackform.secret_keys import is_secret_key
from stackform.secrets import env_var_name


def map_sensitive(paths: set[KeyPath], attributes: Mapping[str, Any],
                  model: type[BaseModel]) -> frozenset[KeyPath]:
    """Sensitive input paths as paths into the dumped attributes.

    A path the dump does not have (an alias, a converted value) falls back to its deepest
    existing ancestor: marking too much is safe, marking too little leaks.
    """
    if not paths:
        return frozenset()
    aliases = {f.alias: n for n, f in model.model_fields.items() if f.alias}
    out: set[KeyPath] = set()
    for path in paths:
        if not path:
            out.update((k,) for k in attributes)
            continue
        head = aliases.get(str(path[0]), str(path[0]))
        if head not in attributes:
            # The field vanished from the dump (excluded or renamed): keep the whole record
            # safe rather than lose track of a secret.
            out.update((k,) for k in attributes)
            continue
        mapped: list[str | int] = [head]
        node: Any = attributes[head]
        for key in path[1:]:
            in_dict = isinstance(node, dict) and key in node
            in_list = isinstance(node, list) and isinstance(key, int) and 0 <= key < len(node)
            if not (in_dict or in_list):
                break
            node = node[key]
            mapped.append(key)
        out.add(tuple(mapped))
    return frozenset(out)


def not_from_secrets(paths: tuple[KeyPath, ...], from_secrets: frozenset[KeyPath],
                     written: Any, model: type[BaseModel], block_path: KeyPath, source: Source,
                     locate: Locator) -> list[Diagnostic]:
    """A warning for each value written under a key that names a secret without coming from a
    ``${secret...}``: a literal (committed with the stack file) or an ``${environ.X}``. It is
    masked all the same; the warning is about where it is written."""
    found: list[Diagnostic] = []
    if not paths:
        return found
    aliases = {n: f.alias for n, f in model.model_fields.items() if f.alias}
    for path in paths:
        if any(path[:i] in from_secrets for i in range(1, len(path) + 1)):
            continue  # from a secret, itself or as part of a table that did
        rel: KeyPath = (aliases.get(str(path[0]), path[0]), *path[1:])
        value = _written_at(written, rel)
        if value is None or value == "":
            continue  # a default of the provider, or nothing to hide
        key = next(str(k) for k in reversed(path) if isinstance(k, str) and is_secret_key(k))
        suggested = re.sub(r"[^a-z0-9]+", "_", f"{block_path[-1]}_{key}".lower()).strip("_")
        found.append(Diagnostic(
            f"'{key}' names a secret, but the value is not a ${{secret.NAME}} reference "
            "(plans and state mask it all the same)",
            path=format_path((*block_path, *rel)), location=locate(source(rel), False),
            hint=f"keep it out of the stack file: `stackform secret set {suggested}`, then write "
            f"\"${{secret.{suggested}}}\" (in CI, set {env_var_name(suggested)})",
            severity="warning",
        ))
    return found


def _written_at(value: Any, path: KeyPath) -> Any:
    """The value at ``path`` in the block as written (interpolated), or None."""
    for key in path:
        in_dict = isinstance(value, dict) and key in value
        in_list = isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value)
        if not (in_dict or in_list):
            return None
        value = value[key]
    return value
