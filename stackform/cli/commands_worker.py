"""``stackform worker run``: what a generated DAG's task runs on a worker (docs/orchestration.md).

Thin glue: the rules (fetching, checking, the run's own folder) live in
:mod:`stackform.bundles`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import Globals, parse_duration

worker_app = typer.Typer(help="Run what an apply published, on an orchestrator's worker.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")


@worker_app.command("run")
def worker_run(
    pipeline: Annotated[str, typer.Argument(help="The pipeline to run ([pipelines.NAME]).")],
    state: Annotated[str, typer.Option(
        "--state", metavar="LOCATION",
        help="Where the state and bundles are: s3://bucket/prefix or an absolute folder.")],
    stack: Annotated[str, typer.Option("--stack", help="The stack's name.")],
    env: Annotated[str, typer.Option("--env", "-e", help="The (effective) environment.")],
    bundle: Annotated[str, typer.Option(
        "--bundle", metavar="DIGEST",
        help="The bundle to run: its digest, or `current` (the last apply's).")] = "current",
    endpoint_url: Annotated[str | None, typer.Option(
        "--endpoint-url", help="With an s3:// state: an S3-compatible endpoint.")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", help="With an s3:// state: the bucket's region.")] = None,
    profile: Annotated[str | None, typer.Option(
        "--profile", help="With an s3:// state: an AWS profile.")] = None,
    full_refresh: Annotated[bool, typer.Option(
        "--full-refresh", help="Ignore the saved bookmarks and extract everything.")] = False,
    lock_timeout: Annotated[str, typer.Option(
        "--lock-timeout", metavar="DURATION",
        help="Wait this long when the pipeline is already running (e.g. 30s, 2m).")] = "0s",
) -> None:
    """Fetch the bundle an apply published (checked file by file against its digest) into
    the worker's cache, and run the pipeline from a private copy of it."""
    from stackform.bundles.store import table_from_args
    from stackform.bundles.worker import bundle_session, fetch_bundle
    from stackform.cli.commands_pipeline import run_and_report

    g = Globals.current()
    console = g.console()
    table = table_from_args(state, endpoint_url, region, profile)
    fetched = fetch_bundle(table, stack, env, bundle)
    console.line(f"bundle {fetched.digest[:12]}: "
                 + ("downloaded and checked" if fetched.downloaded else "cached, checked"),
                 "muted")
    log = (lambda m: console.line(m, "muted")) if g.debug else (lambda _m: None)
    with bundle_session(table, stack, env, fetched, log) as session:
        run_and_report(session, pipeline, full_refresh, parse_duration(lock_timeout))
