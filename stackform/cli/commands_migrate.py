"""``state migrate``: move every environment's state (and run state) to another backend."""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import Globals, LockTimeoutOption, parse_duration
from stackform.errors import StackformError


def state_migrate(
    to: Annotated[str, typer.Option("--to", help="s3, s3://BUCKET/PREFIX or local.")],
    bucket: Annotated[str | None, typer.Option(help="S3 bucket (with --to s3).")] = None,
    prefix: Annotated[str | None, typer.Option(help="Key prefix in the bucket.")] = None,
    region: Annotated[str | None, typer.Option(help="S3 region.")] = None,
    endpoint_url: Annotated[str | None, typer.Option(help="S3-compatible endpoint.")] = None,
    profile: Annotated[str | None, typer.Option(help="AWS profile.")] = None,
    path: Annotated[str | None, typer.Option(help="State folder (with --to local).")] = None,
    envs: Annotated[list[str] | None, typer.Option(
        "--env", "-e", help="Only this environment (repeatable); default: all.")] = None,
    runs: Annotated[bool, typer.Option(help="Copy bookmarks and run history too.")] = True,
    update_stack_file: Annotated[bool, typer.Option(
        help="Point [state] in the stack file at the new backend afterwards.")] = True,
    lock_timeout: LockTimeoutOption = "0s",
) -> None:
    """Copy state to another backend with lineage and serial intact, under both locks."""
    from stackform.config.edit import set_table
    from stackform.runs.factory import run_store_for
    from stackform.state.factory import backend_for
    from stackform.state.migrate import Migrated, environments_to_migrate, migrate

    g = Globals.current()
    console = g.console()
    session = g.session(None, strict_secrets=False)
    stack = session.stack
    table = _target_table(to, bucket, prefix, region, endpoint_url, profile, path)
    target = backend_for(table, stack.dir, stack.name)
    source = session.backend
    names = environments_to_migrate(source, target, envs)

    def done(m: Migrated) -> None:
        what = "already there, verified" if m.already_there else "copied and verified"
        console.line(f"{m.env}: serial {m.serial}, {m.resources} resources, {m.bookmarks} "
                     f"bookmarks, {m.runs} runs: {what}", "success")

    migrate(source, target, backend_for(table, stack.dir, stack.name), names,
            session.run_store if runs else None,
            run_store_for(table, stack.dir, stack.name) if runs else None,
            parse_duration(lock_timeout), done)
    if update_stack_file:
        set_table(stack.file, "state", table)
        console.line(f"[state] in {stack.file.name} now points at the new backend; the old "
                     "copy is left as it was.")
    else:
        console.line("The stack file still points at the old backend: set [state] to "
                     + ", ".join(f"{k} = {v!r}" for k, v in table.items()))


def _target_table(to: str, bucket: str | None, prefix: str | None, region: str | None,
                  endpoint_url: str | None, profile: str | None,
                  path: str | None) -> dict[str, str]:
    from stackform.s3.settings import S3Settings

    if to == "local":
        if any((bucket, prefix, region, endpoint_url, profile)):
            raise StackformError("--bucket, --prefix, --region, --endpoint-url and --profile "
                                 "are for --to s3")
        return {"backend": "local", **({"path": path} if path else {})}
    if to == "s3" or to.startswith("s3://"):
        if path:
            raise StackformError("--path is for --to local")
        if to.startswith("s3://"):
            settings = S3Settings.from_url(to, region, endpoint_url, profile)
        elif bucket is None:
            raise StackformError("--to s3 needs --bucket",
                                 hint="or write --to s3://BUCKET/PREFIX")
        else:
            settings = S3Settings.checked(bucket, prefix or "", region, endpoint_url, profile)
        values = {"backend": "s3", "bucket": settings.bucket, "prefix": settings.prefix,
                  "region": settings.region, "endpoint_url": settings.endpoint_url,
                  "profile": settings.profile}
        return {k: v for k, v in values.items() if v}
    raise StackformError(f"--to {to!r} is not a backend", hint="use s3, s3://BUCKET/PREFIX "
                         "or local")
