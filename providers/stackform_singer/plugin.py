"""What extractors and loaders share beyond :mod:`stackform.plugins.kit`: the executable's name
and the plugin's ``config``, rendered without secrets for disk or whole for a run."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stackform.plugins import kit
from stackform.plugins.executables import detect
from stackform.plugins.kit import plugin_dir, requirement_name, write_private
from stackform.provider import Context
from stackform.resource import KeyPath, Resource
from stackform_singer.config import PluginConfig

if TYPE_CHECKING:
    from stackform.plugins.installs import Venv


def executable_name(config: PluginConfig, venv: Venv | None = None) -> str:
    """The command the plugin runs (:func:`stackform.plugins.kit.executable_name`); with the
    installed ``venv``, a package without a script of its name runs its only
    ``tap-*``/``target-*`` script (:func:`stackform.plugins.executables.detect`)."""
    named = kit.executable_name(config.pip_url, config.executable)
    first = config.pip_url.split()[0] if isinstance(config.pip_url, str) else config.pip_url[0]
    if venv is None or config.executable or named != requirement_name(first):
        return named  # as set, a first-party connector's own, or nothing installed to look at
    return detect(named, venv.executables()).executable


def public_config(resource: Resource) -> dict[str, Any]:
    """The plugin's ``config`` without any sensitive value (for files kept on disk)."""
    sensitive = {p[1:] for p in resource.sensitive if p and p[0] == "config"}
    if () in sensitive:
        return {}
    return _without(dict(resource.attributes.get("config") or {}), (), sensitive)


def _without(value: Any, path: KeyPath, sensitive: set[KeyPath]) -> Any:
    if isinstance(value, Mapping):
        return {k: _without(v, (*path, k), sensitive) for k, v in value.items()
                if (*path, k) not in sensitive}
    if isinstance(value, list):
        return [_without(v, (*path, i), sensitive) for i, v in enumerate(value)
                if (*path, i) not in sensitive]
    return value


def render_config(ctx: Context, resource: Resource) -> Path:
    """The non-secret part of the config, kept in the environment's folder for inspection."""
    path = plugin_dir(ctx, resource.address) / "config.json"
    write_private(path, public_config(resource))
    return path


def full_config(resource: Resource) -> dict[str, Any]:
    """The plugin's whole config, secrets included: only ever written into a runtime_dir."""
    return dict(resource.attributes.get("config") or {})


