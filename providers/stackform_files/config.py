"""The schema of a ``[files.NAME]`` block.

```toml
[files.env]
path = "transform/.env"                  # relative to the stack folder
content = "TOKEN=${secret.token}\\n"      # or: template = "templates/env.tmpl"
# vars = { token = "${secret.token}" }   # only with template
# mode = "0600"                          # default "0644", "0600" when the content is sensitive
# create_dirs = true
```
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

VarValue = str | int | float | bool

_MODE = re.compile(r"0?[0-7]{3}")


class FilesConfig(BaseModel):
    """One file, written from a literal ``content`` or a ``template`` rendered with ``vars``."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, description="Where the file goes, relative to the stack.")
    content: str | None = Field(default=None, description="The file's text, exactly.")
    template: str | None = Field(
        default=None,
        description="A template file (relative to the stack) with $name / ${name} placeholders.",
    )
    vars: dict[str, VarValue] = Field(
        default_factory=dict, description="Values for the template's placeholders."
    )
    mode: str | None = Field(
        default=None,
        description='Octal permissions such as "0644". Unset: "0644", or "0600" when the '
        "content is sensitive.",
    )
    create_dirs: bool = Field(default=True, description="Create missing parent folders.")

    @field_validator("mode", mode="before")
    @classmethod
    def _mode_is_octal_string(cls, value: Any) -> Any:
        # TOML reads `mode = 0o644` as the integer 420 and `mode = 644` as 644: an integer is
        # ambiguous, so only the quoted form is accepted.
        if isinstance(value, int):  # bool included
            raise ValueError('write the mode as a quoted octal string, e.g. mode = "0644"')
        return value

    @field_validator("mode")
    @classmethod
    def _normalise_mode(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _MODE.fullmatch(value):
            raise ValueError(
                f'mode must be an octal permission string such as "0644" or "0600", not {value!r}'
            )
        return value.rjust(4, "0")

    @model_validator(mode="after")
    def _one_source(self) -> FilesConfig:
        if (self.content is None) == (self.template is None):
            raise ValueError("set exactly one of content or template")
        if self.vars and self.template is None:
            raise ValueError("vars only apply to a template; with content, write the text directly")
        return self
