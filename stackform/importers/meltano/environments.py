"""Meltano environments -> ``[environments.NAME]``: ``default_environment``, ``project_readonly``
(protected), ``env``, and each plugin's overrides as ``override.KIND.BLOCK``."""

from __future__ import annotations

import re
from typing import Any

from stackform.importers.meltano.context import Block, Context
from stackform.importers.meltano.kinds import dbt_adapter, dbt_fields
from stackform.importers.meltano.plugins import (
    config_value,
    env_table,
    leftovers,
    singer_extras,
)
from stackform.importers.meltano.read import YMap, comments_above

_ENV_BAD = re.compile(r"[^a-z0-9_-]+")


def env_name(name: str) -> str:
    """A stackform environment name: lower case letters, digits, ``-`` and ``_``."""
    out = _ENV_BAD.sub("-", name.lower()).strip("-_")
    return out or "default"


def convert(ctx: Context) -> None:
    top = ctx.project.top
    default = top.get("default_environment")
    if default is not None and not isinstance(default, str | int):
        ctx.report.warning(top.at("default_environment"), "default_environment",
                           "not a name: left out")
        default = None
    default = None if default is None else str(default)
    readonly = top.get("project_readonly") is True
    names: dict[str, str] = {}
    for env in ctx.project.environments:
        name = env_name(env["name"])
        subject = f"environments.{env['name']}"
        if name in names.values():
            ctx.report.warning(env.at(), subject, f"becomes '{name}' like another environment: "
                               "left out")
            continue
        names[env["name"]] = name
        table = ctx.table("environments", name)
        ctx.comment(("environments", name), comments_above(ctx.project, env))
        if name != env["name"]:
            ctx.report.mapped(env.at(), subject, f"named '{name}' (environment names are lower "
                              "case)")
        if env["name"] == default:
            table["default"] = True
        if readonly:
            table["protected"] = True
        if isinstance(env.get("env"), dict) and env["env"]:
            table["env"] = env_table(ctx, env["env"], env.at("env"))
        _config(ctx, env, name, subject)
        _others(ctx, env, subject)
        ctx.report.mapped(env.at(), subject, f"-> [environments.{name}]")
    if names and default not in names and "dev" not in names.values():
        ctx.report.person(top.at(), "default_environment", "no default environment and none "
                          "named dev: every command then needs --env (or set default = true "
                          "in one environment)")
    if default is not None and default not in names:
        ctx.report.warning(top.at("default_environment"), "default_environment",
                           f"names no environment of the project ('{default}'): no default set")
    elif default is not None:
        ctx.report.mapped(top.at("default_environment"), "default_environment",
                          f"-> default = true in [environments.{names[default]}]")
    if "project_readonly" in top and not readonly:
        ctx.report.dropped(top.at("project_readonly"), "project_readonly", "false: the "
                           "default (no environment protected)")
    elif readonly and not names:
        ctx.report.person(top.at("project_readonly"), "project_readonly", "the project "
                          "declares no environment to protect: mark the ones that need it "
                          "protected = true")
    elif readonly:
        ctx.report.mapped(top.at("project_readonly"), "project_readonly",
                          "-> protected = true in every environment (apply and destroy only "
                          "from a clean git tree on an allowed branch)")


def _others(ctx: Context, env: YMap, subject: str) -> None:
    for key in env:
        if key in ("name", "env", "config"):
            continue
        if key == "annotations":
            ctx.report.dropped(env.at(key), subject, "annotations: not read by Meltano either")
        elif key == "state_id_suffix":
            ctx.report.person(env.at(key), subject, "state_id_suffix: stackform keeps each "
                              "environment's bookmarks apart already")
        else:
            ctx.report.warning(env.at(key), subject, f"unknown key '{key}': left out")


def _config(ctx: Context, env: YMap, name: str, subject: str) -> None:
    config = env.get("config")
    if config is None:
        return
    if not isinstance(config, dict):
        ctx.report.warning(env.at("config"), subject, "config is not a mapping: left out")
        return
    for key, value in config.items():
        if key != "plugins":
            ctx.report.warning(env.at("config"), subject, f"config.{key}: only plugins can be "
                               "overridden: left out")
            continue
        for kind, items in (value or {}).items() if isinstance(value, dict) else []:
            for item in items if isinstance(items, list) else []:
                if isinstance(item, YMap) and "name" in item:
                    _override(ctx, name, subject, str(kind), item)


def _override(ctx: Context, env: str, subject: str, kind: str, item: YMap) -> None:
    what = f"{subject}.config.plugins.{kind}.{item['name']}"
    blocks = ctx.plugins.get((kind, str(item["name"])))
    if not blocks:
        ctx.report.warning(item.at(), what, "overrides a plugin the project does not define: "
                           "left out")
        return
    plugin = blocks[0].plugin
    for b in blocks:
        fields = _fields(ctx, kind, plugin, item, b, what, env)
        if fields:
            ctx.table("environments", env, "override", b.kind, b.name).update(fields)
            ctx.report.mapped(item.at(), what, f"-> [environments.{env}.override.{b.address}]")
    leftovers(ctx, kind, item, {"name", "config", "env", "select", "metadata", "schema",
                                "select_filter", "load_schema", "catalog", "state",
                                "state_id_suffix", "use_cached_catalog"})


def _fields(ctx: Context, kind: str, plugin: YMap, item: YMap, block: Block,
            what: str, env: str) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    # The plugin's sensitive settings decide which override values are secrets.
    config = config_value(ctx, kind, plugin, item.get("config"), item.at("config"), what,
                          prefix=env)
    if block.kind == "transformers":
        adapter = dbt_adapter(ctx, kind, plugin) or "duckdb"
        fields.update(dbt_fields(ctx, config, adapter, item.at("config"), what, base=False))
    elif block.kind == "orchestrators":
        if config:
            ctx.report.dropped(item.at("config"), what, "Airflow's own settings: they belong "
                               "to the Airflow deployment")
    elif config:
        fields["config"] = {k: v for k, v in config.items() if not k.startswith("_")}
    if isinstance(item.get("env"), dict) and item["env"]:
        fields["env"] = env_table(ctx, item["env"], item.at("env"))
    if block.kind == "extractors":
        singer_extras(ctx, item, fields, what)
    return {k: v for k, v in fields.items() if v not in ({}, None)}
