"""``stackform lineage``: the stack's column lineage around a block, a table or a column."""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import EnvOption, Globals


def register(app: typer.Typer) -> None:
    app.command()(lineage)


def lineage(
    what: Annotated[str | None, typer.Argument(
        help="A block (transformers.dbt), a table (stg_orders) or a column "
             "(stg_orders.amount); all of the lineage when left out.")] = None,
    env: EnvOption = None,
    fmt: Annotated[str, typer.Option(
        "--format", help="text, json, mermaid, dot or html.")] = "text",
    upstream_only: Annotated[bool, typer.Option(
        "--upstream", help="Only what WHAT is computed from.")] = False,
    downstream_only: Annotated[bool, typer.Option(
        "--downstream", help="Only what is computed from WHAT.")] = False,
) -> None:
    """Show the column lineage of what is applied: from the extractors' streams through the
    loaders' tables to dbt's models and tests. Changes nothing; takes no lock."""
    from stackform.lineage.query import FORMATS, RENDERERS, environment_graph, select
    from stackform.provider import make_context
    from stackform.resource import fingerprinter

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected {', '.join(FORMATS)}", param_hint="--format")
    g = Globals.current()
    session = g.session(env, strict_secrets=False)
    state = session.read_state()
    ctx = make_context(session.stack, fingerprinter(state.lineage if state else "none"),
                       session.log)
    graph = environment_graph(ctx, session.registry.get, session.stack, state,
                              session.dependencies)
    both = upstream_only == downstream_only
    selected = select(graph, what, upstream=both or upstream_only,
                      downstream=both or downstream_only)
    g.console().data(RENDERERS[fmt](selected))
