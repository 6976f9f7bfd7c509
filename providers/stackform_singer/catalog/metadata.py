"""The ``metadata`` extra: flattening it to rules and applying them to one stream.

The format is described in :mod:`stackform_singer.catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from stackform_singer.catalog.streams import SelectionError, _dotted, _StreamView


def _metadata_rules(
    metadata: Mapping[str, Mapping[str, Any]],
) -> list[tuple[str, str | None, str, Any]]:
    """Flatten the ``metadata`` extra to ``(stream_pattern, property_pattern, key, value)``."""
    out: list[tuple[str, str | None, str, Any]] = []
    errors: list[str] = []

    def walk(stream_pat: str, prop: str | None, body: Mapping[str, Any]) -> None:
        for key, value in body.items():
            key = str(key)
            if key == "properties" and isinstance(value, Mapping):
                for name, sub in value.items():
                    if not isinstance(sub, Mapping):
                        errors.append(
                            f"metadata.{stream_pat}: properties.{name} must be a table of keys"
                        )
                        continue
                    walk(stream_pat, f"{prop}.{name}" if prop else str(name), sub)
            elif isinstance(value, Mapping):
                walk(stream_pat, f"{prop}.{key}" if prop else key, value)
            else:
                out.append((stream_pat, prop, key, value))

    for stream_pat, body in metadata.items():
        if not isinstance(body, Mapping):
            errors.append(f"metadata.{stream_pat}: expected a table of metadata keys")
            continue
        walk(str(stream_pat), None, body)
    if errors:
        raise SelectionError(errors)
    return out


def _apply_metadata(view: _StreamView, meta_rules: list[tuple[str, str | None, str, Any]]) -> None:
    """Set each flattened metadata rule on the stream and properties of ``view`` it matches."""
    for stream_pat, prop_pat, key, value in meta_rules:
        if not fnmatchcase(view.id, stream_pat):
            continue
        if prop_pat is None:
            view.set((), key, value)
            continue
        for path in view.paths:
            if fnmatchcase(_dotted(path), prop_pat):
                view.set(path, key, value)
