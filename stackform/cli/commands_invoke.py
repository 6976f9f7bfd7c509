"""``stackform invoke``: run a block's executable with the environment's config and secrets."""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import EnvOption, Globals


def register(app: typer.Typer) -> None:
    # The executable's own options pass through (``-- --about`` or just ``--about``).
    app.command(context_settings={"ignore_unknown_options": True})(invoke)


def invoke(
    block: Annotated[str, typer.Argument(
        help="The block: extractors.NAME, transformers.NAME..., or NAME.",
        show_default=False)],
    args: Annotated[list[str] | None, typer.Argument(
        help="Arguments for the executable (after --).", show_default=False)] = None,
    env: EnvOption = None,
) -> None:
    """Run a block's executable with the environment's rendered config and secrets (a tap's
    --about, dbt show --select x, dbt docs generate), streaming its output; exits with its
    exit code. Secrets stay in a private runtime folder, removed afterwards."""
    from stackform.invoke import invoke_block

    g = Globals.current()
    console = g.console()
    code = invoke_block(g.session(env), block, args or [], console.raw,
                        lambda text: console.line(text.rstrip("\n")))
    raise typer.Exit(code)
