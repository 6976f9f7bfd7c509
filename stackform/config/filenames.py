"""A field that names a file may not hold a secret.

A file's name is shown in plans, recorded in state and printed in logs, and it is how a
resource finds its file again: it cannot be masked the way a value is. So a ``${secret.X}``
(directly or through a var) in such a field is a located error when the stack is resolved, for
``validate`` as for ``plan``, before anything is written.

A field names a file when it is a top-level field of a block (or of ``[state]``) called
``path`` or ``template``, or ending in ``_path``, ``_dir`` or ``_file``: the files provider's
``path`` and ``template``, dbt's ``project_dir``, Airflow's ``dags_path``, the local state
``path``. Providers follow that naming, so core needs no list from them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from stackform.diagnostics import Diagnostic, Location
from stackform.resource import KeyPath, format_path

_NAMES = frozenset({"path", "template"})
_SUFFIXES = ("_path", "_dir", "_file")


def names_a_file(field: str) -> bool:
    return field in _NAMES or field.endswith(_SUFFIXES)


def secrets_in_file_names(
    sensitive: Iterable[KeyPath],
    prefix: KeyPath,
    source: Callable[[KeyPath], KeyPath],
    locate: Callable[[KeyPath, bool], Location | None],
) -> list[Diagnostic]:
    """One diagnostic per file-naming field among ``sensitive`` (paths relative to the block
    ``prefix``; ``source`` maps them to where they are written)."""
    fields: dict[str, KeyPath] = {}
    for rel in sensitive:
        if rel and isinstance(rel[0], str) and names_a_file(rel[0]):
            fields.setdefault(rel[0], rel[:1])
    return [
        Diagnostic(
            "names a file, so it may not hold a secret: plans, state and logs show it",
            path=format_path((*prefix, *rel)),
            location=locate(source(rel), False),
            hint="a secret belongs in what a file contains (content, a template's vars), "
                 "never in its name",
        )
        for rel in fields.values()
    ]
