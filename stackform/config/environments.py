"""Which environment a stack is resolved for, and the vars it sees.

The environment asked for (or the stack's default, or ``dev``) is looked up among those the
stack declares; a ``per_developer`` one becomes ``NAME-<developer>`` unless asked for by its full
name. Its ``vars`` are laid over the stack's own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackform.config.loader import StackFile
from stackform.config.model import EnvironmentSettings
from stackform.config.schema import EnvironmentSection
from stackform.diagnostics import Diagnostic, Diagnostics, did_you_mean
from stackform.envnames import ENV_NAME_RE
from stackform.errors import StackformError
from stackform.gitinfo import developer_name
from stackform.resource import KeyPath

DEFAULT_ENV = "dev"


def pick_environment(
    stack_file: StackFile, env: str | None, developer: str | None, diags: Diagnostics,
    exact: bool = False, base_env: str | None = None,
) -> tuple[EnvironmentSettings, str, EnvironmentSection | None]:
    """(the environment's settings, its effective name, its section when declared).

    ``base_env`` resolves ``env`` as a throwaway environment of that declared one: its vars
    and overrides, under the name ``env`` (``stackform test``)."""
    declared = stack_file.core.environments
    if base_env is not None and env:
        return _throwaway(stack_file, env, base_env)
    requested = env or stack_file.core.default_environment or DEFAULT_ENV
    base = requested
    section = declared.get(requested)
    if section is None and declared:
        # dev-alice is dev's per-developer environment, asked for by its full name.
        for name, candidate in declared.items():
            if candidate.per_developer and requested.startswith(f"{name}-"):
                base, section = name, candidate
                break
        else:
            known = ", ".join(declared)
            if env:
                message = f"unknown environment '{requested}'"
                hint = did_you_mean(requested, declared) or f"declared: {known}"
            else:
                message = f"no --env given, no environment is `default = true`, and " \
                    f"'{requested}' is not declared"
                hint = f"pass --env NAME ({known}) or mark one `default = true`"
            diags.add(Diagnostic(message, path="environments",
                                 location=stack_file.location(("environments",), True),
                                 hint=hint))
    effective = requested
    if section is not None and section.per_developer and requested == base and not exact:
        if developer is None:
            developer = developer_name(stack_file.dir)
        effective = f"{base}-{developer}"
    if not ENV_NAME_RE.fullmatch(effective):
        # The name came from the command line (or the developer's name), not the file.
        raise StackformError(f"invalid environment name '{effective}'",
                             hint="use lower-case letters, digits, '-' and '_'")
    if section is None:
        return EnvironmentSettings(name=base), effective, None
    settings = EnvironmentSettings(
        name=base,
        protected=section.protected,
        per_developer=section.per_developer,
        default=section.default,
        declared=True,
        branches=tuple(section.branches),
    )
    return settings, effective, section


def _throwaway(stack_file: StackFile, env: str, base: str
               ) -> tuple[EnvironmentSettings, str, EnvironmentSection | None]:
    if not ENV_NAME_RE.fullmatch(env):
        raise StackformError(f"invalid environment name '{env}'",
                             hint="use lower-case letters, digits, '-' and '_'")
    declared = stack_file.core.environments
    section = declared.get(base)
    if section is None:
        if declared:
            raise StackformError(f"unknown base environment '{base}'",
                                 hint=did_you_mean(base, declared)
                                 or f"declared: {', '.join(declared)}")
        return EnvironmentSettings(name=env), env, None
    settings = EnvironmentSettings(name=base, protected=section.protected, per_developer=False,
                                   default=False, declared=True,
                                   branches=tuple(section.branches))
    return settings, env, section


def stack_vars(
    stack_file: StackFile, settings: EnvironmentSettings
) -> tuple[dict[str, Any], dict[str, KeyPath]]:
    """The vars the environment sees (its own over the stack's), and where each is written."""
    vars_: dict[str, Any] = dict(stack_file.data.get("vars") or {})
    var_sources: dict[str, KeyPath] = {name: ("vars", name) for name in vars_}
    raw_env_vars = _env_table(stack_file, settings).get("vars") or {}
    for name, value in raw_env_vars.items():
        vars_[name] = value
        var_sources[name] = ("environments", settings.name, "vars", name)
    return vars_, var_sources


def _env_table(stack_file: StackFile, settings: EnvironmentSettings) -> Mapping[str, Any]:
    if not settings.declared:
        return {}
    environments = stack_file.data.get("environments") or {}
    table = environments.get(settings.name)
    return table if isinstance(table, dict) else {}
