"""The optional provider capability :class:`DeclaresSettings` (listed in
:data:`stackform.provider.CAPABILITIES`): a block's settings as its own tool declares them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from stackform.resource import KeyPath

if TYPE_CHECKING:
    from pydantic import BaseModel

SettingProblem = tuple[KeyPath, str, "str | None", bool]
"""``(path in the block, message, hint, at the key rather than its value)``."""


@runtime_checkable
class DeclaresSettings(Protocol):
    """A provider whose tool declares the settings a block may set (a Singer connector's
    ``--about`` schema, recorded by ``stackform add`` or an apply)."""

    def settings_problems(self, config: BaseModel) -> Sequence[SettingProblem]:
        """The block's settings checked against what the tool declares (unknown keys, missing
        required ones, wrong types), each reported by validate and plan at its line; nothing
        when the tool declares nothing. Called at every resolve with the validated
        ``Config``: keep it cheap (a small recorded file at most) and name no value."""

    def sensitive_paths(self, config: BaseModel) -> Iterable[KeyPath]:
        """Paths in the block's dumped attributes (``("config", "sqlalchemy_url")``) that the
        tool marks secret: masked in plans and state however they are written."""
