"""What the plan/apply commands do between parsing and exiting: call the session, render."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from stackform.cli.options import Globals
from stackform.config.resolve import resolve
from stackform.console import Console
from stackform.errors import ConfigError, ExitCode, StackformError
from stackform.fileio import atomic_write
from stackform.gitinfo import is_ancestor
from stackform.graph import checked_dependencies
from stackform.interrupt import sigterm_as_interrupt
from stackform.plan.builder import PlanOptions
from stackform.plan.changed import changed_since as find_changes
from stackform.plan.changed import render_text as render_changed
from stackform.plan.model import Plan, PlanMode
from stackform.plan.provider_options import check_provider_options as check_options
from stackform.plan.render_json import plan_to_json
from stackform.plan.render_markdown import render_markdown
from stackform.plan.render_text import render_plan as render_text
from stackform.plan.saved import (
    check_fresh,
    check_stated,
    check_unedited,
    load_plan,
    option_flags,
    rebuild,
    save_plan,
)
from stackform.protect import check_protected

if TYPE_CHECKING:
    from stackform.plan.apply import ApplyEvent, ApplyResult
    from stackform.plan.changed import ChangedSince
    from stackform.session import Session
    from stackform.state.model import State


REFRESH_CATALOG = "refresh_catalog"
"""The provider option ``--refresh-catalog`` stands for: the spelling users know, kept. What it
means, and whether any provider takes it, is the providers' to say
(:class:`stackform.provider.TakesOptions`)."""


def make_plan_options(refresh_only: bool, destroy: bool, refresh: bool,
                      target: list[str] | None, replace: list[str] | None,
                      parallelism: int, refresh_catalog: bool = False,
                      provider_option: list[str] | None = None) -> PlanOptions:
    """The options of a plan; its provider options are checked against the providers by
    :func:`check_provider_options` once the stack is open."""
    if refresh_only and destroy:
        raise typer.BadParameter("--refresh-only and --destroy exclude each other")
    if refresh_only and not refresh:
        raise typer.BadParameter("--refresh-only needs refreshing; drop --refresh=false")
    mode = (PlanMode.REFRESH_ONLY if refresh_only else PlanMode.DESTROY if destroy
            else PlanMode.NORMAL)
    names = [*(provider_option or ()), *([REFRESH_CATALOG] if refresh_catalog else [])]
    return PlanOptions(mode=mode, refresh=refresh, targets=tuple(target or ()),
                       replace=tuple(replace or ()), parallelism=parallelism,
                       provider_options=dict.fromkeys(sorted(names), True))


def check_provider_options(session: Session, options: PlanOptions) -> None:
    """The plan's provider options, checked against the providers once the stack is open."""
    check_options(session.registry, (r.kind for r in session.stack.resources.values()),
                  options)


def validate_stack(g: Globals, env: str | None, every_env: bool, *, deep: bool = False,
                   parallelism: int = 4) -> None:
    session = g.session(env, strict_secrets=False)
    console = g.console()
    names = [session.stack.environment.name]
    if every_env:
        declared = list((session.stack_file.data.get("environments") or {}).keys())
        names = declared or names
    stacks = []
    shown: set[str] = set()  # a block every environment shares warns once, not per environment
    for name in names:
        stack = session.stack if name == session.stack.environment.name else resolve(
            session.stack_file, name, session.registry, strict_secrets=False)
        checked_dependencies(session.stack_file, stack)
        for warning in stack.warnings:
            if (text := warning.format()) not in shown:
                shown.add(text)
                console.warning(text)
        stacks.append(stack)
    checked = ""
    if deep:
        from stackform.deepcheck import deep_check  # imports what only --deep needs

        report = deep_check(stacks, session.registry, session.stack_file, log=session.log,
                            parallelism=parallelism)
        for diagnostic in report.diagnostics:
            if diagnostic.severity == "warning":
                console.warning(diagnostic.format())
        if report.errors:
            raise ConfigError(report.errors)
        checked = (f" Deep checks passed: {', '.join(report.checked)}." if report.checked
                   else " No resource has a deep check.")
    n = len(session.stack.resources)
    console.line(f"The stack is valid: {n} resource{'s' if n != 1 else ''}, "
                 f"environment{'s' if len(names) != 1 else ''} {', '.join(names)}.{checked}",
                 "success")


