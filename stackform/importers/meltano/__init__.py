"""``stackform import meltano``: a Meltano project (``meltano.yml`` and its ``include_paths``)
as a stack file, with a report of every decision.

The steps, one module each: :mod:`.read` (YAML with locations, Meltano's multi-file merge),
:mod:`.project` (top-level keys, ``[state]``, ``[env]``), :mod:`.blocks`, :mod:`.plugins` and
:mod:`.kinds` (plugins -> blocks), :mod:`.environments`, :mod:`.schedules` (jobs and
schedules -> pipelines), :mod:`.interpolation` (``$VAR`` -> references), :mod:`.report` and
:mod:`.write`.
An import never fails on what it can report: only an unreadable project (malformed YAML, a
top level that is not a mapping, a duplicate name) is an error, located at ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackform.importers.meltano.report import Report


@dataclass
class Imported:
    """The result of an import: the stack file's text and data, and the report."""

    text: str
    stack: dict[str, Any]
    report: Report


def import_project(root: Path) -> Imported:
    """Read the Meltano project in ``root`` and make the stack file (nothing is written)."""
    from stackform.importers.meltano import blocks, environments, project, schedules
    from stackform.importers.meltano.context import Context
    from stackform.importers.meltano.read import read_project
    from stackform.importers.meltano.write import render

    ctx = Context(read_project(root))
    project.convert(ctx)
    blocks.register(ctx)
    blocks.convert(ctx)
    project.python(ctx)
    environments.convert(ctx)
    used = schedules.convert(ctx)
    schedules.mark_abstract(ctx, used)
    project.env_vars(ctx)
    if (root / ".env").exists():
        ctx.report.person(".env", ".env", "not read: the values Meltano takes from it (and "
                          "from TAP_X_SETTING variables) must be set in config, as secrets or "
                          "as ${environ.X}")
    ctx.interp.finish()
    return Imported(render(ctx.stack, ctx.comments), ctx.stack, ctx.report)


def write_import(imported: Imported, output: Path, *, force: bool,
                 report_path: Path | None = None, source: str = "meltano.yml") -> None:
    """Write the stack file (refusing to replace one unless ``force``) and the report file
    (markdown, or JSON when its name ends in ``.json``)."""
    from stackform.fileio import atomic_write
    from stackform.importers.meltano.write import write_new

    if report_path is not None and report_path.resolve() == output.resolve():
        from stackform.errors import StackformError

        raise StackformError("--report names the stack file itself",
                             hint="give the report a file of its own (report.md or .json)")
    write_new(output, imported.text, force=force)
    if report_path is not None:
        body = imported.report.json(source, str(output)) if report_path.suffix == ".json" \
            else imported.report.markdown(source, str(output))
        atomic_write(report_path, body.encode("utf-8"), 0o644)
