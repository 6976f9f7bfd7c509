"""Pydantic models of the core-owned sections of ``stack.toml``.

``[stack]``, ``[state]``, ``[vars]``, ``[environments.NAME]``, ``[pipelines.NAME]`` and
``[tests.NAME]`` belong to core; every other top-level table is a provider kind whose blocks its
provider's ``Config`` validates (see :mod:`stackform.config.resolve`). Models are strict (TOML
already has types, so ``"5"`` is never silently an integer) and forbid unknown keys, so a typo
is a located error.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackform.s3.settings import bucket_problem, endpoint_problem, shown_url

CORE_SECTIONS = ("stack", "state", "vars", "env", "environments", "pipelines", "tests")
DEPENDS_ON = "depends_on"
"""The one key of a provider block that core owns (explicit dependencies, by address)."""

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
ENV_VAR_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""A process environment variable's name (``[env]``)."""


def _env_names(value: dict[str, str]) -> dict[str, str]:
    for name in value:
        if not ENV_VAR_RE.fullmatch(name):
            raise ValueError(f"'{name}' is not an environment variable name (letters, digits "
                             "and '_', not starting with a digit)")
    return value
"""Block, pipeline and var names: no dots (addresses) or colons (``step:command``)."""
STACK_NAME_RE = re.compile(r"[a-z][a-z0-9_-]*")


def env_identifier(env: str) -> str:
    """An environment name as a SQL identifier part (dbt's own rule for schema names): lower
    case, anything but letters, digits and ``_`` as ``_``: ``dev-dana`` -> ``dev_dana``."""
    return re.sub(r"[^a-z0-9_]", "_", env.lower())


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class StackSection(_Section):
    """``[stack]``: what the stack is called and which stackform versions it works with."""

    name: str
    requires: str | None = None
    description: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not STACK_NAME_RE.fullmatch(value):
            raise ValueError(
                "a stack name is lower-case letters, digits, '-' and '_', starting with a letter"
            )
        return value

    @field_validator("requires")
    @classmethod
    def _requires(cls, value: str | None) -> str | None:
        if value is None:
            return value
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        try:
            SpecifierSet(value)
        except InvalidSpecifier:
            raise ValueError(
                f"'{value}' is not a version specifier (PEP 440), e.g. '>=0.1,<1'"
            ) from None
        return value


class StateSection(_Section):
    """``[state]``: where each environment's state lives."""

    backend: Literal["local", "s3"] = "local"
    path: str | None = None
    """Local backend: folder holding the state files (default ``.stackform/state``)."""
    bucket: str | None = None
    prefix: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        # The file is also checked before interpolation: a value with ${...} is checked after.
        problem = bucket_problem(value) if value is not None and "${" not in value else None
        if problem:
            raise ValueError(f"'{value}' is not a valid S3 bucket name: {problem}")
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        problem = endpoint_problem(value) if value is not None and "${" not in value else None
        if problem:
            raise ValueError(f"'{shown_url(value or '')}' {problem}")
        return value

    @model_validator(mode="after")
    def _fits_backend(self) -> StateSection:
        s3_keys = [k for k in ("bucket", "prefix", "region", "endpoint_url", "profile")
                   if getattr(self, k) is not None]
        if self.backend == "s3":
            if self.bucket is None:
                raise ValueError('backend = "s3" needs a bucket, e.g. bucket = "acme-state"')
            if self.path is not None:
                raise ValueError('`path` is for backend = "local"; the s3 backend takes '
                                 "bucket, prefix, region, endpoint_url and profile")
        elif s3_keys:
            raise ValueError(f"{', '.join(s3_keys)} belong to backend = \"s3\"; the local "
                             "backend takes only `path`")
        return self


class EnvironmentSection(_Section):
    """``[environments.NAME]``: how one environment differs and behaves."""

    vars: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    """Process environment of every block that runs processes, over the stack's ``[env]``."""
    override: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    """kind -> block name -> fields, deep-merged over the base block for this environment."""
    protected: bool = False
    per_developer: bool = False
    default: bool = False
    branches: list[str] = Field(default_factory=list)
    """For a protected environment: fnmatch patterns of the branches it may be applied from
    (default: the repository's default branch)."""
    description: str | None = None

    _env = field_validator("env")(_env_names)


SCHEDULE_PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly",
                    "@quarterly", "@yearly", "@annually")
"""The cron macros orchestrators understand (Airflow's presets) besides cron expressions."""
_CRON_FIELD_RE = re.compile(r"[0-9A-Za-z*?/,#-]+")


def schedule_problem(schedule: str) -> str | None:
    """Why a pipeline's ``schedule`` is not a cron expression or a preset, or ``None``.

    Only the shape is checked here (five fields, cron's characters); ranges are the
    orchestrator's business (``stackform validate --deep`` imports DAGs with Airflow). An empty
    string means *not scheduled*, so ``schedule = "${var.cron}"`` may switch one off per
    environment.
    """
    text = schedule.strip()
    if not text:
        return None
    if text.startswith("@"):
        if text in SCHEDULE_PRESETS:
            return None
        return f"unknown schedule preset '{text}' (known: {', '.join(SCHEDULE_PRESETS)})"
    fields = text.split()
    if len(fields) != 5 or not all(_CRON_FIELD_RE.fullmatch(f) for f in fields):
        return (f"'{schedule}' is not a cron expression: five fields (minute hour day-of-month "
                "month day-of-week), e.g. '0 6 * * *', or a preset such as '@daily'")
    return None


class PipelineSection(_Section):
    """``[pipelines.NAME]``: steps run in order by ``stackform run NAME``."""

    steps: list[str] = Field(min_length=1)
    schedule: str | None = None
    depends_on: list[str] = Field(default_factory=list)
    description: str | None = None
    bookmark: Literal["pipeline", "shared"] = "pipeline"
    """Whose bookmark each extractor-to-loader chain keeps: the pipeline's own, or one shared
    by every pipeline running the same extractor into the same loader."""


class CheckSection(_Section):
    """``[tests.NAME]``: a check ``stackform test`` runs (docs/testing.md): ``sql`` against
    the warehouse of the block ``connection`` names must return no rows, or a row count
    within ``min_rows``..``max_rows`` when either is given."""

    sql: str = Field(min_length=1)
    connection: str
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=0)
    description: str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> CheckSection:
        if (self.min_rows is not None and self.max_rows is not None
                and self.min_rows > self.max_rows):
            raise ValueError(f"min_rows ({self.min_rows}) is above max_rows ({self.max_rows})")
        return self


class CoreSections(_Section):
    """The core tables of a stack file, validated in one pass so error locations are full
    key paths."""

    stack: StackSection
    state: StateSection = Field(default_factory=StateSection)
    vars: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    """``[env]``: process environment of every block that runs processes."""
    environments: dict[str, EnvironmentSection] = Field(default_factory=dict)
    pipelines: dict[str, PipelineSection] = Field(default_factory=dict)
    tests: dict[str, CheckSection] = Field(default_factory=dict)

    _env = field_validator("env")(_env_names)

    @property
    def default_environment(self) -> str | None:
        for name, env in self.environments.items():
            if env.default:
                return name
        return None
