"""``validate``, ``plan``, ``apply``, ``destroy`` and ``graph``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stackform.cli.options import (
    EnvOption,
    Globals,
    LockTimeoutOption,
    ParallelismOption,
    ProviderOptionOption,
    RefreshCatalogOption,
    RefreshOption,
    ReplaceOption,
    TargetOption,
    parse_bool,
    parse_duration,
)


def register(app: typer.Typer) -> None:
    app.command()(validate)
    app.command()(plan)
    app.command()(apply)
    app.command()(destroy)
    app.command()(graph)


def validate(
    env: EnvOption = None,
    all_envs: Annotated[
        bool, typer.Option("--all-envs/--one-env", help="Check every declared environment.")
    ] = True,
    deep: Annotated[
        bool, typer.Option("--deep", help="Also check resources with their real tools (e.g. "
                           "import generated DAGs with Airflow); may install plugins.")
    ] = False,
    parallelism: ParallelismOption = 4,
) -> None:
    """Check the stack file: syntax, schema, references, interpolation, cycles.

    Secrets are not needed: a missing secret only becomes a placeholder here.
    """
    from stackform.cli.flows import validate_stack

    g = Globals.current()
    validate_stack(g, env, all_envs and env is None, deep=deep, parallelism=parallelism)


def plan(
    env: EnvOption = None,
    out: Annotated[Path | None, typer.Option("-o", "--out", help="Save the plan to FILE.",
                                             metavar="FILE")] = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json or markdown.")] = "text",
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    target: TargetOption = None,
    replace: ReplaceOption = None,
    refresh: RefreshOption = "true",
    refresh_only: Annotated[bool, typer.Option("--refresh-only",
                                               help="Only record outside changes.")] = False,
    destroy: Annotated[bool, typer.Option("--destroy", help="Plan to destroy everything.")]
    = False,
    parallelism: ParallelismOption = 4,
    refresh_catalog: RefreshCatalogOption = False,
    provider_option: ProviderOptionOption = None,
    out_markdown: Annotated[Path | None, typer.Option(
        "--out-markdown", metavar="FILE",
        help="Also write the plan as a merge-request comment (markdown) to FILE.")] = None,
    changed_since: Annotated[str | None, typer.Option(
        "--changed-since", metavar="REF",
        help="Mark the resources the git change since REF touches, and what depends on "
             "them.")] = None,
    fail_on_breaking: Annotated[bool, typer.Option(
        "--fail-on-breaking",
        help="Exit 3 when a change breaks something downstream (lineage).")] = False,
    out_lineage_html: Annotated[Path | None, typer.Option(
        "--out-lineage-html", metavar="FILE",
        help="Also write the lineage page (HTML) with what the plan changes and breaks.")]
    = None,
) -> None:
    """Show what apply would change in an environment. Changes nothing; takes no lock."""
    from stackform.cli.flows import make_plan_options, show_plan

    g = Globals.current()
    options = make_plan_options(refresh_only, destroy, parse_bool(refresh, "--refresh"),
                                target, replace, parallelism, refresh_catalog,
                                provider_option)
    code = show_plan(g, env, options, fmt, out, detailed_exitcode, out_markdown=out_markdown,
                     changed_since=changed_since, fail_on_breaking=fail_on_breaking,
                     out_lineage_html=out_lineage_html)
    raise typer.Exit(code)


def apply(
    plan_file: Annotated[Path | None, typer.Argument(help="A plan saved with plan -o.",
                                                     metavar="[PLANFILE]")] = None,
    env: EnvOption = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve",
                                               help="Do not ask for confirmation.")] = False,
    target: TargetOption = None,
    replace: ReplaceOption = None,
    refresh: RefreshOption = "true",
    refresh_only: Annotated[bool, typer.Option("--refresh-only")] = False,
    parallelism: ParallelismOption = 4,
    lock_timeout: LockTimeoutOption = "0s",
    refresh_catalog: RefreshCatalogOption = False,
    provider_option: ProviderOptionOption = None,
    allow_dirty: AllowDirtyOption = False,
    destroy: Annotated[bool, typer.Option(
        "--destroy", help="With PLANFILE: it is a destroy plan (`plan --destroy -o`).")] = False,
) -> None:
    """Plan and apply, or apply exactly a saved plan (refused when stale).

    A saved plan made with options (--destroy, --target, --replace, --refresh-only,
    --refresh=false, --refresh-catalog, --provider-option) is applied only when this command
    states the same ones.
    A protected environment is applied only from a clean git tree on an allowed branch."""
    from stackform.cli.flows import make_plan_options, run_apply

    g = Globals.current()
    if destroy and plan_file is None:
        raise typer.BadParameter("--destroy states that PLANFILE is a destroy plan; to plan "
                                 "and destroy at once, run `stackform destroy`")
    options = make_plan_options(refresh_only, destroy, parse_bool(refresh, "--refresh"),
                                target, replace, parallelism, refresh_catalog,
                                provider_option)
    code = run_apply(g, env, options, plan_file, auto_approve, parse_duration(lock_timeout),
                     allow_dirty=allow_dirty)
    raise typer.Exit(code)


AllowDirtyOption = Annotated[
    bool,
    typer.Option("--allow-dirty",
                 help="Accepted for unprotected environments (never checked); refused for "
                      "protected ones."),
]


def destroy(
    env: EnvOption = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve")] = False,
    target: TargetOption = None,
    parallelism: ParallelismOption = 4,
    lock_timeout: LockTimeoutOption = "0s",
    allow_dirty: AllowDirtyOption = False,
) -> None:
    """Destroy every resource of an environment (or --target and what depends on it).

    A protected environment is destroyed only from a clean git tree on an allowed branch."""
    from stackform.cli.flows import make_plan_options, run_apply

    g = Globals.current()
    options = make_plan_options(False, True, True, target, None, parallelism)
    code = run_apply(g, env, options, None, auto_approve, parse_duration(lock_timeout),
                     allow_dirty=allow_dirty)
    raise typer.Exit(code)


def graph(
    env: EnvOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text, dot or mermaid.")] = "text",
) -> None:
    """Print the dependency graph."""
    from stackform.graph import build_graph, render_dot, render_mermaid, render_text

    renderers = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid}
    if fmt not in renderers:
        raise typer.BadParameter("expected text, dot or mermaid", param_hint="--format")
    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    g.console().data(renderers[fmt](build_graph(session.stack)))
