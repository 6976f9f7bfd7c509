"""``lock``: resolve every plugin's requirements into ``stackform.lock``, or check it (CI)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stackform.cli.options import EnvOption, Globals
from stackform.errors import ExitCode, StackformError

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack
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
    from stackform.config.loader import find_stack_file, load_stack_file
    from stackform.config.resolve import resolve
    from stackform.plugins.lockfile import (
        LOCK_HINT,
        LOCK_NAME,
        load_lock,
        lock_path,
        plugin_requirements,
        write_lock,
    )
    from stackform.plugins.locking import build_lock, diff_locks, stale_plugins
    from stackform.registry import Registry

    g = Globals.current()
    console = g.console()
    registry = Registry()
    stack_file = load_stack_file(find_stack_file(g.directory, g.file), registry)
    # The lock itself must resolve while stale; secrets are not needed to lock.
    stack = resolve(stack_file, env, registry, strict_secrets=False, check_lock=False)
    plugins = []
    for address, resource in sorted(stack.resources.items()):
        plugin = plugin_requirements(address, resource.attributes)
        if plugin is None:
            continue
        if any(path and path[0] == "pip_url" for path in resource.sensitive):
            raise StackformError(
                f"{address}: pip_url holds a secret, and stackform.lock would write it out",
                hint="give the index credentials to uv instead (UV_INDEX_URL, "
                "UV_INDEX_<NAME>_PASSWORD or ~/.netrc) and keep pip_url plain")
        plugins.append(plugin)
    only = _select(addresses, stack, [p.address for p in plugins]) if addresses else None
    existing = load_lock(stack.dir)

    if check:
        selected = [p for p in plugins if only is None or p.address in only]
        problems = stale_plugins(selected, existing)
        if only is not None:
            problems = [p for p in problems if not p.endswith("no longer in the stack")]
        if problems:
            for problem in problems:
                console.line(problem, "error")
            console.error(f"{LOCK_NAME} is out of date", LOCK_HINT)
            raise typer.Exit(ExitCode.FAILED)
        console.line(f"{LOCK_NAME} is up to date ({len(selected)} plugin"
                     f"{'s' if len(selected) != 1 else ''}).", "success")
        return

    if not plugins and existing is None:
        console.line("No plugins (blocks with pip_url) in this stack: nothing to lock.")
        return
    entries = build_lock(plugins, existing, only=only, upgrade=upgrade, stack_dir=stack.dir,
                         parallelism=parallelism, log=lambda m: console.line(m, "muted"))
    changes = diff_locks(existing.entries if existing else {}, entries)
    path = lock_path(stack.dir)
    if existing is not None and not changes:
        n = len(entries)
        console.line(f"{LOCK_NAME} is up to date ({n} plugin{'s' if n != 1 else ''}); "
                     "nothing changed.", "success")
        return
    write_lock(stack.dir, entries)
    _report(console, changes, path.name, len(entries))


def _select(requested: list[str], stack: ResolvedStack, plugins: list[str]) -> set[str]:
    """Addresses from the command line; a bare name works when it names one plugin."""
    out: set[str] = set()
    for ref in requested:
        if ref in stack.resources:
            out.add(ref)
            continue
        matches = [a for a in plugins if a.partition(".")[2] == ref]
        if len(matches) == 1:
            out.add(matches[0])
            continue
        raise StackformError(
            f"'{ref}' is ambiguous: it names {', '.join(matches)}" if matches
            else f"unknown plugin '{ref}'",
            hint=f"plugins in this stack: {', '.join(plugins) or 'none'}")
    return out


def _report(console: Console, changes: list[LockChange], name: str, total: int) -> None:
    counts = {a: sum(1 for c in changes if c.action == a) for a in ("add", "update", "remove")}
    out = console.line
    out(f"Wrote {name} ({total} plugin{'s' if total != 1 else ''}): {counts['add']} added, "
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