PLAN_FORMATS = ("text", "json", "markdown")


def render_plan(console: Console, plan: Plan, fmt: str,
                changed: ChangedSince | None = None) -> None:
    if fmt == "json":
        import json

        doc = plan_to_json(plan)
        if changed is not None:
            doc["changed_since"] = changed.to_json()
        console.data(json.dumps(doc, indent=2, default=str))
    elif fmt == "markdown":
        console.data(render_markdown(plan, changed))
    elif fmt == "text":
        console.markup(render_text(plan))
        if changed is not None:
            console.markup("\n" + render_changed(changed))
    else:
        raise typer.BadParameter("expected text, json or markdown", param_hint="--format")


def show_plan(g: Globals, env: str | None, options: PlanOptions, fmt: str,
              out: Path | None, detailed_exitcode: bool, out_markdown: Path | None = None,
              changed_since: str | None = None, fail_on_breaking: bool = False,
              out_lineage_html: Path | None = None) -> ExitCode:
    if fmt not in PLAN_FORMATS:
        raise typer.BadParameter("expected text, json or markdown", param_hint="--format")
    session = g.session(env, strict_secrets=PlanMode(options.mode).needs_secrets)
    check_provider_options(session, options)
    changed = None
    if changed_since is not None:
        changed = find_changes(session.stack_file, session.stack, session.registry,
                               changed_since)
    plan = session.plan(options)
    _warn_older_commit(g.console(), plan, session.stack.dir)
    render_plan(g.console(), plan, fmt, changed)
    if out is not None:
        save_plan(plan, out)
        if fmt == "text":
            command = " ".join(["stackform apply", *option_flags(options), str(out)])
            g.console().line(f"\nSaved the plan to {out}; apply exactly it with `{command}`. "
                             "The plan took no lock: if the state moves first, it is refused.",
                             "muted")
    if out_markdown is not None:
        atomic_write(out_markdown, render_markdown(plan, changed).encode(), mode=0o644)
        if fmt == "text":
            g.console().line(f"Wrote the plan as a merge-request comment to {out_markdown}.",
                             "muted")
    if out_lineage_html is not None:
        from stackform.lineage.plan_page import session_page

        atomic_write(out_lineage_html, session_page(session, plan).encode(), mode=0o644)
        if fmt == "text":
            g.console().line(f"Wrote the plan's lineage page to {out_lineage_html}.", "muted")
    if fail_on_breaking and plan.breaking:
        return ExitCode.BREAKING
    if detailed_exitcode and plan.has_changes:
        return ExitCode.CHANGES
    return ExitCode.OK


def _warn_older_commit(console: Console, plan: Plan, directory: Path) -> None:
    applied = plan.applied_git.get("commit")
    current = plan.git.get("commit")
    if applied and current and applied != current and is_ancestor(directory, current, applied):
        console.warning(f"the commit being planned ({current[:10]}) is older than the one "
                        f"last applied to {plan.env} ({applied[:10]})")


