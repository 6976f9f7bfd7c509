"""Helpers of the Airflow provider's tests: resources as core resolves them, stack files, and
the Airflow the real tests install."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackform.config.model import EnvironmentSettings, Pipeline, ResolvedStack
from stackform.resource import KeyPath, Resource
from stackform.session import open_session
from stackform_airflow import AirflowProvider
from stackform_airflow.config import AirflowConfig

AIRFLOW_PIP_URL = "apache-airflow==3.3.2"
"""The Airflow the real tests install (3.3.2 installs with uv in about 3 s)."""


def resource_in(stack_dir: Path, config: Mapping[str, Any],
                schedules: Mapping[str, str | None] | None = None, *, stack: str = "conformance",
                env: str = "test", name: str = "airflow",
                sensitive: frozenset[KeyPath] = frozenset()) -> Resource:
    """An ``orchestrators`` resource with its computed ``dags``, as resolve builds it."""
    cfg = AirflowConfig.model_validate(dict(config))
    plain = Resource(f"orchestrators.{name}", "orchestrators", name, cfg,
                     cfg.model_dump(mode="json"), sensitive)
    pipelines = {p: Pipeline(p, (), s) for p, s in (schedules or {"daily": "0 6 * * *"}).items()}
    resolved = ResolvedStack(name=stack, env=env, file=stack_dir / "stack.toml", dir=stack_dir,
                             environment=EnvironmentSettings(env), state={},
                             resources={plain.address: plain}, pipelines=pipelines)
    computed = AirflowProvider().computed_attributes(resolved, plain)
    return Resource(plain.address, plain.kind, plain.name, cfg,
                    {**plain.attributes, **computed}, sensitive)


def write(folder: Path, text: str, name: str = "stack.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def files_stack(orchestrator: str = 'dags_path = "dags"', *, schedule: str = "0 6 * * *",
                name: str = "demo", extra: str = "") -> str:
    """A small stack whose pipeline steps are ``files`` blocks: no plugin to install."""
    return textwrap.dedent(f'''
        [stack]
        name = "{name}"

        [files.marker]
        path = "out/marker.txt"
        content = "hello"

        [pipelines.daily]
        steps = ["marker"]
        schedule = "{schedule}"

        [pipelines.adhoc]
        steps = ["marker"]

        [orchestrators.airflow]
        ''').lstrip("\n") + textwrap.dedent(orchestrator).strip() + "\n" + textwrap.dedent(extra)


def resolved(folder: Path, env: str | None = None, file: str | None = None) -> ResolvedStack:
    return open_session(folder, Path(file) if file else None, env, strict_secrets=False).stack
