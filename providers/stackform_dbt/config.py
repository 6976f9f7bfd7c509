"""The block of ``[transformers.NAME]``: a dbt adapter, a project and the environment's target."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stackform.plugins.spec import nonempty_pip_url


class _Target(BaseModel):
    """What every target declares; other keys go to the adapter as written."""

    model_config = ConfigDict(extra="allow", serialize_by_alias=True, validate_by_name=True,
                              validate_by_alias=True)

    schema_: str | None = Field(
        None, alias="schema",
        description="Schema dbt builds into (default: analytics_<environment>)")
    threads: int = Field(1, ge=1, description="dbt's threads")


class DuckDBTarget(_Target):
    """``type = "duckdb"``: a DuckDB database file."""

    type: Literal["duckdb"]
    path: str = Field(description="The database file, relative to the stack's folder")


class PostgresTarget(_Target):
    """``type = "postgres"``: a PostgreSQL database."""

    type: Literal["postgres"]
    host: str = "localhost"
    port: int = 5432
    user: str
    password: str | None = None
    dbname: str


Target = Annotated[DuckDBTarget | PostgresTarget, Field(discriminator="type")]


class TransformerConfig(BaseModel):
    """A dbt project, the adapter that runs it, and where it builds in this environment."""

    model_config = ConfigDict(extra="forbid")

    pip_url: str | list[str] = Field(
        description="The adapter to install, e.g. 'dbt-duckdb==1.11.1 dbt-core<1.12'")
    python: str | None = Field(None, description="Python version for dbt's venv")
    project_dir: str = Field("transform", description="The dbt project, relative to the stack")
    target: Target | None = Field(
        None, description="The connection (default: DuckDB at warehouse/<environment>.duckdb)")
    vars: dict[str, Any] = Field(default_factory=dict, description="Passed to dbt as --vars")
    profile: str | None = Field(
        None, description="Profile name (default: the project's `profile:`)")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables for dbt's process")

    _pip_url = field_validator("pip_url")(staticmethod(nonempty_pip_url))
