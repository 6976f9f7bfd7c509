"""Singer catalogs: apply a stack's ``select`` rules and ``metadata``, summarise, diff, digest.

Pure functions over catalogs that a tap printed with ``--discover``; nothing here runs a process
or touches a file. Inputs are never mutated: :func:`apply_selection` returns a new catalog.

Catalog shape
    ``{"streams": [{"tap_stream_id", "stream", "schema", "metadata": [...]}, ...]}``. Each
    ``metadata`` entry is ``{"breadcrumb": [...], "metadata": {...}}``: the breadcrumb ``[]`` is
    the stream itself, ``["properties", "address"]`` a top-level property and
    ``["properties", "address", "properties", "city"]`` a nested one. Streams are named by
    ``tap_stream_id`` (``stream`` when a tap leaves it out) and properties by dotted paths
    (``address.city``). Streams with no ``metadata`` list, no stream-level entry or no entry for
    a property in their schema get one (``inclusion: available``, or ``automatic`` for a
    top-level property named as a key in the stream's ``table-key-properties``/``key_properties``
    or as its replication key), so every selection is written down. Breadcrumbs of other shapes
    (into ``items``, say) are kept as they are and take no part in selection.

Selection rules (Meltano's ``select`` semantics, with the choices below made explicit)
    * ``stream.property``: both halves are ``fnmatch`` patterns, matched case-sensitively;
      ``*`` also matches dots, so ``orders.*`` covers nested properties. The rule is split at
      the first dot, except that a rule that is exactly a stream's id, or starts with the id and
      a dot, is split after the id (so stream ids containing dots can be named).
    * ``stream`` alone, ``stream.*`` (any all-``*`` property pattern) select the stream and
      all of its properties.
    * Matching a property matches its whole subtree (``orders.address`` selects
      ``address.city``); selecting a nested property also selects its ancestors so the tap
      emits it, but not their other children.
    * ``!rule`` excludes and exclusions always win over inclusions, whatever their order.
      ``!stream`` / ``!stream.*`` exclude the stream; ``!stream.prop`` only that subtree.
    * ``inclusion: automatic`` properties (primary keys, replication keys) are selected whenever
      their stream is, even if a rule excludes them: the tap emits them regardless, so the
      catalog says so. ``inclusion: unsupported`` properties are never selected.
    * A stream is selected when a rule selects it as a whole or selects (directly, not just as
      an automatic property) one of its properties, and no rule excludes it. An unselected
      stream has every property deselected.
    * Non-empty ``select``: every stream and property gets an explicit ``selected`` (Meltano
      starts from "nothing selected" too). **Empty ``select`` means the tap's defaults**: no
      ``selected`` value is written or changed, so ``selected-by-default`` and whatever
      selection discovery produced stay in force.

``metadata`` (Meltano's ``metadata`` extra)
    ``{stream_pattern: {key: value, property_pattern: {key: value, ...}, ...}}``. In a stream's
    mapping a non-mapping value is a stream-level key (``replication-method``,
    ``replication-key``, ``table-key-properties``: lists are values); a mapping value is a
    property, whose own mapping values are sub-properties. Property names may be dotted
    (``"address.city": {...}``) and may be patterns; the Singer-style explicit form
    ``{"properties": {"updated_at": {...}}}`` is accepted too. Metadata is applied after
    selection and overrides it (a ``selected`` key set here wins). It only touches streams
    and properties that exist.
"""

from __future__ import annotations

from stackform_singer.catalog.apply import apply_selection
from stackform_singer.catalog.checks import (
    Finding,
    check_selection,
    unmatched_rules,
)
from stackform_singer.catalog.digest import catalog_digest
from stackform_singer.catalog.metadata import key_problems
from stackform_singer.catalog.rules import validate_rules
from stackform_singer.catalog.streams import SelectionError, stream_id_of
from stackform_singer.catalog.summary import (
    Selection,
    StreamSelection,
    diff_selection,
    selection_of,
)

__all__ = [
    "Finding",
    "Selection",
    "SelectionError",
    "StreamSelection",
    "apply_selection",
    "catalog_digest",
    "check_selection",
    "diff_selection",
    "key_problems",
    "selection_of",
    "stream_id_of",
    "unmatched_rules",
    "validate_rules",
]

# Where each part lives:
#   streams.py  catalog access: stream ids, breadcrumbs, schema paths, the metadata view
#   rules.py    parsing, validating and matching ``select`` rules
#   apply.py    apply_selection: the select rules, then the metadata extra
#   metadata.py flattening, checking the keys of and applying the ``metadata`` extra
#   checks.py   check_selection: rules and patterns matching nothing, replication keys that are
#               not properties, a selection of no stream
#   summary.py  Selection / StreamSelection, selection_of and diff_selection
#   digest.py   catalog_digest
