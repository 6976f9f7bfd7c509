"""Meltano plugins -> stack blocks: what every kind shares (package, inheritance, settings,
config, env) and the Singer extras; :mod:`.kinds` adds what is particular to a kind."""

from __future__ import annotations

import re
from typing import Any

from stackform.importers.meltano import connectors
from stackform.importers.meltano.context import Block, Context
from stackform.importers.meltano.interpolation import literal, secret_name
from stackform.importers.meltano.read import YMap
from stackform.secret_keys import is_secret_key

STACK_KIND = {"extractors": "extractors", "loaders": "loaders", "mappers": "mappers",
              "utilities": "utilities", "transformers": "transformers",
              "orchestrators": "orchestrators"}
"""The stack kind of each Meltano kind (``files`` and ``transforms`` have none)."""

DROPPED = {
    "variant": "the hub variant: pip_url names the package",
    "label": "a display name", "logo_url": "a display asset", "docs": "a link",
    "repo": "a link", "ext_repo": "a link", "description": "kept as a comment in the block",
    "namespace": "Meltano's prefix for settings read from environment variables",
    "capabilities": "stackform asks the tap (discovery) instead",
    "annotations": "not read by Meltano either",
    "requires_meltano": "a Meltano version requirement",
    "settings_group_validation": "Meltano's check of which settings go together",
    "dialect": "Meltano's hint to transformers", "log_parser": "Meltano's log formatting",
    "use_cached_catalog": "stackform keeps the catalog discovered at apply (refresh it with "
                          "`stackform apply --refresh-catalog`)",
}
PERSON = {
    "select_filter": "no equivalent: narrow `select` to the streams this run needs",
    "state_id_suffix": "no equivalent: stackform keeps bookmarks per pipeline and extractor",
    "load_schema": "Meltano hands it to the loader as $MELTANO_EXTRACT__LOAD_SCHEMA; write the "
                   "schema into the loader's config (default_target_schema)",
    "catalog": "a catalog file replaces discovery in Meltano; stackform discovers at apply: "
               "say the same with select, metadata and schema",
    "state": "a state file given to the tap; stackform keeps bookmarks itself "
             "(`stackform bookmarks`)",
    "requires": "plugins this one requires: declare them as blocks of their own",
    "commands": "commands of this kind of plugin are not carried over (a tool run with "
                "commands belongs in [utilities])",
}
SINGER_EXTRAS = ("select", "metadata", "schema")
_EXTRA_KEYS = ("select", "metadata", "schema", "select_filter", "load_schema", "catalog",
               "state", "state_id_suffix", "use_cached_catalog")


def settings_of(p: YMap) -> list[YMap]:
    settings = p.get("settings") or []
    return [s for s in settings if isinstance(s, YMap) and "name" in s] \
        if isinstance(settings, list) else []


def parent_of(ctx: Context, kind: str, p: YMap) -> YMap | None:
    """The plugin of the project ``p`` inherits from, if any."""
    name = p.get("inherit_from")
    if not isinstance(name, str):
        return None
    for other in ctx.project.plugins.get(kind, []):
        if other["name"] == name and other is not p:
            return other
    return None


def common(ctx: Context, kind: str, p: YMap, block: Block, *, package: bool = True) -> set[str]:
    """Fill what every block shares; returns the Meltano keys it took care of."""
    table = ctx.table(block.kind, block.name)
    subject = f"plugins.{kind}.{p['name']}"
    done = {"name", "settings", "inherit_from", "pip_url", "executable", "python", "env"}
    parent = parent_of(ctx, kind, p)
    if parent is not None and not ctx.plugins.get((kind, parent["name"])):
        parent = None
    if isinstance(p.get("description"), str):
        ctx.comment((block.kind, block.name), [p["description"]])
    if parent is not None:
        parent_block = ctx.plugins[(kind, parent["name"])][0]
        table["extends"] = parent_block.address
        ctx.parents.add(parent_block.address)
        ctx.report.mapped(p.at("inherit_from"), subject,
                          f"inherit_from {parent['name']} -> extends = \"{parent_block.address}\"")
    elif isinstance(p.get("inherit_from"), str):
        ctx.report.mapped(p.at("inherit_from"), subject, f"inherits the hub plugin "
                          f"{p['inherit_from']} (not in the project): the block stands alone")
    if package:
        _package(ctx, kind, p, block, parent is not None)
    if p.get("python") is not None:
        version = python_version(p["python"])
        if version is None:
            ctx.report.person(p.at("python"), subject, "python names an interpreter: "
                              "stackform takes a version (python = \"3.11\")")
        else:
            table["python"] = version
    if isinstance(p.get("env"), dict) and p["env"]:
        table["env"] = env_table(ctx, p["env"], p.at("env"))
    elif p.get("env") is not None and not isinstance(p.get("env"), dict):
        ctx.report.warning(p.at("env"), subject, "env is not a mapping: left out")
    return done


