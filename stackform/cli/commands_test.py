"""``stackform test``: the stack end to end in a throwaway environment (docs/testing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackform.cli.options import Globals, LockTimeoutOption, ParallelismOption, parse_duration
from stackform.errors import ExitCode


def register(app: typer.Typer) -> None:
    app.command("test")(test_command)


def test_command(
    env: Annotated[str | None, typer.Option(
        "--env", "-e", help="The throwaway environment's name (default ci-<id> in CI, "
                            "test-<you> elsewhere).")] = None,
    base: Annotated[str | None, typer.Option(
        "--base", help="The declared environment whose vars and overrides it takes "
                       "(default: the stack's default).")] = None,
    sample: Annotated[int | None, typer.Option(
        "--sample", metavar="N", min=1,
        help="Stop each extracted stream after N records.")] = None,
    pipeline: Annotated[list[str] | None, typer.Option(
        "--pipeline", metavar="NAME", help="Run only this pipeline (repeatable; default: "
                                           "all, in dependency order).")] = None,
    keep: Annotated[bool, typer.Option(
        "--keep", help="Leave the environment (state, schemas, files) for debugging.")] = False,
    junit: Annotated[Path | None, typer.Option(
        "--junit", metavar="FILE", help="Write the checks as JUnit XML.")] = None,
    markdown: Annotated[Path | None, typer.Option(
        "--markdown", metavar="FILE",
        help="Write a markdown section for the merge-request comment.")] = None,
    parallelism: ParallelismOption = 4,
    lock_timeout: LockTimeoutOption = "0s",
) -> None:
    """Create a throwaway environment, apply the stack, run its pipelines, check everything,
    report, and destroy it (schemas included). Exit 0 only when every check passed."""
    from stackform.fileio import atomic_write
    from stackform.trial.lifecycle import TrialOptions, prepare, run_trial
    from stackform.trial.report import junit_xml, phase_line, summary_line, table_rows
    from stackform.trial.report import markdown as render_markdown

    g = Globals.current()
    console = g.console()
    options = TrialOptions(env=env, base=base, sample=sample, keep=keep,
                           pipelines=tuple(pipeline or ()), parallelism=parallelism,
                           lock_timeout=parse_duration(lock_timeout))
    trial = prepare(g.directory, g.file, options, lambda m: console.line(m, "muted"))
    report = run_trial(trial)
    if report.checks:
        console.table(["check", "outcome", "time", "detail"], table_rows(report))
    for check in report.checks:
        if not check.ok and "\n" in check.message:
            console.line(f"\n{check.name}:")
            for line in check.message.splitlines():
                console.line(f"  {line}")
    if report.phases:
        console.line(f"time: {phase_line(report)}", "muted")
    if junit is not None:
        atomic_write(junit, junit_xml(report).encode(), 0o644)
    if markdown is not None:
        atomic_write(markdown, render_markdown(report).encode(), 0o644)
    if report.passed and not any(c.group == "environment" and not c.ok
                                 for c in report.checks):
        console.line(summary_line(report), "success")
        return
    console.error(summary_line(report))
    raise typer.Exit(ExitCode.INTERRUPTED if report.interrupted else ExitCode.FAILED)
