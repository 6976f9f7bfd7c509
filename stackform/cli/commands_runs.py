"""``runs`` and ``bookmarks show|clear``: past pipeline runs and the Singer bookmarks they keep.

Run state is apart from infrastructure state: these commands never take the state lock.
``bookmarks clear`` takes the pipeline's run lock, so it cannot race a run of that pipeline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stackform.cli.options import EnvOption, Globals, confirm_or_exit, parse_duration
from stackform.errors import os_error

if TYPE_CHECKING:
    from stackform.runs.model import Bookmark, RunRecord
    from stackform.runs.store import RunStore
    from stackform.session import Session

LOG_TAIL_LINES = 40

bookmarks_app = typer.Typer(help="Show or clear the Singer bookmarks pipelines keep per "
                            "environment.", no_args_is_help=True, rich_markup_mode=None)

FormatOption = Annotated[str, typer.Option("--format", help="text or json.")]
PipelineArg = Annotated[str | None, typer.Argument(help="Only this pipeline.", metavar="[PIPELINE]",
                                                   show_default=False)]


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.add_typer(bookmarks_app, name="bookmarks")


# -- runs --------------------------------------------------------------------------------------


def runs(
    pipeline: PipelineArg = None,
    env: EnvOption = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Show at most N runs.")] = 20,
    fmt: FormatOption = "text",
    run_id: Annotated[str | None, typer.Option(
        "--id", help="Show one run in full (an id or a unique prefix) and the end of its log.",
        metavar="RUN_ID")] = None,
) -> None:
    """List past pipeline runs, newest first: status, duration, rows, whether the bookmark moved."""
    fmt = _check_format(fmt)
    g = Globals.current()
    session, store = _open(env, pipeline)
    env_name = session.stack.env
    if run_id is not None:
        _show_run(store, env_name, pipeline, run_id, fmt)
        return
    records = store.runs(env_name, pipeline, limit)
    console = g.console()
    if fmt == "json":
        console.data(json.dumps([r.to_json() for r in records], indent=2))
        return
    if not records:
        what = f"pipeline {pipeline}" if pipeline else "any pipeline"
        console.line(f"No runs of {what} in {env_name} yet.")
        return
    console.table(
        ["RUN", "PIPELINE", "STATUS", "STARTED", "DURATION", "EMITTED", "LANDED", "BOOKMARK",
         "ERROR"],
        [[_short_id(r.run_id), r.pipeline, r.status, _when(r.started_at), _duration(r.seconds),
          _sum(s.records_emitted for s in r.steps), _sum(s.rows_landed for s in r.steps),
          "moved" if r.bookmark_moved else "", _summary(r.error)] for r in records],
    )


def _show_run(store: RunStore, env: str, pipeline: str | None, run_id: str, fmt: str) -> None:
    from stackform.runs.find import find_run

    record = find_run(store, env, pipeline, run_id)
    log = _log_file(store, record)
    tail = _log_tail(log) if log is not None else []
    if fmt == "json":
        doc = {**record.to_json(), "log_path": str(log) if log else None, "log_tail": tail}
        Globals.current().console().data(json.dumps(doc, indent=2))
        return
    console = Globals.current().console()
    console.data(f"Run {record.run_id} of {record.pipeline} in {record.env}")
    fields: list[tuple[str, Any]] = [
        ("status", record.status),
        ("started", record.started_at),
        ("finished", record.finished_at or ""),
        ("duration", _duration(record.seconds)),
        ("full refresh", "yes" if record.full_refresh else "no"),
        ("bookmark", "moved" if record.bookmark_moved else "not moved"),
        ("by", "@".join(p for p in (record.user, record.host) if p)),
        ("error", record.error or ""),
    ]
    width = max(len(k) for k, _ in fields)
    for key, value in fields:
        if value not in ("", None):
            text = str(value).replace("\n", "\n" + " " * (width + 4))
            console.data(f"  {key.ljust(width)}  {text}")
    if record.steps:
        console.data("")
        console.table(
            ["STEP", "STATUS", "DURATION", "EMITTED", "LANDED", "BOOKMARK", "ERROR"],
            [[s.name, s.status, _duration(s.seconds), _sum([s.records_emitted]),
              _sum([s.rows_landed]), "moved" if s.bookmark_moved else "", _summary(s.error)]
             for s in record.steps],
        )
    console.data("")
    if log is None or not log.exists():
        console.line("No log was recorded for this run.", "muted")
    elif not tail:
        console.line(f"Log {log} is empty.", "muted")
    else:
        console.data(f"Last {len(tail)} line(s) of {log}:")
        for line in tail:
            console.data(f"  {line}")


def _log_tail(log: Path) -> list[str]:
    from stackform.fileio import tail_lines

    try:
        return tail_lines(log, LOG_TAIL_LINES)
    except OSError as exc:
        raise os_error("read", log, exc) from exc


def _log_file(store: RunStore, record: RunRecord) -> Path | None:
    """The run's local log file, when it has one."""
    if record.log is None:
        return None
    if "://" not in record.log and os.path.isabs(record.log):
        return Path(record.log)
    # A relative path, or a URL (a log uploaded to S3): the store gives a local copy.
    return store.log_path(record.env, record.run_id)


# -- bookmarks ---------------------------------------------------------------------------------