_PYTHON_VERSION = re.compile(r"(?:python)?(3(?:\.\d+)*)")


def python_version(value: Any) -> str | None:
    """``"3.11"`` for Meltano's ``3.11``, ``python3.11``; ``None`` for a path."""
    m = _PYTHON_VERSION.fullmatch(str(value).strip())
    return m.group(1) if m else None


_PIP_OPTIONS_WITH_VALUE = ("-c", "--constraint", "-i", "--index-url", "--extra-index-url",
                           "-f", "--find-links", "-r", "--requirement")


def pip_requirements(ctx: Context, pip_url: str, where: str, subject: str) -> str:
    """Meltano's ``pip_url`` as requirements only: pip's options are left out (reported), an
    editable ``-e PATH`` is the folder itself."""
    words = pip_url.split()
    out: list[str] = []
    dropped: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in _PIP_OPTIONS_WITH_VALUE:
            # The value is not shown: an index URL may carry a token.
            dropped.append(f"{word} ...")
            i += 2
            continue
        if word in ("-e", "--editable"):
            ctx.report.mapped(where, subject, f"pip_url: {word} dropped: a local folder is "
                              "installed from its current files at every change")
        elif word.startswith("-"):
            dropped.append(word)
        else:
            out.append(word)
        i += 1
    if dropped:
        ctx.report.person(where, subject, f"pip_url: pip options left out ({', '.join(dropped)}"
                          "): stackform installs with uv; pin versions in pip_url, or with "
                          "`stackform lock`")
    return " ".join(out)


def _package(ctx: Context, kind: str, p: YMap, block: Block, has_parent: bool) -> None:
    table = ctx.table(block.kind, block.name)
    subject = f"plugins.{kind}.{p['name']}"
    pip_url = p.get("pip_url")
    if isinstance(pip_url, str) and pip_url.strip():
        requirements = pip_requirements(ctx, pip_url, p.at("pip_url"), subject)
        table["pip_url"] = ctx.interp.text(requirements, secret=False, where=p.at("pip_url"))
    elif not has_parent:
        found = connectors.lookup(p["name"], p.get("variant"),
                                  p.get("inherit_from") if isinstance(p.get("inherit_from"),
                                                                      str) else None)
        if found is not None:
            table["pip_url"] = found
            ctx.report.mapped(p.at(), subject, f"pip_url {found} from stackform's connector "
                              "index")
        else:
            variant = p.get("variant")
            hub = p.get("inherit_from") if isinstance(p.get("inherit_from"), str) else p["name"]
            what = f"the '{variant}' variant of {hub}" if variant else hub
            ctx.report.person(p.at(), subject, f"no pip_url: Meltano installs {what} from its "
                              "hub, which cannot be known offline: set pip_url in "
                              f"[{block.address}]")
            ctx.comment((block.kind, block.name),
                        [f"stackform import: set pip_url: Meltano installs {what} from its hub"])
    executable = p.get("executable")
    if isinstance(executable, str):
        table["executable"] = executable
    elif not has_parent and block.kind in ("extractors", "loaders", "mappers", "utilities") \
            and isinstance(table.get("pip_url"), str) \
            and _first_package(table["pip_url"]) != p["name"]:
        # Meltano runs the plugin's name when no executable is given; stackform runs the
        # first requirement's name.
        table["executable"] = p["name"]


def _first_package(pip_url: str) -> str | None:
    first = pip_url.split()[0] if pip_url.split() else ""
    if "://" in first or first.startswith((".", "/", "$")):
        return None
    for sep in "[=<>!~;@ ":
        first = first.split(sep)[0]
    return first.lower().replace("_", "-")


def settings_defaults(ctx: Context, kind: str, p: YMap, block: Block) -> None:
    """Custom settings: a default ``value`` the config lacks is written; a sensitive setting
    the config lacks reads a secret (Meltano would take it from the environment)."""
    subject = f"plugins.{kind}.{p['name']}"
    config = p.get("config") if isinstance(p.get("config"), dict) else {}
    for s in settings_of(p):
        name = str(s["name"])
        if isinstance(s.get("env"), str):
            ctx.report.person(s.at("env"), subject, f"setting {name} is also read from "
                              f"${s['env']} by Meltano: write it into the config if it is set "
                              "that way")
        if name in (config or {}):
            continue
        if name in ctx.sensitive.get((kind, p["name"]), set()):
            ref = secret_name(p["name"], name)
            set_config(ctx, block, name, f"${{secret.{ref}}}")
            ctx.interp.secrets.setdefault(ref, s.at())
            ctx.report.mapped(s.at(), subject, f"sensitive setting {name} -> "
                              f"${{secret.{ref}}} (Meltano reads it from the environment)")
        elif "value" in s and s["value"] is not None:
            set_config(ctx, block, name, ctx.interp.value(s["value"], secret=False,
                                                          where=s.at("value")))
            ctx.report.mapped(s.at("value"), subject, f"the default value of setting {name} "
                              "written into config")


