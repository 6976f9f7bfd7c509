"""A Singer block's ``config`` checked against the settings its connector declares.

A connector that answers ``--about --format=json`` (every Singer SDK connector) publishes its
settings schema. ``stackform add`` and every apply record it (:mod:`stackform.plugins.about`:
beside the plugin cache, keyed by what the block installs, and in state under the
``settings_schema`` output); from then on validate and plan report, at the line of the stack
file, a key the connector does not declare (with the nearest one it does), a required one that
is missing and a value of the wrong JSON type. Settings it marks secret are sensitive (masked in
plans and state) even when written literally. A connector without a schema is accepted as
before: nothing is checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stackform.diagnostics import did_you_mean
from stackform.plugins.about import (
    About,
    Setting,
    SettingsSchema,
    install_key,
    recorded_about,
)

if TYPE_CHECKING:
    from stackform.diagnostics import Diagnostic
    from stackform.provider import Context
    from stackform.resource import Resource, ResourceState
    from stackform_singer.config import PluginConfig

Problem = tuple[tuple[str | int, ...], str, str | None, bool]
"""``(path in the block, message, hint, at the key rather than the value)``."""

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "number": (int, float), "boolean": (bool,),
    "array": (list,), "object": (dict,), "null": (type(None),),
}


def recorded_for(config: PluginConfig) -> About | None:
    """What ``--about`` said for the block's install (its ``pip_url``, ``python`` and
    ``executable`` as written), when ``add`` or an apply recorded it."""
    found = recorded_about(install_key(config.pip_url, config.python, config.executable))
    return found[1] if found else None


def schema_for(config: PluginConfig) -> SettingsSchema | None:
    about = recorded_for(config)
    return about.schema if about else None


def config_problems(config: PluginConfig) -> list[Problem]:
    """:func:`settings_problems` of a block's ``config``, at their paths in the block."""
    about = recorded_for(config)
    if about is None or about.schema is None:
        return []
    who = about.name or "the connector"
    return [(("config", *path), message, hint, at_key)
            for path, message, hint, at_key in settings_problems(config.config, about.schema, who)]


def settings_problems(values: Mapping[str, Any], schema: SettingsSchema, who: str
                      ) -> list[Problem]:
    """Unknown keys, missing required ones and wrong types of ``config`` (paths under it)."""
    found: list[Problem] = []
    declared = schema.by_path()
    _check_table(values, (), declared, schema, who, found)
    for setting in schema.settings:
        if setting.required and len(setting.path) == 1 and setting.path[0] not in values:
            found.append(((), f"missing required setting '{setting.name}' of {who}",
                          _describe(setting), True))
    return found


def _check_table(values: Mapping[str, Any], path: tuple[str, ...],
                 declared: Mapping[tuple[str, ...], Setting], schema: SettingsSchema, who: str,
                 found: list[Problem]) -> None:
    names = [p[-1] for p in declared if p[:-1] == path]
    for key, value in values.items():
        here = (*path, str(key))
        setting = declared.get(here)
        if setting is None:
            if path not in schema.open_keys:
                guess = did_you_mean(str(key), names)
                found.append((here, f"{who} has no setting '{'.'.join(here)}'",
                              guess or f"its settings: {', '.join(sorted(names)) or 'none'}",
                              True))
            continue
        wrong = _wrong_type(value, setting)
        if wrong:
            found.append((here, wrong, _describe(setting), False))
        elif isinstance(value, Mapping) and any(p[:len(here)] == here and p != here
                                                for p in declared):
            # Only a table the schema describes key by key is checked key by key: an object
            # setting without properties (a mapper's stream_maps) takes any key.
            _check_table(value, here, declared, schema, who, found)


def _wrong_type(value: Any, setting: Setting) -> str | None:
    if not setting.types or setting.secret:
        return None  # not said plainly, or a secret (a placeholder while validating)
    allowed = tuple(t for name in setting.types for t in _JSON_TYPES.get(name, ()))
    if not allowed:
        return None
    ok = isinstance(value, allowed) and not (
        isinstance(value, bool) and "boolean" not in setting.types)
    if ok:
        return None
    got = type(value).__name__
    wanted = " or ".join(t for t in setting.types if t != "null")
    return f"'{setting.name}' must be {wanted}, not {got}"


def _describe(setting: Setting) -> str:
    text = setting.description or setting.name
    return text if len(text) <= 160 else text[:157] + "..."


def secret_paths(config: PluginConfig) -> list[tuple[str | int, ...]]:
    """``("config", ...)`` paths of the settings the connector marks secret that the block
    sets: sensitive however they are written."""
    schema = schema_for(config)
    if schema is None:
        return []
    return [("config", *path) for path in schema.secret_paths()
            if value_at(config.config, path) is not None]


def state_problems(ctx: Context, prior: ResourceState | None, desired: Resource,
                   config: PluginConfig) -> list[Diagnostic]:
    """At plan, on a machine without a local record (a CI runner with remote state): the same
    checks against the schema the last apply recorded in state. A setting it marks secret that
    is written literally is an error there, since this plan could not mask it."""
    doc = prior.outputs.get("settings_schema") if prior is not None else None
    if not isinstance(doc, Mapping) or recorded_for(config) is not None:
        return []
    schema = SettingsSchema.from_json(doc)
    who = config.executable or "the connector"
    found = [ctx.diagnostic(desired.address, ("config", *path), message, hint=hint, key=at_key)
             for path, message, hint, at_key in settings_problems(config.config, schema, who)]
    for path in schema.secret_paths():
        here = ("config", *path)
        if value_at(config.config, path) is not None and here not in desired.sensitive:
            found.append(ctx.diagnostic(
                desired.address, here, f"'{'.'.join(path)}' is a secret setting of {who} "
                "(recorded at the last apply), written literally: this machine has no record "
                "of the connector's settings to mask it with in the plan",
                hint='keep it in a secret: "${secret.NAME}" (`stackform secret set NAME`)'))
    return found


def value_at(values: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a nested mapping, or ``None``."""
    node: Any = values
    for key in path:
        node = node.get(key) if isinstance(node, Mapping) else None
    return node
