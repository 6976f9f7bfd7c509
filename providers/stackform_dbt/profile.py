"""The environment's own ``profiles.yml``: written under its folder, with no secret in it.

Each sensitive value of the target (``${secret.NAME}``, or anything under a key that names a
secret, such as ``password``: see :mod:`stackform.secret_keys`) is written as
``{{ env_var('STACKFORM_DBT_<FIELD>') }}`` and its value goes into dbt's process environment
when stackform runs dbt. The file is JSON, which is YAML too, so no YAML library is needed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.config.schema import env_identifier
from stackform.plugins.kit import plugin_dir, write_private
from stackform.provider import Context
from stackform.resource import KeyPath, Resource
from stackform_dbt.project import read_project_file

ENV_PREFIX = "STACKFORM_DBT_"


def default_schema(env: str) -> str:
    """``analytics_<env>``, lower case, anything but letters, digits and ``_`` as ``_``:
    ``dev-alice`` -> ``analytics_dev_alice``. Two environments never share a schema."""
    return "analytics_" + env_identifier(env)


def default_target(env: str) -> dict[str, Any]:
    return {"type": "duckdb", "path": f"warehouse/{env}.duckdb", "threads": 1}


def profile_name(ctx: Context, resource: Resource) -> str:
    """The block's ``profile``, else the project's ``profile:``, else its ``name:``."""
    chosen = resource.attributes.get("profile")
    if chosen:
        return str(chosen)
    project = read_project_file(project_dir(ctx, resource))
    return str(project.get("profile") or project.get("name") or "stackform")


def project_dir(ctx: Context, resource: Resource) -> Path:
    return ctx.resolve_path(str(resource.attributes.get("project_dir") or "transform"))


def profiles_dir(ctx: Context, address: str) -> Path:
    return plugin_dir(ctx, address) / "profiles"


def env_name(path: KeyPath) -> str:
    """``("target", "password")`` -> ``STACKFORM_DBT_PASSWORD``."""
    return ENV_PREFIX + re.sub(r"[^A-Z0-9_]", "_", "_".join(str(p) for p in path[1:]).upper())


def _is_secret(path: KeyPath, sensitive: frozenset[KeyPath]) -> bool:
    return any(path[:i] in sensitive for i in range(1, len(path) + 1))


def render_target(ctx: Context, resource: Resource) -> tuple[dict[str, Any], dict[str, str]]:
    """The profile's output for this environment, and the variables holding its secrets."""
    target = dict(resource.attributes.get("target") or default_target(ctx.env))
    if not target.get("schema"):
        target["schema"] = default_schema(ctx.env)
    if target.get("type") == "duckdb" and target.get("path") not in (None, "", ":memory:"):
        target["path"] = str(ctx.resolve_path(str(target["path"])))
        ctx.resolve_path(target["path"]).parent.mkdir(parents=True, exist_ok=True)
    secrets: dict[str, str] = {}

    def walk(value: Any, path: KeyPath) -> Any:
        if _is_secret(path, resource.sensitive) and not isinstance(value, dict | list):
            if value is None:
                return None
            name = env_name(path)
            secrets[name] = str(value).lower() if isinstance(value, bool) else str(value)
            text = f"{{{{ env_var('{name}') }}}}"
            if isinstance(value, bool):
                return text[:-3] + " | as_bool }}"
            if isinstance(value, int | float):
                return text[:-3] + " | as_number }}"
            return text
        if isinstance(value, Mapping):
            return {k: walk(v, (*path, k)) for k, v in value.items() if v is not None}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return value

    rendered = walk(target, ("target",))
    return rendered, secrets


def write_profile(ctx: Context, resource: Resource) -> tuple[Path, dict[str, str]]:
    """Write ``profiles/profiles.yml`` in the environment's folder; return the folder and the
    secret variables dbt's process needs."""
    output, secrets = render_target(ctx, resource)
    name = profile_name(ctx, resource)
    folder = profiles_dir(ctx, resource.address)
    document = {name: {"target": ctx.env, "outputs": {ctx.env: output}}}
    write_private(folder / "profiles.yml", document)
    return folder, secrets
