"""``stackform invoke`` of a tap or a target: its executable, with the environment's whole
config (secrets included) in the runtime folder core provides, like a run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from stackform.inspection import Invocation
from stackform.plugins.kit import install, plugin_environ
from stackform.provider import Context
from stackform.resource import Resource
from stackform_singer.config import PluginConfig
from stackform_singer.plugin import executable_name, full_config

CONFIG_FILE = "config.json"


def plugin_invocation(ctx: Context, resource: Resource, config: PluginConfig,
                      args: Sequence[str], runtime: Path) -> Invocation:
    """``<executable> --config <runtime>/config.json ARGS`` (no ``--config`` of ours when
    ``ARGS`` give one), in the stack's folder, with the block's ``env``."""
    venv = install(ctx, resource)
    argv = [str(venv.executable(executable_name(config)))]
    if not any(a == "--config" or a.startswith("--config=") for a in args):
        argv += ["--config", str(runtime / CONFIG_FILE)]
    return Invocation(tuple([*argv, *args]), plugin_environ(venv, resource), ctx.stack_dir,
                      {CONFIG_FILE: json.dumps(full_config(resource), indent=2)})
