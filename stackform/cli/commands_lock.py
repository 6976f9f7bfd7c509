"""``lock``: resolve every plugin's requirements into ``stackform.lock``, or check it (CI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stackform.cli.options import EnvOption, Globals
from stackform.errors import ExitCode

if TYPE_CHECKING:
    from stackform.console import Console
    from stackform.plugins.locking import LockChange


def register(app: typer.Typer) -> None:
    app.command()(lock)


def lock(
    addresses: Annotated[
        list[str] | None,
        typer.Argument(help="Only these plugins (address or name); the others keep their "
                       "entries.", metavar="[ADDRESS]...", show_default=False),
    ] = None,
    env: EnvOption = None,
    upgrade: Annotated[bool, typer.Option(
        "--upgrade", help="Resolve again to the newest allowed versions, even when the "
        "declaration did not change.")] = False,
    check: Annotated[bool, typer.Option(
        "--check", help="Change nothing; exit 1 when stackform.lock is missing or out of "
        "date (for CI).")] = False,
    parallelism: Annotated[int, typer.Option(
        "--parallelism", min=1, max=16, help="Plugins resolved at once.")] = 4,
) -> None:
    """Pin every plugin's full dependency set in stackform.lock (commit it).

    A plugin is a block with pip_url. Entries whose declaration did not change are kept as
    they are unless --upgrade; a changed plugin is resolved again, preferring the versions it
    had. With a lock, apply installs exactly the locked set and plan shows a lock change.
    """
    from stackform.plugins.lockfile import LOCK_HINT, LOCK_NAME, load_lock
    from stackform.plugins.lockplan import (
        check_lock,
        select_plugins,
        stack_for_lock,
        stack_plugins,
        update_lock,
    )

    g = Globals.current()
    console = g.console()
    stack = stack_for_lock(g.directory, g.file, env)
    plugins = stack_plugins(stack)
    only = select_plugins(addresses, stack.resources, plugins) if addresses else None
    existing = load_lock(stack.dir)
    if check:
        checked = check_lock(plugins, existing, only)
        if checked.problems:
            for problem in checked.problems:
                console.line(problem, "error")
            console.error(f"{LOCK_NAME} is out of date", LOCK_HINT)
            raise typer.Exit(ExitCode.FAILED)
        console.line(f"{LOCK_NAME} is up to date ({_plugins(checked.checked)}).", "success")
        return
    done = update_lock(plugins, existing, stack.dir, only=only, upgrade=upgrade,
                       parallelism=parallelism, log=lambda m: console.line(m, "muted"))
    if done.outcome == "no-plugins":
        console.line("No plugins (blocks with pip_url) in this stack: nothing to lock.")
    elif done.outcome == "unchanged":
        console.line(f"{LOCK_NAME} is up to date ({_plugins(done.total)}); nothing changed.",
                     "success")
    else:
        assert done.path is not None
        _report(console, done.changes, done.path.name, done.total)


def _plugins(n: int) -> str:
    return f"{n} plugin{'s' if n != 1 else ''}"


def _report(console: Console, changes: list[LockChange], name: str, total: int) -> None:
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("add", "update", "remove")}
    out = console.line
    out(f"Wrote {name} ({_plugins(total)}): {counts['add']} added, "
        f"{counts['update']} updated, {counts['remove']} removed.", "success")
    symbols = {"add": "+", "update": "~", "remove": "-"}
    for change in changes:
        if change.action == "update":
            out(f"  ~ {change.address}")
            for line in change.packages or ("(python or declaration only)",):
                out(f"      {line}")
        else:
            n = len(change.packages)
            out(f"  {symbols[change.action]} {change.address} ({n} package{'s' if n != 1 else ''})")