def set_config(ctx: Context, block: Block, name: str, value: Any) -> None:
    """Set a config key; a dotted Meltano setting name is a nested key."""
    node = ctx.table(block.kind, block.name, "config")
    parts = name.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node.setdefault(parts[-1], value)


def config_value(ctx: Context, kind: str, p: YMap, config: Any, where: str,
                 subject: str, prefix: str = "") -> dict[str, Any]:
    """A plugin's ``config`` with references rewritten and secrets out of the file (a secret
    written in it is named after the plugin and the key, after ``prefix`` too when given: an
    environment's)."""
    if not isinstance(config, dict):
        if config is not None:
            ctx.report.warning(where, subject, "config is not a mapping: left out")
        return {}
    sensitive = ctx.sensitive.get((kind, p["name"]), set())
    out: dict[str, Any] = {}
    for key, value in config.items():
        secret = key in sensitive or is_secret_key(key)
        owner = f"{prefix}_{p['name']}" if prefix else p["name"]
        out[key] = _secret_value(ctx, owner, key, value, secret, where, subject)
    return drop_nulls(ctx, out, where, subject, "config")


def _secret_value(ctx: Context, plugin: str, key: str, value: Any, secret: bool, where: str,
                  subject: str) -> Any:
    if isinstance(value, dict):
        return {k: _secret_value(ctx, plugin, f"{key}_{k}", v, secret or is_secret_key(k),
                                 where, subject) for k, v in value.items()}
    if secret and isinstance(value, str | int | float) and not isinstance(value, bool) \
            and "$" not in str(value) and str(value) != "":
        ref = secret_name(plugin, key)
        ctx.interp.secrets.setdefault(ref, where)
        ctx.report.person(where, subject, f"config {key} is written in meltano.yml as plain "
                          f"text; it became ${{secret.{ref}}} and its value was not copied")
        return f"${{secret.{ref}}}"
    return ctx.interp.value(value, secret=secret, where=where)


def drop_nulls(ctx: Context, value: Any, where: str, subject: str, path: str) -> Any:
    """TOML has no null: a null value is left out (Meltano treats it as unset), reported."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if v is None:
                ctx.report.dropped(where, subject, f"{path}.{k} is null: left out (TOML has no "
                                   "null; Meltano treats it as unset)")
            else:
                out[str(k)] = drop_nulls(ctx, v, where, subject, f"{path}.{k}")
        return out
    if isinstance(value, list):
        if any(v is None for v in value):
            ctx.report.dropped(where, subject, f"nulls in the list {path} left out")
        return [drop_nulls(ctx, v, where, subject, path) for v in value if v is not None]
    return value


def env_table(ctx: Context, env: dict[str, Any], where: str) -> dict[str, str]:
    """An ``env`` mapping: values as strings, references rewritten."""
    return {str(k): ctx.interp.text("" if v is None else str(v).lower()
                                    if isinstance(v, bool) else str(v),
                                    secret=is_secret_key(str(k)), where=where, own=str(k))
            for k, v in env.items()}


def singer_extras(ctx: Context, p: YMap, table: dict[str, Any], subject: str) -> set[str]:
    """``select``, ``metadata`` and ``schema`` as written (never interpolated), and what has
    no equivalent reported. ``_select``-style extras inside ``config`` count too."""
    config = p.get("config") if isinstance(p.get("config"), dict) else {}
    for key in _EXTRA_KEYS:
        value = p.get(key, (config or {}).get(f"_{key}"))
        if value is None:
            continue
        where = p.at(key) if key in p else p.at("config")
        if key in SINGER_EXTRAS:
            if (key == "select" and isinstance(value, list)) or \
                    (key != "select" and isinstance(value, dict)):
                table[key] = literal(drop_nulls(ctx, value, where, subject, key))
            else:
                ctx.report.warning(where, subject, f"{key} is not a "
                                   f"{'list' if key == 'select' else 'mapping'}: left out")
        elif key in PERSON:
            ctx.report.person(where, subject, f"{key}: {PERSON[key]}")
        else:
            ctx.report.dropped(where, subject, f"{key}: {DROPPED[key]}")
    return set(_EXTRA_KEYS)


def leftovers(ctx: Context, kind: str, p: YMap, done: set[str]) -> None:
    """Report every key of the plugin no step took."""
    subject = f"plugins.{kind}.{p['name']}"
    for key in p:
        if key in done or (key == "variant" and not p.get("pip_url") and kind != "mappers"):
            # (a variant without pip_url is in what needs a person already)
            continue
        if key in DROPPED:
            ctx.report.dropped(p.at(key), subject, f"{key}: {DROPPED[key]}")
        elif key in PERSON:
            ctx.report.person(p.at(key), subject, f"{key}: {PERSON[key]}")
        else:
            ctx.report.warning(p.at(key), subject, f"unknown key '{key}': left out")
