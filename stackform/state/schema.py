"""The exact shape of a state document, checked before any of it is used.

A document that is not exactly this shape is corrupt: ``"resources": null`` is not an empty
state, a missing ``stack`` is not "any stack", an unknown key is not ignored. Taking a damaged
document for a smaller valid one is how a plan proposes to re-create (or an apply to destroy)
what exists, so the check is strict and cheap (one pass, no recursion)::

    {
      "version": 1, "env": "dev", "stack": "jaffle", "lineage": "<uuid>", "serial": 3,
      "tool_version": "0.1.0", "updated_at": "2026-11-30T10:00:00+00:00",
      "git": {"commit": str|null, "branch": str|null, "dirty": bool|null, "user": str|null},
      "bundle": "<sha256 hex>",                  (optional: the last published bundle)
      "resources": {"<kind>.<name>": {"kind": "<kind>", "attributes": {...},
                                      "outputs": {...}, "dependencies": ["<address>", ...]}}
    }
"""

from __future__ import annotations

import re
from typing import Any

from stackform.limits import MAX_NESTING, too_deep

TOP_KEYS = frozenset({"version", "env", "stack", "lineage", "serial", "tool_version",
                      "updated_at", "git", "resources"})
GIT_KEYS = frozenset({"commit", "branch", "dirty", "user"})
RESOURCE_KEYS = frozenset({"kind", "attributes", "outputs", "dependencies"})
OPTIONAL_TOP_KEYS = frozenset({"throwaway", "bundle"})
"""Keys a document may hold: ``throwaway`` marks an environment ``stackform test`` made
(``{"created_at": str, "base": str}``), the only ones ``env destroy --older-than`` removes
besides per-developer environments; ``bundle`` is the digest of what the last apply published
for workers."""
_BUNDLE = re.compile(r"^[0-9a-f]{64}$")


def check_document(data: Any) -> str | None:
    """What is wrong with ``data`` as a state document (version already checked), or None."""
    problem = _keys(data, TOP_KEYS, "the document", optional=OPTIONAL_TOP_KEYS)
    if problem:
        return problem
    throwaway = data.get("throwaway")
    if throwaway is not None and not (isinstance(throwaway, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in throwaway.items())):
        return "throwaway must be an object of strings"
    if "bundle" in data and not (isinstance(data["bundle"], str)
                                 and _BUNDLE.match(data["bundle"])):
        return f"bundle must be a sha256 digest, not {_kind(data['bundle'])}"
    for key in ("env", "stack", "lineage"):
        if not isinstance(data[key], str) or not data[key]:
            return f"{key} must be a non-empty string, not {_kind(data[key])}"
    for key in ("tool_version", "updated_at"):
        if not isinstance(data[key], str):
            return f"{key} must be a string, not {_kind(data[key])}"
    serial = data["serial"]
    if not isinstance(serial, int) or isinstance(serial, bool) or serial < 0:
        return f"serial must be a non-negative integer, not {serial!r}"
    problem = _git(data["git"])
    if problem:
        return problem
    resources = data["resources"]
    if not isinstance(resources, dict):
        return f"resources must be an object, not {_kind(resources)}"
    for address, resource in resources.items():
        problem = _resource(address, resource)
        if problem:
            return f"resources[{address!r}]: {problem}"
    return None


def _git(git: Any) -> str | None:
    problem = _keys(git, GIT_KEYS, "git", required=False)
    if problem:
        return problem
    for key, value in git.items():
        wanted = bool if key == "dirty" else str
        if value is not None and not isinstance(value, wanted):
            return f"git.{key} must be {wanted.__name__} or null, not {_kind(value)}"
    return None


def _resource(address: str, resource: Any) -> str | None:
    problem = _keys(resource, RESOURCE_KEYS, "a resource")
    if problem:
        return problem
    kind, dot, name = address.partition(".")
    if not (kind and dot and name):
        return "an address is <kind>.<name>"
    if resource["kind"] != kind:
        return f"kind is {resource['kind']!r} but the address says {kind!r}"
    for key in ("attributes", "outputs"):
        value = resource[key]
        if not isinstance(value, dict):
            return f"{key} must be an object, not {_kind(value)}"
        if too_deep(value) is not None:
            return f"{key} nest deeper than {MAX_NESTING} levels"
    deps = resource["dependencies"]
    if not isinstance(deps, list) or not all(isinstance(d, str) and d for d in deps):
        return "dependencies must be a list of addresses"
    return None


def _keys(value: Any, allowed: frozenset[str], what: str, required: bool = True,
          optional: frozenset[str] = frozenset()) -> str | None:
    if not isinstance(value, dict):
        return f"{what} must be an object, not {_kind(value)}"
    unknown = sorted(set(value) - allowed - optional)
    if unknown:
        return f"{what} has unknown key(s) {', '.join(map(repr, unknown))}"
    missing = sorted(allowed - set(value)) if required else []
    if missing:
        return f"{what} lacks {', '.join(map(repr, missing))}"
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
