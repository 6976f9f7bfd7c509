"""Meltano's ``$VAR`` and ``${VAR}`` in values, rewritten as stackform references.

- ``$MELTANO_PROJECT_ROOT`` becomes ``${stack.dir}`` and ``$MELTANO_ENVIRONMENT``
  ``${stack.env}``;
- a variable in a sensitive setting, under a key that names a secret, or whose own name looks
  secret (``$TAP_PG_PASSWORD``) becomes ``${secret.NAME}`` (``tap_pg_password``): the value has
  to be stored once with ``stackform secret set``;
- a variable the project's own ``env`` sets (top level or an environment's) becomes
  ``${var.VAR}``: the import declares it in ``[vars]`` (overridden per environment) and the
  ``env`` tables read it from there, so the value is written once;
- any other becomes ``${environ.VAR}``: the variable must be set where stackform runs.

A ``$`` not followed by a name (JSONPath's ``$.data[*]``) is left alone, as both tools do, and
so is ``$name`` in lower case without braces (``$special``, MongoDB's ``$match``), which Meltano
does not expand either: without braces it reads upper-case names only. A literal ``${`` Meltano
would not expand (``${lower-dash}``) is escaped as ``$${``. Values Meltano never expands
(``select`` rules, ``metadata``, ``schema``) go through :func:`literal`, which only escapes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stackform.importers.meltano.report import Report
from stackform.secret_keys import is_secret_key

# Meltano's own rule: braces take any name, a bare name is upper case only (``$lower`` stays
# text, and ``$MIXED_Case`` is ``$MIXED_C`` followed by ``ase``).
_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)|\$\{")
_BUILTIN = {"MELTANO_PROJECT_ROOT": "${stack.dir}", "MELTANO_ENVIRONMENT": "${stack.env}"}
_NAME = re.compile(r"[^a-z0-9_]+")


def secret_name(*parts: str) -> str:
    """A secret's name from Meltano names: lower case, ``_`` for anything else."""
    return _NAME.sub("_", "_".join(parts).lower()).strip("_") or "secret"


@dataclass
class Interpolator:
    """Rewrites references and remembers what the stack will need at run time."""

    report: Report
    environ: dict[str, str] = field(default_factory=dict)
    """Variables the stack reads with ``${environ.X}``, and where the first use is."""
    secrets: dict[str, str] = field(default_factory=dict)
    """Secrets the stack reads, and where the first use is."""
    project_env: set[str] = field(default_factory=set)
    """Names the project's ``env`` tables set."""
    vars_used: dict[str, str] = field(default_factory=dict)
    """Names of :attr:`project_env` that values read, and where the first use is."""

    def text(self, value: str, *, secret: bool, where: str, own: str | None = None) -> str:
        """``value`` with its references rewritten; ``own`` is the env name being defined
        (a reference to itself is to the process environment's value)."""
        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            if name is None:
                return "$${"
            if name in _BUILTIN:
                return _BUILTIN[name]
            if name in self.project_env and name != own:
                self.vars_used.setdefault(name, where)
                return f"${{var.{name}}}"
            if secret or is_secret_key(name):
                ref = secret_name(name)
                self.secrets.setdefault(ref, where)
                return f"${{secret.{ref}}}"
            self.environ.setdefault(name, where)
            return f"${{environ.{name}}}"

        return _REF.sub(sub, value)

    def value(self, value: Any, *, secret: bool, where: str) -> Any:
        """Rewrite every string of a value; a key that names a secret makes what is under it
        secret."""
        if isinstance(value, str):
            return self.text(value, secret=secret, where=where)
        if isinstance(value, dict):
            return {k: self.value(v, secret=secret or is_secret_key(str(k)), where=where)
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, secret=secret, where=where) for v in value]
        return value

    def finish(self) -> None:
        """Report what the stack needs from the machine that runs it."""
        for name, where in self.environ.items():
            if name.startswith("MELTANO_"):
                self.report.person(where, f"${name}", f"Meltano sets {name} itself and "
                                   "stackform does not: replace ${environ." + name + "}")
            else:
                self.report.person(where, f"${name}", f"became ${{environ.{name}}}: set {name} "
                                   "in the environment of every machine that runs stackform")
        for name, where in self.secrets.items():
            self.report.person(where, f"secret {name}", "store it once per machine with "
                               f"`stackform secret set {name}` (or STACKFORM_SECRET_"
                               f"{name.upper()})")


def literal(value: Any) -> Any:
    """A value stackform must not interpolate: every ``${`` escaped."""
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, dict):
        return {k: literal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v) for v in value]
    return value
