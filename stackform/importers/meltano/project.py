"""The top of ``meltano.yml``: the stack's name, ``[state]`` from ``state_backend``, ``[env]``,
the project-wide ``python``, and what has no place in a stack (telemetry, hub settings,
Meltano's own database...)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from stackform.importers.meltano.context import Context
from stackform.importers.meltano.plugins import env_table, python_version

DROPPED = {
    "version": "the file format's version",
    "requires_meltano": "a Meltano version requirement",
    "send_anonymous_usage_stats": "Meltano's telemetry (stackform sends none)",
    "snowplow": "Meltano's telemetry (stackform sends none)",
    "project_id": "Meltano's telemetry identifier",
    "database_uri": "Meltano's system database: stackform keeps state in [state]",
    "database_max_retries": "Meltano's system database",
    "database_retry_timeout": "Meltano's system database",
    "hub_api_root": "Meltano Hub", "hub_url": "Meltano Hub", "hub_url_auth": "Meltano Hub",
    "venv": "stackform installs every plugin with uv",
    "auto_install": "stackform installs at apply",
    "cli": "Meltano's logging", "elt": "Meltano's pipe buffer (stackform uses an OS pipe)",
    "experimental": "Meltano's feature switch", "ff": "Meltano's feature flags",
    "annotations": "not read by Meltano either",
}
HANDLED = {"plugins", "environments", "jobs", "schedules", "include_paths",
           "default_environment", "project_readonly", "env", "state_backend", "python"}
_STACK_BAD = re.compile(r"[^a-z0-9_-]+")


def stack_name(root: Path) -> str:
    name = _STACK_BAD.sub("-", root.resolve().name.lower()).strip("-_")
    return name if re.match(r"[a-z]", name) else f"meltano-{name}".rstrip("-")


def convert(ctx: Context) -> None:
    top = ctx.project.top
    for env in [top, *ctx.project.environments]:
        if isinstance(env.get("env"), dict):
            ctx.interp.project_env.update(str(k) for k in env["env"])
    ctx.table("stack").update({"name": stack_name(ctx.project.root),
                               "description": "Imported from a Meltano project by "
                                              "`stackform import meltano`"})
    for key in top:
        if key in DROPPED:
            ctx.report.dropped(top.at(key), key, DROPPED[key])
        elif key not in HANDLED:
            ctx.report.warning(top.at(key), key, f"unknown top-level key '{key}': left out")
    _includes(ctx)
    if isinstance(top.get("env"), dict) and top["env"]:
        ctx.table("env").update(env_table(ctx, top["env"], top.at("env")))
        ctx.report.mapped(top.at("env"), "env", "-> [env]")
    _state(ctx)


def _includes(ctx: Context) -> None:
    top = ctx.project.top
    for shown in ctx.project.files[1:]:
        ctx.report.mapped(top.at("include_paths"), "include_paths", f"{shown} merged in")
    for pattern in ctx.project.unmatched:
        ctx.report.warning(top.at("include_paths"), "include_paths", f"'{pattern}' matches no "
                           "file")
    for where, key in ctx.project.merged:
        ctx.report.mapped(where, key, "from an included file: merged as Meltano does (mappings "
                          "key by key, lists appended, any other value replaces meltano.yml's)")
    for where, what in ctx.project.problems:
        ctx.report.warning(where, "project", what)
    for where, written, read in ctx.project.timestamps:
        ctx.report.mapped(where, "timestamp", f"unquoted {written} -> \"{read}\", the string "
                          "Meltano hands the plugin")


def _state(ctx: Context) -> None:
    top = ctx.project.top
    backend = top.get("state_backend")
    if backend is None:
        return
    where = top.at("state_backend")
    ctx.report.person(where, "state_backend", "Meltano's bookmarks are not carried over: the "
                      "first run of each pipeline extracts from the start (each tap's "
                      "start_date)")
    if not isinstance(backend, dict):
        ctx.report.warning(where, "state_backend", "not a mapping: left out")
        return
    uri = ctx.interp.text(str(backend.get("uri", "systemdb")), secret=False, where=where)
    parts = urlsplit(uri)
    if uri == "systemdb":
        ctx.report.dropped(where, "state_backend", "systemdb: stackform keeps state in "
                           "local files by default")
    elif parts.scheme == "s3":
        table: dict[str, Any] = {"backend": "s3", "bucket": parts.netloc}
        if parts.path.strip("/"):
            table["prefix"] = parts.path.strip("/")
        s3: dict[str, Any] = backend["s3"] if isinstance(backend.get("s3"), dict) else {}
        if s3.get("endpoint_url"):
            table["endpoint_url"] = ctx.interp.text(str(s3["endpoint_url"]), secret=False,
                                                    where=where)
        if set(s3) - {"endpoint_url"}:
            ctx.report.dropped(where, "state_backend.s3", "credentials: stackform takes them "
                               "from the AWS chain (environment, profile, role), never the file")
        ctx.table("state").update(table)
        ctx.report.mapped(where, "state_backend", "-> [state] backend = \"s3\"")
    elif parts.scheme == "file":
        path = (parts.netloc + parts.path).removeprefix("${stack.dir}/") or "."
        ctx.table("state").update({"backend": "local", "path": path})
        ctx.report.mapped(where, "state_backend", "-> [state] backend = \"local\"")
    else:
        ctx.report.person(where, "state_backend", f"a {parts.scheme or uri} state backend: "
                          "stackform's backends are local and s3; [state] left at local")
    for key in backend:
        if key in ("lock_timeout_seconds", "lock_retry_seconds"):
            ctx.report.dropped(where, f"state_backend.{key}", "stackform's locks work otherwise "
                               "(`--lock-timeout`)")
        elif key in ("azure", "gcs"):
            ctx.report.dropped(where, f"state_backend.{key}", "a backend stackform lacks")


def python(ctx: Context) -> None:
    """The project-wide ``python`` on every plugin block that sets none."""
    top = ctx.project.top
    value = top.get("python")
    if value is None:
        return
    version = python_version(value)
    if version is None:
        ctx.report.person(top.at("python"), "python", "a path to an interpreter: stackform "
                          "takes a version (\"3.11\"); set python in the blocks that need it")
        return
    for kind in ("extractors", "loaders", "mappers", "utilities", "transformers"):
        for table in ctx.stack.get(kind, {}).values():
            if "python" not in table and "extends" not in table:
                table["python"] = version
    ctx.report.mapped(top.at("python"), "python", f"python = \"{version}\" in every plugin "
                      "block that sets none")


def env_vars(ctx: Context) -> None:
    """Names of the project's ``env`` that values read become vars: ``[vars]`` holds the
    top-level value (or the process environment's when only environments set it), each
    environment's ``vars`` its own, and the ``env`` tables read the var."""
    used = ctx.interp.vars_used
    for name, where in used.items():
        top_env = ctx.stack.get("env", {})
        if name in top_env:
            value = top_env[name]
            top_env[name] = f"${{var.{name}}}"
        else:
            value = f"${{environ.{name}}}"
            ctx.interp.environ.setdefault(name, where)
        ctx.table("vars")[name] = value
        for env_name, env in ctx.stack.get("environments", {}).items():
            if name in env.get("env", {}):
                ctx.table("environments", env_name, "vars")[name] = env["env"][name]
                env["env"][name] = f"${{var.{name}}}"
        ctx.report.mapped(where, f"${name}", f"set by the project's env: -> ${{var.{name}}}, "
                          "declared in [vars] (per environment in its vars) and read by env")
