"""Options shared by every command, and the option types reused across commands."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar

import typer

from stackform.errors import ExitCode, StackformError

if TYPE_CHECKING:
    from stackform.console import Console
    from stackform.session import Session


@dataclass
class Globals:
    """Global flags of this invocation (one process runs one command)."""

    directory: Path | None = None
    file: Path | None = None
    debug: bool = False
    plain: bool = False
    _console: Console | None = None

    _current: ClassVar[Globals | None] = None

    @classmethod
    def current(cls) -> Globals:
        if cls._current is None:
            cls._current = cls()
        return cls._current

    @classmethod
    def reset(cls) -> None:
        cls._current = None

    def console(self) -> Console:
        if self._console is None:
            from stackform.console import make_console

            self._console = make_console(self.plain)
        return self._console

    def session(self, env: str | None, strict_secrets: bool = True,
                exact_env: bool = False, base_env: str | None = None) -> Session:
        from stackform.session import open_session

        console = self.console()
        log = (lambda m: console.line(m, "muted")) if self.debug else (lambda _m: None)
        return open_session(self.directory, self.file, env, strict_secrets=strict_secrets,
                            log=log, exact_env=exact_env, base_env=base_env)


EnvOption = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment (default: the one marked default, else dev).",
                 envvar="STACKFORM_ENV"),
]
TargetOption = Annotated[
    list[str] | None,
    typer.Option("--target", help="Limit to this resource and what it depends on (repeatable).",
                 metavar="ADDR"),
]
ReplaceOption = Annotated[
    list[str] | None,
    typer.Option("--replace", help="Replace this resource even if unchanged (repeatable).",
                 metavar="ADDR"),
]
RefreshOption = Annotated[
    str,
    typer.Option("--refresh", help="Read real resources before planning (true|false).",
                 metavar="BOOL"),
]
ParallelismOption = Annotated[
    int, typer.Option("--parallelism", min=1, max=64, help="Resources worked on at once.")
]
LockTimeoutOption = Annotated[
    str,
    typer.Option("--lock-timeout", help="Wait this long for the state lock (e.g. 30s, 2m).",
                 metavar="DURATION"),
]


def parse_bool(value: str, option: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise typer.BadParameter(f"expected true or false, got {value!r}", param_hint=option)


def parse_duration(value: str, option: str = "--lock-timeout") -> float:
    """``30``, ``30s``, ``2m``, ``1h``, ``14d`` -> seconds."""
    text = value.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if text and text[-1] in units:
            return float(text[:-1]) * units[text[-1]]
        return float(text or 0)
    except ValueError:
        raise typer.BadParameter(f"expected a duration like 30s or 2m, got {value!r}",
                                 param_hint=option) from None


ProviderOptionOption = Annotated[
    list[str] | None,
    typer.Option("--provider-option", metavar="NAME",
                 help="Turn on a switch a provider of the stack takes (repeatable)."),
]
RefreshCatalogOption = Annotated[
    bool,
    typer.Option("--refresh-catalog",
                 help="Run every extractor's discovery again, read-only, and show what "
                      "changed at the source; apply records it: "
                      "--provider-option refresh_catalog."),
]


def confirm_or_exit(console: Console, action: str, question: str, flag: str = "--force") -> None:
    """Ask ``question`` before ``action``; without a terminal refuse, naming the flag that skips
    asking; a "no" exits 1."""
    if not console.is_interactive:
        raise StackformError(f"{action} needs confirmation and there is no terminal",
                             hint=f"pass {flag}")
    if not console.confirm(question):
        raise typer.Exit(ExitCode.FAILED)
