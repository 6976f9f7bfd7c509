"""The ``stackform`` command: global options, the command table, and the one error handler.

Only typer is imported at start-up; every command imports what it needs when it runs, so
``stackform --help`` and ``--version`` stay fast.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from stackform import __version__
from stackform.cli import (
    commands_add,
    commands_catalog,
    commands_core,
    commands_env,
    commands_import,
    commands_invoke,
    commands_lineage,
    commands_lock,
    commands_pipeline,
    commands_runs,
    commands_state,
    commands_test,
    commands_tools,
    commands_worker,
)
from stackform.cli.lazy import COMMANDS, LazyGroup
from stackform.cli.options import Globals
from stackform.errors import ConfigError, ExitCode, StackformError

app = typer.Typer(
    name="stackform",
    help="Plan and apply whole data stacks (Singer, dbt, Airflow...) declared in stack.toml.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
    cls=LazyGroup,
)


def _version(value: bool) -> None:
    if value:
        Globals.current().console().data(f"stackform {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    directory: Annotated[
        Path | None,
        typer.Option("-C", "--directory", help="Run as if started in DIR.", metavar="DIR"),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The stack file (default: stack.toml).")
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and provider logs.")
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="Plain output.")] = False,
    version: Annotated[
        bool,
        typer.Option("--version", "-V", callback=_version, is_eager=True,
                     help="Show the version and exit."),
    ] = False,
) -> None:
    """Global options come before the command: ``stackform -C infra plan --env prod``."""
    g = Globals.current()
    g.directory = directory
    g.file = file
    g.debug = debug or g.debug
    g.plain = no_color


for commands in (commands_core, commands_pipeline, commands_state, commands_tools, commands_lock,
                 commands_runs, commands_env, commands_lineage, commands_catalog,
                 commands_invoke, commands_import, commands_test, commands_add,
                 commands_worker):
    commands.register(COMMANDS)


def main_entry() -> None:
    """Entry point: run the app, render any :class:`StackformError` once, set the exit code."""
    g = Globals.current()
    env_debug = os.environ.get("STACKFORM_DEBUG", "").strip().lower()
    g.debug = env_debug not in ("", "0", "false", "no", "off") or "--debug" in sys.argv[1:]
    try:
        code = app(prog_name="stackform", standalone_mode=False)
        sys.exit(code if isinstance(code, int) else ExitCode.OK)
    except SystemExit:
        raise
    except typer.Abort:
        g.console().error("aborted")
        sys.exit(ExitCode.FAILED)
    except typer.TyperException as exc:
        # A usage error exits 1, never 2: to CI, 2 means "the plan has changes".
        show = getattr(exc, "show", None)
        if show is not None:
            show()
        else:
            g.console().error(str(exc))
        sys.exit(ExitCode.FAILED)
    except KeyboardInterrupt:
        g.console().error("interrupted")
        sys.exit(ExitCode.INTERRUPTED)
    except Exception as exc:
        if g.debug and not isinstance(exc, StackformError):
            # An expected failure is fully told by its reason and hint; a traceback is for bugs.
            import traceback

            traceback.print_exc()
        if isinstance(exc, ConfigError):
            console = g.console()
            for diagnostic in exc.diagnostics:
                console.line(diagnostic.format(), "error")
            console.error(exc.reason, exc.hint)
            sys.exit(exc.exit_code)
        if isinstance(exc, StackformError):
            g.console().error(exc.reason, exc.hint)
            sys.exit(exc.exit_code)
        if not g.debug:
            g.console().error(
                f"internal error: {type(exc).__name__}: {exc}",
                "this is a bug in stackform; run again with --debug for the traceback and "
                "report it",
            )
        sys.exit(ExitCode.FAILED)
