"""``state list|show|rm|mv|pull|push|history|rollback|migrate`` and ``force-unlock``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from stackform.cli.commands_migrate import state_migrate
from stackform.cli.options import (
    EnvOption,
    Globals,
    LockTimeoutOption,
    confirm_or_exit,
    parse_duration,
)
from stackform.errors import StackformError

state_app = typer.Typer(help="Inspect and edit recorded state (no resource is changed).",
                        no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    state_app.command("migrate")(state_migrate)
    app.add_typer(state_app, name="state")
    app.command("force-unlock")(force_unlock)


@state_app.command("list")
def state_list(env: EnvOption = None,
               prefix: Annotated[str | None, typer.Argument(help="Only addresses starting "
                                                            "with this.")] = None) -> None:
    """List the resources recorded for an environment."""
    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    state = session.read_state()
    for address in sorted(state.resources if state else {}):
        if prefix is None or address.startswith(prefix):
            g.console().data(address)


@state_app.command("show")
def state_show(address: str, env: EnvOption = None) -> None:
    """Show one recorded resource (sensitive values as "(sensitive)")."""
    from stackform.resource import redact

    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    state = session.read_state()
    resource = state.resources.get(address) if state else None
    if resource is None:
        raise StackformError(f"no resource {address!r} in the state of {session.stack.env}",
                             hint="see `stackform state list`")
    g.console().data(json.dumps(redact(resource.to_json()), indent=2))


@state_app.command("rm")
def state_rm(addresses: list[str], env: EnvOption = None,
             lock_timeout: LockTimeoutOption = "0s") -> None:
    """Forget resources without destroying them."""
    from stackform.state.edit import without_resources

    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    with session.backend.lock(session.stack.env, "state rm", parse_duration(lock_timeout)):
        state = session.read_state()
        new = without_resources(state, addresses)
        session.backend.write(session.stack.env, new.next(session.git), state)
    g.console().line(f"Removed {len(addresses)} resource(s) from state; nothing was destroyed.",
                     "success")


@state_app.command("mv")
def state_mv(source: str, destination: str, env: EnvOption = None,
             lock_timeout: LockTimeoutOption = "0s") -> None:
    """Rename a recorded resource (after renaming its block), so it is not re-created."""
    from stackform.state.edit import with_resource_moved

    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    with session.backend.lock(session.stack.env, "state mv", parse_duration(lock_timeout)):
        state = session.read_state()
        new = with_resource_moved(state, source, destination)
        session.backend.write(session.stack.env, new.next(session.git), state)
    g.console().line(f"Moved {source} to {destination}.", "success")


@state_app.command("pull")
def state_pull(env: EnvOption = None) -> None:
    """Print the environment's state document (JSON) to stdout."""
    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    state = session.read_state()
    if state is None:
        raise StackformError(f"environment {session.stack.env} has no state")
    g.console().raw(state.pretty())


@state_app.command("push")
def state_push(
    file: Annotated[Path, typer.Argument(help="A state document (from state pull), or - .")],
    env: EnvOption = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a state of another "
                                        "lineage or a newer serial.")] = False,
    lock_timeout: LockTimeoutOption = "0s",
) -> None:
    """Replace the environment's state with a document (refuses a foreign or older one).

    Works when the current document is unreadable: that one is kept aside, not deleted."""
    from stackform.state.model import State
    from stackform.state.push import push

    g = Globals.current()
    try:
        text = sys.stdin.read() if str(file) == "-" else file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise StackformError(f"cannot read {file}: {getattr(exc, 'strerror', None) or exc}"
                             ) from None
    pushed = State.loads(text, source=str(file))
    session = g.session(env, strict_secrets=False)
    env_name = session.stack.env
    with session.backend.lock(env_name, "state push", parse_duration(lock_timeout)):
        done = push(session.backend, env_name, session.stack.name, pushed, force)
    console = g.console()
    if done.set_aside:
        console.line(f"The unreadable state document was kept at {done.set_aside}.")
    console.line(f"Pushed state to {env_name} (serial {done.written.serial}).", "success")