@bookmarks_app.command("show")
def bookmarks_show(pipeline: PipelineArg = None, env: EnvOption = None,
                   fmt: FormatOption = "text") -> None:
    """Show the bookmarks of every pipeline, or of one (the Singer state each run resumes from)."""
    fmt = _check_format(fmt)
    session, store = _open(env, pipeline)
    env_name = session.stack.env
    if pipeline is None:
        found = store.bookmarks(env_name, None)
    else:
        from stackform.runs.find import pipeline_bookmarks

        found = pipeline_bookmarks(store, env_name, pipeline, None,
                                   _shared_keys(session, pipeline))
    console = Globals.current().console()
    if fmt == "json":
        console.data(json.dumps([_bookmark_json(b) for b in found], separators=(",", ":")))
        return
    if not found:
        what = f"pipeline {pipeline}" if pipeline else "any pipeline"
        console.line(f"No bookmarks for {what} in {env_name}.")
        return
    for i, bookmark in enumerate(found):
        if i:
            console.data("")
        run = f", run {bookmark.run_id}" if bookmark.run_id else ""
        console.data(f"{bookmark.key}  (updated {bookmark.updated_at}{run})")
        for line in json.dumps(bookmark.value, indent=2, sort_keys=True).splitlines():
            console.data(f"  {line}")


@bookmarks_app.command("clear")
def bookmarks_clear(
    pipeline: Annotated[str, typer.Argument(help="The pipeline whose bookmarks to clear.")],
    extractor: Annotated[str | None, typer.Option(
        "--extractor", help="Only this extractor's bookmark (default: every one of the "
        "pipeline).", metavar="NAME")] = None,
    env: EnvOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    lock_timeout: Annotated[str, typer.Option(
        "--lock-timeout", help="Wait this long for a running pipeline to finish (e.g. 30s, 2m).",
        metavar="DURATION")] = "0s",
) -> None:
    """Forget where a pipeline's extractors left off: the next run syncs them in full.

    The cleared values are kept aside in the run-state store, to be restored by hand.
    """
    from stackform.runs.find import bookmarks_to_clear, pipeline_bookmarks

    timeout = parse_duration(lock_timeout)
    g = Globals.current()
    console = g.console()
    session, store = _open(env, pipeline)
    env_name = session.stack.env
    shared = _shared_keys(session, pipeline)
    targets = bookmarks_to_clear(store, env_name, pipeline, extractor, shared)
    if not targets:
        console.line(f"Pipeline {pipeline} has no bookmarks in {env_name}; nothing to clear.")
        return
    console.line(f"Bookmarks to clear in {env_name}:")
    for bookmark in targets:
        console.line(f"  {bookmark.key}  (updated {bookmark.updated_at})")
    if not yes:
        confirm_or_exit(console, "clearing bookmarks", f"The next run of {pipeline} will sync "
                        "these extractors in full. Clear them?", flag="--yes")
    with store.run_lock(env_name, pipeline, timeout):
        # Read again under the lock: a run may have moved or added one since.
        cleared = [b.key for b in pipeline_bookmarks(store, env_name, pipeline, extractor,
                                                     shared)
                   if store.clear_bookmark(env_name, b.key)]
    console.line(
        f"Cleared {len(cleared)} bookmark(s) of {pipeline} in {env_name}; the old values are "
        f"kept under {store.describe(env_name)}.", "success")


def _bookmark_json(bookmark: Bookmark) -> dict[str, Any]:
    return {"key": bookmark.key, "updated_at": bookmark.updated_at, "run_id": bookmark.run_id,
            "value": bookmark.value}


# -- shared ------------------------------------------------------------------------------------


def _shared_keys(session: Session, pipeline: str) -> list[str]:
    """The ``bookmark = "shared"`` keys of the pipeline's chains."""
    steps = session.stack.pipelines[pipeline].steps
    return [s.bookmark for s in steps if s.bookmark and s.bookmark.startswith("shared.")]


def _open(env: str | None, pipeline: str | None) -> tuple[Session, RunStore]:
    """The session and its run-state store, after checking ``pipeline`` is in the stack."""
    from stackform.runs.find import check_pipeline

    session = Globals.current().session(env, strict_secrets=False)
    if pipeline is not None:
        check_pipeline(pipeline, session.stack.pipelines, session.stack.file.name)
    return session, session.run_store


def _check_format(fmt: str) -> str:
    if fmt not in ("text", "json"):
        raise typer.BadParameter("expected text or json", param_hint="--format")
    return fmt


def _short_id(run_id: str) -> str:
    """The first 8 digits of a uuid-like id (enough for ``--id``); any other id in full."""
    digits = run_id.replace("-", "")
    if len(digits) >= 32 and all(c in "0123456789abcdef" for c in digits.lower()):
        return run_id[:8]
    return run_id


def _when(started_at: str) -> str:
    """``2024-05-01 06:00:03`` in local time (the stored value when it is not a timestamp)."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(started_at)
    except ValueError:
        return started_at
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _sum(values: Iterable[int | None]) -> str:
    known = [v for v in values if v is not None]
    return f"{sum(known):,}" if known else ""


def _summary(error: str | None, width: int = 60) -> str:
    if not error:
        return ""
    first = error.strip().splitlines()[0] if error.strip() else ""
    return first if len(first) <= width else first[: width - 3] + "..."

