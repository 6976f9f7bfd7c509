"""``import meltano``: make a stack file from a Meltano project (rules in
:mod:`stackform.importers.meltano`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackform.cli.options import Globals

import_app = typer.Typer(help="Make a stack file from another tool's project.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")


@import_app.command("meltano")
def import_meltano(
    path: Annotated[Path | None, typer.Argument(
        help="The Meltano project's folder (default: the current one).")] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The stack file to write (default: stack.toml in the project's "
        "folder).")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace an existing stack file.")] = False,
    report: Annotated[Path | None, typer.Option(
        "--report", help="Also write the report to FILE: markdown, or JSON for a .json name.",
        metavar="FILE")] = None,
) -> None:
    """Read meltano.yml and its include_paths; write stack.toml and report every decision."""
    from stackform.importers.meltano import import_project, write_import

    g = Globals.current()
    console = g.console()
    # Like every command, paths are taken from -C DIR when it is given.
    base = g.directory or Path(".")
    root = base / path if path is not None else base
    out = base / output if output is not None else root / "stack.toml"
    report = base / report if report is not None else None
    imported = import_project(root)
    write_import(imported, out, force=force, report_path=report, source=str(root / "meltano.yml"))
    for line in imported.report.text():
        console.line(line)
    counts = imported.report.counts()
    console.line(f"Wrote {out}: {counts['mapped']} mapped, {counts['dropped']} dropped, "
                 f"{counts['person']} need a person, {counts['warning']} warnings"
                 + (f"; report in {report}" if report else ""), "success")
    if counts["person"]:
        console.line("Next: deal with what needs a person, then `stackform validate`.")
