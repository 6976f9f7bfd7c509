"""``stackform run``: run a pipeline in an environment."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from stackform.cli.options import EnvOption, Globals, parse_duration
from stackform.errors import ExitCode

if TYPE_CHECKING:
    from stackform.session import Session


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)


def run_command(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to run ([pipelines.NAME]).")],
    env: EnvOption = None,
    full_refresh: Annotated[bool, typer.Option(
        "--full-refresh", help="Ignore the saved bookmarks and extract everything.")] = False,
    lock_timeout: Annotated[str, typer.Option(
        "--lock-timeout", metavar="DURATION",
        help="Wait this long when the pipeline is already running here (e.g. 30s, 2m).")] = "0s",
) -> None:
    """Run a pipeline: extract, load (tap piped into target), then its other steps.

    Bookmarks are saved as soon as the loader confirms them, per environment.
    """
    g = Globals.current()
    run_and_report(g.session(env), pipeline, full_refresh, parse_duration(lock_timeout))


def run_and_report(session: Session, pipeline: str, full_refresh: bool,
                   lock_timeout: float) -> None:
    """Run ``pipeline`` in ``session`` and say how it went (also ``stackform worker run``)."""
    from stackform.fileio import tail_lines
    from stackform.interrupt import sigterm_as_interrupt
    from stackform.runs.runner import run_pipeline

    console = Globals.current().console()
    store = session.run_store
    with sigterm_as_interrupt():
        record = run_pipeline(session, store, pipeline, full_refresh=full_refresh,
                              lock_timeout=lock_timeout,
                              say=lambda m: console.line(m))
    emitted = [s.records_emitted for s in record.steps if s.records_emitted is not None]
    landed = [s.rows_landed for s in record.steps if s.rows_landed is not None]
    counts = ""
    if emitted:
        counts += f", {sum(emitted)} records emitted"
    if landed:
        counts += f", {sum(landed)} rows landed"
    summary = (f"run {record.run_id} of {pipeline} in {record.env}: {record.status} in "
               f"{record.seconds or 0:.1f}s{counts}")
    if record.status == "success":
        console.line(summary, "success")
        return
    console.error(summary + (f": {record.error}" if record.error else ""),
                  f"full log: {record.log}")
    if record.log and record.status == "failed":
        console.line("last lines of the log:", "muted")
        try:
            last = tail_lines(record.log, 15)
        except OSError:
            last = []  # the failure is told above; its log is only a help
        for line in last:
            console.line("  " + line, "muted")
    raise typer.Exit(ExitCode.INTERRUPTED if record.status == "interrupted" else ExitCode.FAILED)
