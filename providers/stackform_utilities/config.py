"""The block of ``[utilities.NAME]``: what to install, the command to run, its named commands,
environment and config."""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
)

from stackform.plugins.spec import nonempty_pip_url

COMMAND_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _splits(value: str) -> str:
    try:
        shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"cannot split the arguments into words: {exc}") from None
    return value


Args = Annotated[str, AfterValidator(_splits)]
"""Arguments as one string, split like a shell's words (no shell runs them)."""


class CommandSpec(BaseModel):
    """A command written as a table: its arguments and environment of its own."""

    model_config = ConfigDict(extra="forbid")

    args: Args | list[str] = Field(
        description="The arguments after the executable: a string split like a shell's "
        "words (no shell runs it), or a list")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables for this command only")
    executable: str | None = Field(
        None, description="Another command of the tool's venv to run (default: the block's)")
    description: str | None = Field(None, description="What the command does, for people")


Command = Annotated[
    Annotated[Args, Tag("args")] | Annotated[CommandSpec, Tag("table")],
    # One form or the other by the value's type, so an error speaks of the form written.
    Discriminator(lambda value: "args" if isinstance(value, str) else "table"),
]


class UtilityConfig(BaseModel):
    """A tool: what to install, its commands, and what it sees in its environment."""

    model_config = ConfigDict(extra="forbid")

    pip_url: str | list[str] = Field(
        description="What to install: requirements separated by spaces, or a list")
    executable: str | None = Field(
        None, description="The command to run (default: the first requirement's name)")
    python: str | None = Field(None, description="Python version for the tool's venv")
    commands: dict[str, Command] = Field(
        default_factory=dict,
        description="Named commands, each the arguments after the executable "
        "(`lint = \"lint models\"`) or a table { args, env }: pipeline steps NAME:COMMAND")
    env: dict[str, str] = Field(default_factory=dict,
                                description="Environment variables for the tool's process")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description="Settings passed as environment variables <NAME>_<KEY> (upper case, "
        "other characters as '_')")

    _pip_url = field_validator("pip_url")(staticmethod(nonempty_pip_url))

    @field_validator("commands")
    @classmethod
    def _command_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not COMMAND_NAME_RE.fullmatch(name):
                raise ValueError(f"'{name}' is not a command name (letters, digits, '-' and "
                                 "'_', starting with a letter)")
        return value
