"""The blocks of ``[extractors.NAME]`` and ``[loaders.NAME]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from stackform.plugins.spec import nonempty_pip_url


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

    _pip_url = field_validator("pip_url")(staticmethod(nonempty_pip_url))


class ExtractorConfig(PluginConfig):
    """A tap: what to install, its settings, and which streams and properties to extract."""

    model_config = ConfigDict(extra="forbid", populate_by_name=False)

    select: list[str] = Field(
        default_factory=list,
        description="Meltano-style rules: 'stream.property', wildcards, '!' to exclude; "
        "empty keeps the tap's defaults")
    metadata: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Per-stream catalog metadata, e.g. replication-method, replication-key")
    allow_empty_selection: bool = Field(
        False,
        description="Let `stackform run` run the tap when the selection selects no stream "
        "(a warning then), instead of failing")
    refresh_catalog: bool = Field(
        False,
        description="Run discovery again at every plan (read-only) and show what changed at "
        "the source, as `stackform plan --refresh-catalog` does")
    schema_overrides: dict[str, dict[str, dict[str, Any]]] = Field(
        default_factory=dict, alias="schema",
        description="JSON schema of properties, replacing what discovery says: "
        "[extractors.X.schema.STREAM.PROPERTY] (patterns allowed; a property named without "
        "wildcards that the stream lacks is added)")

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        # Recorded only when set: states written before the setting existed stay current, and
        # an upgrade of stackform does not show every extractor as changed.
        for flag in ("allow_empty_selection", "refresh_catalog"):
            if data.get(flag) is False:
                del data[flag]
        overrides = data.pop("schema_overrides", None)
        if overrides:
            data["schema"] = overrides  # as the stack file writes it
        return data

    @field_validator("select")
    @classmethod
    def _rules_usable(cls, value: list[str]) -> list[str]:
        from stackform_singer.catalog.rules import rule_problems

        problems = rule_problems(value)
        if problems:
            raise _located("ExtractorConfig", [((i,), message, None, False)
                                               for i, message in problems])
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_keys(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        # A misspelt key (replication_key) would be ignored by the tap without a word; what
        # needs the catalog (a key the tap uses, a property that exists) is checked at plan.
        from stackform_singer.catalog.metadata import key_problems

        problems = key_problems(value)
        if problems:
            raise _located("ExtractorConfig", [(path, message, hint, bool(path))
                                               for path, message, hint in problems])
        return value


class LoaderConfig(PluginConfig):
    """A target: what to install and its settings."""


class MapperConfig(PluginConfig):
    """A Singer mapper (``meltano-map-transformer``): what to install and its settings, e.g.
    ``config = { stream_maps = {...} }``; it runs between a pipeline's extractor and loader."""


def _located(title: str, problems: Sequence[tuple[tuple[str | int, ...], str, str | None, bool]]
             ) -> ValidationError:
    """One validation error per problem, each at its key path inside the field, so the stack
    file reports it where it is written; ``hint`` and ``at_key`` (point at the key rather than
    its value) travel in the error's context."""
    return ValidationError.from_exception_data(title, [
        InitErrorDetails(type=PydanticCustomError("stackform", "{message}",
                                                  {"message": message, "hint": hint,
                                                   "at_key": at_key}),
                         loc=path, input=None)
        for path, message, hint, at_key in problems
    ])
