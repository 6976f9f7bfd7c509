"""One environment's compiled dbt manifest, moved to another environment's target names.

When a project's Jinja reads nothing of the target (checked by :mod:`.parse_reuse`) and does not
define dbt's naming macros, dbt names every relation with its built-in rules: a node's database
is the target's database, its schema the target's schema (or ``<target schema>_<custom>``),
and ``ref()``/``source()`` compile to the relation's quoted name. Two environments' compiled
manifests then differ only in those names, so another environment's manifest with them
replaced is this environment's. Anything that does not fit these rules (another quoting, a
relation name without database) gives ``None``: the caller compiles instead.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

NAMING_MACROS = ("generate_schema_name", "generate_database_name", "generate_alias_name")
PLAIN = frozenset({"model", "seed"})


def target_names(manifest: Mapping[str, Any]) -> tuple[str, str] | None:
    """The target's database and schema, read off a root-project model or seed that sets
    neither itself."""
    project = (manifest.get("metadata") or {}).get("project_name")
    for node in (manifest.get("nodes") or {}).values():
        config = node.get("config") or {}
        if (node.get("package_name") == project and node.get("resource_type") in PLAIN
                and not config.get("schema") and not config.get("database")
                and node.get("database") and node.get("schema")):
            return str(node["database"]), str(node["schema"])
    return None


def defines_naming_macros(manifest: Mapping[str, Any]) -> bool:
    """Whether a project or package overrides how dbt names relations."""
    return any(macro.get("name") in NAMING_MACROS and macro.get("package_name") != "dbt"
               for macro in (manifest.get("macros") or {}).values())


def relocate(manifest: Mapping[str, Any], old: tuple[str, str], new: tuple[str, str]
             ) -> dict[str, Any] | None:
    """``manifest`` with the target's database and schema ``old`` replaced by ``new``."""
    if defines_naming_macros(manifest):
        return None
    moved: dict[str, Any] = copy.deepcopy(dict(manifest))
    renames: dict[str, str] = {}
    for section in ("nodes", "sources", "seeds", "snapshots"):
        for node in (moved.get(section) or {}).values():
            before = node.get("relation_name")
            database, schema = _moved_names(node, old, new)
            if before and (database, schema) != (node.get("database"), node.get("schema")):
                prefix = f'"{node.get("database")}"."{node.get("schema")}".'
                if not str(before).startswith(prefix):
                    return None
                renames[str(before)] = f'"{database}"."{schema}".' + str(before)[len(prefix):]
            node["database"], node["schema"] = database, schema
            if before in renames:
                node["relation_name"] = renames[before]
    if not renames:
        return moved
    ordered = sorted(renames, key=len, reverse=True)
    for node in (moved.get("nodes") or {}).values():
        code = node.get("compiled_code")
        if isinstance(code, str):
            for name in ordered:
                code = code.replace(name, renames[name])
            node["compiled_code"] = code
    return moved


def _moved_names(node: Mapping[str, Any], old: tuple[str, str], new: tuple[str, str]
                 ) -> tuple[Any, Any]:
    database, schema = node.get("database"), node.get("schema")
    if database == old[0]:
        database = new[0]
    if node.get("resource_type") != "source" and isinstance(schema, str):
        if schema == old[1]:
            schema = new[1]
        elif schema.startswith(old[1] + "_"):
            schema = new[1] + schema[len(old[1]):]
    return database, schema
