"""The root command group, whose commands are built the first time each is asked for.

typer builds a command's click parameters from its function's signature, evaluating every
annotation; for all of stackform's commands that costs about 85 ms, paid by every command
although one runs. Here the commands are registered on a table (a plain :class:`typer.Typer`)
and the root group builds only the command click dispatches to, so ``stackform run`` pays for
``run`` alone. ``--help`` and did-you-mean still see every name (listing builds them all, as
before).

Should a later typer change the builders this calls, the group builds the whole table at once,
as typer itself would: slower, never wrong.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup
from typer.models import CommandInfo, TyperInfo

COMMANDS = typer.Typer(add_completion=False, rich_markup_mode=None,
                       pretty_exceptions_enable=False)
"""Where every command module registers its commands and groups (never built as a whole,
except as the fallback above)."""


class _Commands(MutableMapping[str, Any]):
    """Command name -> click command, each built on first use from :data:`COMMANDS`."""

    def __init__(self, table: typer.Typer) -> None:
        self._table = table
        self._infos: dict[str, CommandInfo | TyperInfo] = {}
        for command in table.registered_commands:
            assert command.callback is not None
            self._infos[command.name or typer.main.get_command_name(
                command.callback.__name__)] = command
        for group in table.registered_groups:
            assert isinstance(group.name, str), "every group is added with a name"
            self._infos[group.name] = group
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            info = self._infos[name]  # KeyError: click's "No such command"
            try:
                self._built[name] = _build(info, self._table)
            except TypeError:  # typer's builders changed: build all, as typer would
                self._built = dict(typer.main.get_group(self._table).commands)
        return self._built[name]

    def __setitem__(self, name: str, command: Any) -> None:
        self._built[name] = command
        self._infos.setdefault(name, CommandInfo(name=name))

    def __delitem__(self, name: str) -> None:
        del self._infos[name]
        self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)


def _build(info: CommandInfo | TyperInfo, table: typer.Typer) -> Any:
    if isinstance(info, TyperInfo):
        return typer.main.get_group_from_info(
            info, pretty_exceptions_short=table.pretty_exceptions_short,
            rich_markup_mode=table.rich_markup_mode, suggest_commands=table.suggest_commands)
    return typer.main.get_command_from_info(
        info, pretty_exceptions_short=table.pretty_exceptions_short,
        rich_markup_mode=table.rich_markup_mode)


class LazyGroup(TyperGroup):
    """The root group (``typer.Typer(cls=LazyGroup)``): its commands are :data:`COMMANDS`'."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(COMMANDS)
