"""The package of a plugin Meltano names only by hub name and variant, when stackform knows it:
stackform's offline connector index (:mod:`stackform.plugins.index`). For a connector it does
not list, the import leaves a placeholder and reports it.
"""

from __future__ import annotations

from typing import Any

from stackform.plugins import index


def lookup(name: str, variant: Any, inherit_from: str | None) -> str | None:
    """The ``pip_url`` of a hub plugin (by its name or the hub plugin it inherits from)."""
    for wanted in (name, inherit_from):
        if not wanted:
            continue
        matches = [e for e in index.entries() if e.name == wanted]
        if variant:
            matches = [e for e in matches if e.variant in ("", variant)]
        if matches:
            return matches[0].pip_url
    return None
