"""The ``metadata`` extra: flattening it to rules, checking its keys, applying it to a stream.

The format is described in :mod:`stackform_singer.catalog`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from stackform_singer.catalog.streams import SelectionError, _dotted, _StreamView

SINGER_METADATA_KEYS = frozenset({
    "selected", "replication-method", "replication-key", "view-key-properties", "inclusion",
    "selected-by-default", "valid-replication-keys", "schema-name",
    "forced-replication-method", "table-key-properties", "is-view", "row-count",
    "database-name", "sql-datatype",
})
"""The metadata keys of the Singer specification (discovery mode): the keys taps read."""

_NEAR_MISS = 0.85
"""How close (difflib ratio) an unknown key must be to a Singer key to be taken for a typo of
it at validate. High on purpose: taps add keys of their own (pipelinewise-tap-mysql writes
``datatype``, 0.8 from ``sql-datatype``), and validate cannot see the tap's catalog."""


@dataclass(frozen=True)
class MetadataRule:
    """One ``key = value`` of the ``metadata`` extra, flattened."""

    stream: str
    """The stream pattern (the table name under ``metadata``)."""
    prop: str | None
    """The property pattern, dotted; ``None`` for a stream-level key."""
    key: str
    value: Any
    where: tuple[str, ...]
    """The key path of ``key`` as written, below ``metadata``: ``("orders", "address",
    "city", "selected")``, or ``("orders", "properties", "id", "selected")``."""


def _metadata_rules(metadata: Mapping[str, Mapping[str, Any]]) -> list[MetadataRule]:
    """Flatten the ``metadata`` extra to one :class:`MetadataRule` per key."""
    out: list[MetadataRule] = []
    errors: list[str] = []

    def walk(stream_pat: str, prop: str | None, body: Mapping[str, Any],
             where: tuple[str, ...]) -> None:
        for key, value in body.items():
            key = str(key)
            if key == "properties" and isinstance(value, Mapping):
                for name, sub in value.items():
                    if not isinstance(sub, Mapping):
                        errors.append(
                            f"metadata.{stream_pat}: properties.{name} must be a table of keys"
                        )
                        continue
                    walk(stream_pat, f"{prop}.{name}" if prop else str(name), sub,
                         (*where, key, str(name)))
            elif isinstance(value, Mapping):
                walk(stream_pat, f"{prop}.{key}" if prop else key, value, (*where, key))
            else:
                out.append(MetadataRule(stream_pat, prop, key, value, (*where, key)))

    for stream_pat, body in metadata.items():
        if not isinstance(body, Mapping):
            errors.append(f"metadata.{stream_pat}: expected a table of metadata keys")
            continue
        walk(str(stream_pat), None, body, (str(stream_pat),))
    if errors:
        raise SelectionError(errors)
    return out


def misspelt_key(key: str) -> str | None:
    """The Singer metadata key ``key`` is a misspelling of, or None.

    ``replication_key`` and ``Replication-Key`` are always mistakes (taps read dashed,
    lower-case keys); other unknown keys only when very close to a Singer key, since a tap may
    read keys of its own.
    """
    if key in SINGER_METADATA_KEYS:
        return None
    normal = key.lower().replace("_", "-")
    if normal in SINGER_METADATA_KEYS:
        return normal
    close = difflib.get_close_matches(normal, sorted(SINGER_METADATA_KEYS), n=1,
                                      cutoff=_NEAR_MISS)
    return close[0] if close else None


def key_problems(metadata: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str, str | None]]:
    """Problems of the ``metadata`` extra that need no catalog, as ``(key path below
    metadata, message, hint)``: its shape, misspelt Singer keys, a ``replication-key`` that is
    not a property name."""
    try:
        rules = _metadata_rules(metadata)
    except SelectionError as exc:
        return [((), message, None) for message in exc.errors]
    found: list[tuple[tuple[str, ...], str, str | None]] = []
    for rule in rules:
        meant = misspelt_key(rule.key)
        if meant is not None:
            found.append((rule.where, f"unknown metadata key '{rule.key}'",
                          f"did you mean '{meant}'? Singer metadata keys are lower-case, with "
                          "dashes; a tap ignores any other spelling"))
        elif rule.key == "replication-key" and rule.prop is None and not (
                isinstance(rule.value, str) and rule.value):
            found.append((rule.where, "replication-key must be a property name (a string)",
                          'e.g. replication-key = "updated_at"'))
    return found


def _apply_metadata(view: _StreamView, meta_rules: list[MetadataRule]) -> None:
    """Set each flattened metadata rule on the stream and properties of ``view`` it matches."""
    for rule in meta_rules:
        if not fnmatchcase(view.id, rule.stream):
            continue
        if rule.prop is None:
            view.set((), rule.key, rule.value)
            continue
        for path in view.paths:
            if fnmatchcase(_dotted(path), rule.prop):
                view.set(path, rule.key, rule.value)
