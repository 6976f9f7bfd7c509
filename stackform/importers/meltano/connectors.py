"""The package of a plugin Meltano names only by hub name and variant, when stackform knows it.

stackform's connector index (``stackform/data/connectors.json``) is read when the installed
stackform has one; without it, or for a connector it does not list, the import leaves a
placeholder and reports it. The index is read loosely (a list of entries, or a mapping of
entries by name, each with ``name``, optional ``variant`` and ``pip_url``) so that the
importer does not break when the index gains fields.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

INDEX = Path(__file__).resolve().parents[2] / "data" / "connectors.json"


@cache
def _entries() -> tuple[dict[str, Any], ...]:
    try:
        data = json.loads(INDEX.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ()
    if isinstance(data, dict):
        data = data.get("connectors", data)
        if isinstance(data, dict):
            data = [{"name": k, **v} for k, v in data.items() if isinstance(v, dict)]
    return tuple(e for e in data if isinstance(e, dict)) if isinstance(data, list) else ()


def lookup(name: str, variant: Any, inherit_from: str | None) -> str | None:
    """The ``pip_url`` of a hub plugin (by its name or the hub plugin it inherits from)."""
    for wanted in (name, inherit_from):
        if not wanted:
            continue
        matches = [e for e in _entries() if e.get("name") == wanted
                   and isinstance(e.get("pip_url"), str)]
        if variant:
            matches = [e for e in matches if e.get("variant") in (None, variant)] or []
        if len(matches) >= 1:
            return str(matches[0]["pip_url"])
    return None
