"""A utility's command line and environment for one command: the one rule, for pipeline steps
(``sqlfluff:lint``) and for running the tool by hand.

The environment is the venv's, then the block's ``env`` (with the stack's and the environment's
under it), then its ``config`` as ``<NAME>_<KEY>`` variables (``[utilities.sqlfluff] config =
{ dialect = "duckdb" }`` -> ``SQLFLUFF_DIALECT=duckdb``; nested tables join their keys with
``_``; arrays and tables under a key as JSON, booleans as ``true``/``false``), then the
command's own ``env``.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError
from stackform.inspection import Invocation
from stackform.plugins.installs import Venv
from stackform.plugins.kit import executable_name, plugin_environ
from stackform.provider import typed_config
from stackform.resource import Resource
from stackform_utilities.config import CommandSpec, UtilityConfig


def env_name(*parts: str) -> str:
    """``("my-tool", "max.line")`` -> ``MY_TOOL_MAX_LINE``."""
    return re.sub(r"[^A-Za-z0-9]", "_", "_".join(parts)).upper()


def config_env(name: str, config: Mapping[str, Any]) -> dict[str, str]:
    """A utility's ``config`` as environment variables."""
    out: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and value:
            out.update(config_env(env_name(name, key), value))
        elif isinstance(value, bool):
            out[env_name(name, key)] = "true" if value else "false"
        elif isinstance(value, (list, dict)):
            out[env_name(name, key)] = json.dumps(value)
        else:
            out[env_name(name, key)] = str(value)
    return out


def command_problem(config: UtilityConfig, command: str | None) -> tuple[str, str] | None:
    """Why ``command`` is not one of the block's commands: (message, hint), or None."""
    known = ", ".join(sorted(config.commands)) or "none declared"
    if command is None:
        return ("a utility step names one of its commands: NAME:COMMAND",
                f"commands: {known}")
    if command not in config.commands:
        return (f"unknown command '{command}'",
                did_you_mean(command, config.commands) or f"commands: {known}")
    return None


def command_line(resource: Resource, venv: Venv, command: str | None, cwd: Path,
                 extra_args: Sequence[str] = ()) -> Invocation:
    """The command line and environment of ``command`` (None: the executable alone), with
    ``extra_args`` after the command's own arguments, run from ``cwd``."""
    config = typed_config(resource, UtilityConfig)
    args: list[str] = []
    command_env: dict[str, str] = {}
    executable = executable_name(config.pip_url, config.executable)
    if command is not None:
        problem = command_problem(config, command)
        if problem is not None:
            raise StackformError(f"{resource.address}: {problem[0]}", hint=problem[1])
        spec = config.commands[command]
        if isinstance(spec, CommandSpec):
            args = shlex.split(spec.args) if isinstance(spec.args, str) else list(spec.args)
            command_env = dict(spec.env)
            executable = spec.executable or executable
        else:
            args = shlex.split(spec)
    exe = venv.executable(executable)
    env = plugin_environ(venv, resource)
    env.update(config_env(resource.name, resource.attributes.get("config") or {}))
    env.update(command_env)
    return Invocation((str(exe), *args, *extra_args), env, cwd)