def run_apply(g: Globals, env: str | None, options: PlanOptions, plan_file: Path | None,
              auto_approve: bool, lock_timeout: float, *, allow_dirty: bool = False,
              session: Session | None = None) -> ExitCode:
    """Plan (or load a saved plan) and apply it under the lock. ``session`` reuses an open one
    (``env destroy``); a protected environment is checked before the lock and any provider."""
    console = g.console()
    saved = None
    if plan_file is not None:
        saved = load_plan(plan_file)
        check_stated(saved, options)
    mode = saved.mode if saved else options.mode
    if session is None:
        session = g.session(env, strict_secrets=PlanMode(mode).needs_secrets)
    check_provider_options(session, options)
    operation = "destroy" if mode == "destroy" else "apply"
    check_protected(session.stack.environment, session.stack.env, session.stack.dir,
                    operation=operation, allow_dirty=allow_dirty)
    backend = session.backend
    with backend.lock(session.stack.env, operation, lock_timeout):
        state = session.read_state()
        if saved is not None:
            check_fresh(saved, session.stack, state)
            # Exactly what the stack and state give now with the plan's own options, or
            # nothing: an edited plan file, or drift since the plan, is refused.
            check_unedited(saved, rebuild(saved, session.stack, state, session.registry,
                                          session.dependencies,
                                          parallelism=options.parallelism, log=session.log))
            plan = saved
        else:
            plan = session.plan(options, state, state_read=True, with_git=False)
        render_plan(console, plan, "text")
        if not plan.has_changes:
            return ExitCode.OK
        if saved is None and not auto_approve:
            if not console.is_interactive:
                raise StackformError(
                    f"{operation} needs confirmation and there is no terminal to ask",
                    hint="pass --auto-approve, or apply a reviewed plan file",
                )
            console.line("")
            if not console.confirm(f"Do you want to perform these actions in "
                                   f"{session.stack.env}?"):
                console.line("Cancelled: nothing was changed.")
                return ExitCode.FAILED
        result = _apply_with_progress(console, session, plan, state, options.parallelism)
    if plan.mode == "refresh-only" and result.state_error is None:
        console.line(f"State of {session.stack.env} updated with {len(plan.drift)} outside "
                     f"change(s); nothing else was touched.", "success")
        return ExitCode.OK
    return _report(console, result, operation, session.stack.env)


def _apply_with_progress(console: Console, session: Session, plan: Plan, state: State | None,
                         parallelism: int) -> ApplyResult:
    cancel = threading.Event()
    total = len(plan.actionable)
    with console.progress(total, "applying") as progress, sigterm_as_interrupt():

        def on_event(event: ApplyEvent) -> None:
            if event.status in ("done", "failed", "skipped"):
                progress.advance(f"{event.address} {event.status}")

        return session.apply(plan, state, parallelism=parallelism,
                             on_event=on_event, cancel=cancel)


def _report(console: Console, result: ApplyResult, operation: str, env: str) -> ExitCode:
    rows = []
    longer = []
    for o in result.outcomes:
        first, _, rest = (o.error or "").partition("\n")
        warned = (f"{len(o.warnings)} warning{'s' if len(o.warnings) != 1 else ''} (below)"
                  if o.warnings else "")
        rows.append([o.address, o.action.value, o.status,
                     f"{o.seconds:.1f}s" if o.seconds else "",
                     f"{first} (more below)" if rest else first or warned])
        if rest:
            longer.append(o)
    if rows:
        # One line per resource keeps the table readable; an error of several lines follows.
        console.table(["resource", "action", "result", "time", "detail"], rows)
    for o in longer:
        console.line(f"\n{o.address}:")
        for line in (o.error or "").splitlines():
            console.line(f"  {line}")
    for o in result.outcomes:
        for warning in o.warnings:
            console.warning(warning)
    done = sum(1 for o in result.outcomes if o.status == "done")
    failed = len(result.failed)
    other = len(result.outcomes) - done - failed
    serial = f" (state serial {result.state.serial})" if result.state else ""
    if result.state_error is not None:
        saved = result.errored_path
        kept = (f"; the state this {operation} meant to store is saved in {saved}" if saved
                else "")
        hint = (f"check what happened, then `stackform state push {saved} --env {env}` "
                "records it (it refuses a newer or foreign state unless --force)" if saved
                else result.state_error.hint or "fix the state storage, then run "
                "`stackform plan`: unrecorded resources show as creates")
        console.error(f"{operation} of {env} stopped: state could not be written "
                      f"({result.state_error.reason}){kept}", hint)
        return ExitCode.FAILED
    if result.interrupted:
        console.error(f"{operation} interrupted: {done} done, {failed} failed, {other} not "
                      f"started{serial}", "state records what finished; run apply again")
        return ExitCode.INTERRUPTED
    if failed:
        console.error(f"{operation} of {env} failed: {done} done, {failed} failed, {other} "
                      f"skipped{serial}", "state records what finished; fix the error and "
                      "run apply again")
        return ExitCode.FAILED
    console.line(f"{operation.capitalize()} complete: {done} resource"
                 f"{'s' if done != 1 else ''} changed in {env}{serial}.", "success")
    return ExitCode.OK


