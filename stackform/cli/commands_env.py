"""``env list`` and ``env destroy``: every environment with state, and removing one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from stackform.cli.options import Globals, LockTimeoutOption, parse_duration
from stackform.errors import ExitCode, StackformError

if TYPE_CHECKING:
    from stackform.environments import EnvRow
    from stackform.session import Session

env_app = typer.Typer(help="List environments with state; destroy and remove one.",
                      no_args_is_help=True)

OlderThanOption = Annotated[
    str | None,
    typer.Option("--older-than", metavar="DURATION",
                 help="Only environments last applied longer ago than this (e.g. 14d, 12h)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(env_app, name="env")


def _any_session(g: Globals, env: str | None) -> Session:
    """A session whose ``[state]`` table names the backend (any environment of the stack)."""
    if env is not None:
        return g.session(env, strict_secrets=False)
    from stackform.config.loader import find_stack_file, load_stack_file
    from stackform.registry import Registry

    stack_file = load_stack_file(find_stack_file(g.directory, g.file), Registry())
    core = stack_file.core
    name = core.default_environment or next(iter(core.environments), None)
    return g.session(name, strict_secrets=False)


def _cutoff(older_than: str | None) -> datetime | None:
    if older_than is None:
        return None
    seconds = parse_duration(older_than, "--older-than")
    return datetime.now(UTC) - timedelta(seconds=seconds)


def _kind(row: EnvRow) -> str:
    if row.throwaway:
        return "throwaway (stackform test)"
    if row.orphaned:
        return "orphaned: per_developer is on (`env destroy` it)"
    if row.per_developer:
        return f"per-developer ({row.base})"
    if row.developer_base:
        return "per-developer base"
    if row.declared:
        return "protected" if row.protected else "declared"
    return "undeclared"


@env_app.command("list")
def env_list(
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    older_than: OlderThanOption = None,
) -> None:
    """Every environment with state (and declared ones without): last apply, by whom, which
    commit, how many resources."""
    from stackform.environments import applied_before, collect


    if fmt not in ("text", "json"):
        raise typer.BadParameter("expected text or json", param_hint="--format")
    g = Globals.current()
    cutoff = _cutoff(older_than)
    session = _any_session(g, None)
    rows = collect(session.stack_file, session.backend)
    if cutoff is not None:
        rows = [row for row in rows if applied_before(row, cutoff)]
    console = g.console()
    if fmt == "json":
        console.data(json.dumps({"environments": [row.to_json() for row in rows]}, indent=2))
        return
    if not rows:
        console.line("No environments" + (f" older than {older_than}." if older_than
                                           else " with state, and none declared."))
        return
    table = []
    for row in rows:
        if row.unreadable:
            table.append([row.name, _kind(row), "unreadable: see `state history`", "", "",
                          ""])
        elif row.has_state:
            table.append([row.name, _kind(row), row.updated_at or "", row.user or "",
                          (row.commit or "")[:8], str(row.resources)])
        else:
            table.append([row.name, _kind(row), "no state", "", "", ""])
    console.table(["environment", "kind", "last apply", "by", "commit", "resources"], table)


@env_app.command("destroy")
def env_destroy(
    name: Annotated[str | None, typer.Argument(help="The environment (as `env list` names it).",
                                               metavar="[NAME]")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y",
                                      help="Do not ask; needed for protected environments "
                                           "and --older-than.")] = False,
    older_than: OlderThanOption = None,
    lock_timeout: LockTimeoutOption = "0s",
) -> None:
    """Destroy an environment's resources, then remove its state and run state (bookmarks,
    run history). With --older-than: every per-developer and throwaway environment last
    applied before. A throwaway environment (`stackform test`) loses its schemas too."""
    from stackform.environments import collect, stale_developer_envs


    g = Globals.current()
    if (name is None) == (older_than is None):
        raise typer.BadParameter("give an environment NAME or --older-than DURATION (not both)")
    timeout = parse_duration(lock_timeout)
    console = g.console()
    if name is not None:
        raise typer.Exit(_destroy_one(g, name, yes, timeout))
    cutoff = _cutoff(older_than)
    assert cutoff is not None
    session = _any_session(g, None)
    stale = stale_developer_envs(collect(session.stack_file, session.backend), cutoff)
    if not stale:
        console.line(f"No per-developer or throwaway environment was last applied more than "
                     f"{older_than} ago.")
        raise typer.Exit(ExitCode.OK)
    if not yes:
        raise StackformError(
            f"{len(stale)} per-developer or throwaway environment(s) older than {older_than}: "
            f"{', '.join(stale)}", hint="pass --yes to destroy and remove them")
    failed = [env for env in stale if _destroy_one(g, env, True, timeout) != ExitCode.OK]
    if failed:
        console.error(f"could not destroy {', '.join(failed)}", "see the errors above")
        raise typer.Exit(ExitCode.FAILED)
    console.line(f"Removed {len(stale)} environment(s): {', '.join(stale)}.", "success")


def _destroy_one(g: Globals, name: str, yes: bool, lock_timeout: float) -> ExitCode:
    from stackform.cli.flows import make_plan_options, run_apply
    from stackform.environments import check_may_destroy, needs_exact_name
    from stackform.trial.teardown import destroy_throwaway, open_throwaway, throwaway_base

    base = throwaway_base(_any_session(g, None).backend, name)
    if base is not None:
        console = g.console()
        destroy_throwaway(open_throwaway(g.directory, g.file, name, base),
                          lambda m: console.line(m, "muted"), lock_timeout=lock_timeout)
        console.line(f"Removed the throwaway environment {name}, its schemas and its run "
                     "state.", "success")
        return ExitCode.OK
    session = g.session(name, strict_secrets=False)
    if needs_exact_name(name, session.stack.env, session.backend.environments()):
        session = g.session(name, strict_secrets=False, exact_env=True)
    check_may_destroy(name, session.stack.environment.protected, yes)
    options = make_plan_options(False, True, True, None, None, 4)
    code = run_apply(g, name, options, None, yes, lock_timeout, session=session)
    if code != ExitCode.OK:
        return code
    with session.backend.lock(name, "destroy", lock_timeout):
        session.backend.delete(name)
    removed = _remove_run_state(session, name)
    g.console().line(f"Removed the state of {name}"
                     + (f" and its run state ({removed})." if removed else "."), "success")
    return ExitCode.OK


def _remove_run_state(session: Session, env: str) -> str | None:
    """Delete the environment's run state (bookmarks, run history, logs)."""
    return session.run_store.forget(env)