def force_unlock(
    lock_id: Annotated[str, typer.Argument(metavar="ID", help="The lock id from the error.")],
    env: EnvOption = None,
    yes: Annotated[bool, typer.Option("--force", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove a stale state lock left by a process that died."""

    g = Globals.current()
    console = g.console()
    session = g.session(env, strict_secrets=False)
    info = session.backend.lock_info(session.stack.env)
    if info is not None:
        console.line(info.describe())
    if not yes:
        confirm_or_exit(console, "force-unlock", f"Remove lock {lock_id} of {session.stack.env}?")
    session.backend.force_unlock(session.stack.env, lock_id)
    console.line(f"Lock {lock_id} removed.", "success")


@state_app.command("upgrade")
def state_upgrade(lock_timeout: LockTimeoutOption = "0s") -> None:
    """Move this stack's state from stackform 0.1's layout to keys scoped to the stack."""
    from stackform.runs.factory import run_store_for
    from stackform.state.factory import backend_for, legacy_backend_for
    from stackform.state.migrate import Migrated
    from stackform.state.upgrade import upgrade

    g = Globals.current()
    console = g.console()
    session = g.session(None, strict_secrets=False)
    stack = session.stack

    def done(m: Migrated) -> None:
        console.line(f"{m.env}: serial {m.serial}, {m.resources} resources, {m.bookmarks} "
                     f"bookmarks, {m.runs} runs: moved to {session.backend.describe(m.env)}",
                     "success")

    moved = upgrade(legacy_backend_for(stack.state, stack.dir), session.backend,
                    backend_for(stack.state, stack.dir, stack.name), stack.name,
                    run_store_for(stack.state, stack.dir, None), session.run_store,
                    stack.dir / ".stackform" / "envs", parse_duration(lock_timeout), done)
    if not moved:
        console.line(f"Nothing to upgrade: no state of stack {stack.name!r} in the old layout.")


@state_app.command("history")
def state_history(env: EnvOption = None,
                  limit: Annotated[int, typer.Option(help="Show at most this many.")] = 20,
                  ) -> None:
    """List the kept versions of an environment's state, newest first."""
    from stackform.state.backend import current_or_none

    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    versions = session.backend.history(session.stack.env)
    console = g.console()
    if not versions:
        console.line(f"Environment {session.stack.env} has no state history in "
                     f"{session.backend.describe(session.stack.env)}.")
        return
    current = current_or_none(session.backend, session.stack.env)
    rows = []
    for v in versions[:limit]:
        here = current is not None and (v.serial, v.lineage) == (current.serial,
                                                                 current.lineage)
        rows.append([str(v.serial), v.lineage[:8], v.updated_at, "current" if here else ""])
    console.table(["serial", "lineage", "written", ""], rows)
    if len(versions) > limit:
        console.line(f"... {len(versions) - limit} older version(s); --limit shows more.")


@state_app.command("rollback")
def state_rollback(
    serial: Annotated[int, typer.Argument(help="The serial to restore (see state history).")],
    env: EnvOption = None,
    lineage: Annotated[str | None, typer.Option(help="The version's lineage (a prefix is "
                                                "enough), when serials repeat.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Do not ask; also restore a version "
                                        "of another lineage.")] = False,
    lock_timeout: LockTimeoutOption = "0s",
) -> None:
    """Restore a kept version of the state as a new serial (no resource is changed)."""
    from stackform.state.rollback import rollback

    g = Globals.current()
    console = g.console()
    session = g.session(env, strict_secrets=False)
    env_name = session.stack.env
    if not force:
        confirm_or_exit(console, "state rollback",
                        f"Restore serial {serial} as the state of {env_name}?")
    with session.backend.lock(env_name, "state rollback", parse_duration(lock_timeout)):
        done = rollback(session.backend, env_name, serial, session.git, lineage, force)
    if done.set_aside:
        console.line(f"The unreadable state document was kept at {done.set_aside}.")
    console.line(f"Restored serial {done.restored.serial} of {env_name} as serial "
                 f"{done.written.serial} ({len(done.written.resources)} resources). "
                 "Run `stackform plan` to see what differs from the real stack.", "success")
