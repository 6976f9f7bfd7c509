"""The blocks of ``[extractors.NAME]`` and ``[loaders.NAME]``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class PluginConfig(BaseModel):
    """What every Singer plugin block declares."""

    model_config = ConfigDict(extra="forbid")

    pip_url: str | list[str] = Field(
        description="What to install: requirements separated by spaces, or a list "
        "(a local path is taken from the stack's folder)")
    executable: str | None = Field(
        None, description="The command to run (default: the first requirement's name)")
    python: str | None = Field(None, description="Python version for the plugin's venv")
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="The plugin's own settings (its config.json)")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables for the plugin's process")

    @field_validator("pip_url")
    @classmethod
    def _not_empty(cls, value: str | list[str]) -> str | list[str]:
        if not (value.split() if isinstance(value, str) else value):
            raise ValueError("pip_url names nothing to install")
        return value


class ExtractorConfig(PluginConfig):
    """A tap: what to install, its settings, and which streams and properties to extract."""

    select: list[str] = Field(
        default_factory=list,
        description="Meltano-style rules: 'stream.property', wildcards, '!' to exclude; "
        "empty keeps the tap's defaults")
    metadata: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-stream catalog metadata, e.g. replication-method, replication-key")


class LoaderConfig(PluginConfig):
    """A target: what to install and its settings."""
