"""The block of ``[orchestrators.NAME]``: where DAGs are deployed, the Airflow that validates
them, and what every generated DAG runs on the workers."""

from __future__ import annotations

import re
from datetime import date

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackform.errors import StackformError
from stackform.s3.settings import S3Settings, endpoint_problem, shown_url

DURATION_RE = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TEMPLATE_MARKERS = ("{{", "{%", "{#")
"""Airflow renders a BashOperator's command and environment as Jinja templates."""


POOL_NAME_RE = re.compile(r"[A-Za-z0-9_-]+")


class PoolConfig(BaseModel):
    """``pools.NAME``: at most ``slots`` runs of these pipelines at once."""

    model_config = ConfigDict(extra="forbid")

    slots: int = Field(ge=1, description="How many runs may hit the source at once")
    pipelines: list[str] = Field(
        min_length=1, description="The pipelines whose runs take one slot each")


def duration_seconds(text: str) -> int:
    """``"90s"`` -> 90, ``"5m"`` -> 300, ``"2h"`` -> 7200, ``"1d"`` -> 86400."""
    match = DURATION_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a duration: a number and a unit, e.g. 30s, 5m, 2h, 1d")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


class AirflowConfig(BaseModel):
    """Airflow DAGs generated from the stack's scheduled pipelines."""

    model_config = ConfigDict(extra="forbid")

    dags_path: str = Field(
        description="Folder the DAG files are deployed to (Airflow's dags_folder, or a folder "
        "inside it), relative to the stack's folder; or s3://bucket/prefix (managed Airflow)")
    region: str | None = Field(None, description="With an s3:// dags_path: the bucket's region")
    endpoint_url: str | None = Field(
        None, description="With an s3:// dags_path: an S3-compatible endpoint")
    profile: str | None = Field(None, description="With an s3:// dags_path: an AWS profile")
    pip_url: str | list[str] | None = Field(
        None, description="Airflow to install for validation, e.g. 'apache-airflow==3.3.2': "
        "every generated DAG is imported with it before anything is deployed")
    python: str | None = Field(None, description="Python version of that Airflow's venv")
    workdir: str | None = Field(
        None, description="The stack's folder on the workers, where tasks run "
        "(default: the stack's folder here)")
    command: str | list[str] = Field(
        "stackform", description="How the workers call stackform (a path, or words such as "
        "'uv run stackform')")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Environment variables for the task, added to the worker's (never secrets)")
    owner: str = Field("stackform", description="The DAGs' owner")
    retries: int = Field(1, ge=0, description="Task retries")
    retry_delay: str = Field("5m", description="Wait between retries (30s, 5m, 1h)")
    timeout: str | None = Field(
        None, description="Fail a run that takes longer (Airflow's execution_timeout)")
    tags: list[str] = Field(default_factory=lambda: ["stackform"], description="DAG tags")
    catchup: bool = Field(False, description="Run missed intervals since start_date")
    start_date: str = Field("2025-01-01", description="The DAGs' start date (YYYY-MM-DD)")
    queue: str | None = Field(
        None, description="Celery queue of the task: route runs to the workers that hold the "
        "stack")
    pools: dict[str, PoolConfig] = Field(
        default_factory=dict,
        description="Airflow pools limiting concurrent runs: NAME = { slots, pipelines }")

    @field_validator("pools")
    @classmethod
    def _pools(cls, value: dict[str, PoolConfig]) -> dict[str, PoolConfig]:
        seen: dict[str, str] = {}
        for name, pool in value.items():
            if not POOL_NAME_RE.fullmatch(name):
                raise ValueError(f"'{name}' is not a pool name: letters, digits, _ and -")
            for pipeline in pool.pipelines:
                if pipeline in seen and seen[pipeline] != name:
                    raise ValueError(f"pipeline {pipeline} is in pools {seen[pipeline]} and "
                                     f"{name}: a task runs in one pool")
                seen[pipeline] = name
        return value

    @field_validator("dags_path")
    @classmethod
    def _dags_path(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("dags_path is empty")
        if value.startswith("s3://"):
            try:
                S3Settings.from_url(value)
            except StackformError as exc:
                raise ValueError(exc.reason) from None
        elif "://" in value:
            raise ValueError("dags_path is a folder or an s3://bucket/prefix")
        return value

    @model_validator(mode="after")
    def _s3_keys(self) -> AirflowConfig:
        given = [k for k in ("region", "endpoint_url", "profile") if getattr(self, k)]
        if given and not self.dags_path.startswith("s3://"):
            raise ValueError(f"{', '.join(given)} only apply to an s3:// dags_path")
        if self.endpoint_url:
            problem = endpoint_problem(self.endpoint_url)
            if problem:
                raise ValueError(f"endpoint_url '{shown_url(self.endpoint_url)}' {problem}")
        return self

    @field_validator("pip_url")
    @classmethod
    def _pip_url(cls, value: str | list[str] | None) -> str | list[str] | None:
        if value is not None and not (value.split() if isinstance(value, str) else value):
            raise ValueError("pip_url names nothing to install; leave it out to skip "
                             "validating with Airflow")
        return value

    @field_validator("command")
    @classmethod
    def _command(cls, value: str | list[str]) -> str | list[str]:
        words = command_words(value)
        if not words or not all(w.strip() for w in words):
            raise ValueError("command is empty")
        return value

    @field_validator("retry_delay", "timeout")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            duration_seconds(value)
        return value

    @field_validator("start_date")
    @classmethod
    def _start_date(cls, value: str) -> str:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{value}' is not a date: write YYYY-MM-DD") from None
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
                raise ValueError(f"'{name}' is not an environment variable name")
        return value


def command_words(command: str | list[str]) -> list[str]:
    """The command as words: a string is split like a shell would (``uv run stackform``)."""
    import shlex

    if isinstance(command, list):
        return [str(w) for w in command]
    try:
        return shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"command: {exc}") from None
