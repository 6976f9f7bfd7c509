"""The blocks of the Superset provider: ``[bi.NAME]`` (one server, its service account, its
asset folder and the environment's database connections) and ``[dashboards.NAME]``."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from stackform_superset.bundle import MASK, uri_password


class DatabaseConnection(BaseModel):
    """``[bi.NAME.databases.KEY]``: where the asset folder's database ``KEY`` (its
    ``database_name``) points in this environment."""

    model_config = ConfigDict(extra="forbid")
    sqlalchemy_uri: str
    password: str | None = None
    schemas: dict[str, str] = Field(default_factory=dict)
    """Schema in the asset files -> this environment's schema."""
    schema_from: str | None = None
    """``transformers.NAME``: every dataset not in ``schemas`` follows the schema that block
    exports in this environment (a dbt block's: ``analytics_dev_alice``)."""

    @field_validator("schema_from")
    @classmethod
    def _a_block(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+", value):
            raise ValueError('schema_from names a block: "transformers.NAME"')
        return value

    @field_validator("sqlalchemy_uri")
    @classmethod
    def _no_password_inside(cls, value: str) -> str:
        if uri_password(value) not in (None, "", MASK):
            # The message must not repeat the value: it holds the password.
            raise ValueError("sqlalchemy_uri holds a password: write it without one and set "
                             "`password` (a ${secret.X}) beside it")
        return value


class BiConfig(BaseModel):
    """``[bi.NAME]``: one Apache Superset server."""

    model_config = ConfigDict(extra="forbid")
    url: str
    username: str
    password: str
    assets: str
    """The asset folder (Superset's layout), relative to the stack's folder."""
    disallow_edits: bool = False
    """Mark imported objects as managed externally (Superset hides "Edit" in its UI)."""
    uuid_mode: Literal["same", "per_environment"] = "same"
    """``same``: one server per environment, the folder's UUIDs everywhere.
    ``per_environment``: UUIDs derived per environment, names and slugs suffixed, so several
    environments (every ``dev-<user>``) share one server."""
    databases: dict[str, DatabaseConnection] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return value.rstrip("/")


class DashboardConfig(BaseModel):
    """``[dashboards.NAME]``: one dashboard of a bi block's asset folder, by uuid or slug."""

    model_config = ConfigDict(extra="forbid")
    bi: str
    """The bi block: ``main`` or ``bi.main``."""
    uuid: str | None = None
    slug: str | None = None

    @model_validator(mode="after")
    def _one_identity(self) -> DashboardConfig:
        if (self.uuid is None) == (self.slug is None):
            raise ValueError("set exactly one of uuid and slug")
        return self

    @property
    def bi_address(self) -> str:
        return self.bi if self.bi.startswith("bi.") else f"bi.{self.bi}"
