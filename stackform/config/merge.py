"""The one deep-merge of stack values: an environment's override over a block, a block over the
block it ``extends``, the stack's ``[env]`` under an environment's and a block's.

Tables merge key by key; anything else (arrays too) is replaced whole. Each merge records where
the values it replaced are written (``origins``), so a diagnostic about a merged value points at
the line that wrote it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackform.config.interpolate import Source
from stackform.resource import KeyPath


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any], rel: KeyPath, src: KeyPath,
               origins: dict[KeyPath, KeyPath]) -> dict[str, Any]:
    """``over`` merged into ``base``: tables merge, anything else (arrays too) is replaced.
    ``origins`` records, for each replaced value, where ``over`` wrote it (``src``)."""
    out = dict(base)
    for key, value in over.items():
        current = out.get(key)
        if isinstance(value, dict) and isinstance(current, dict):
            out[key] = deep_merge(current, value, (*rel, key), (*src, key), origins)
        else:
            out[key] = value
            origins[(*rel, key)] = (*src, key)
    return out


def source_fn(block_path: KeyPath, origins: Mapping[KeyPath, KeyPath]) -> Source:
    """Where a value of a merged block is written: the deepest recorded origin of its path,
    else the block itself."""
    if not origins:
        return lambda rel: (*block_path, *rel)

    def source(rel: KeyPath) -> KeyPath:
        for i in range(len(rel), 0, -1):
            found = origins.get(rel[:i])
            if found is not None:
                return (*found, *rel[i:])
        return (*block_path, *rel)

    return source
