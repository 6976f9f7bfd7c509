"""``stackform catalog``: the streams and properties a connector offers, and which are
selected by which rule."""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import EnvOption, Globals


def register(app: typer.Typer) -> None:
    app.command()(catalog)


def catalog(
    extractor: Annotated[str, typer.Argument(
        help="The extractor: extractors.NAME, or NAME.", show_default=False)],
    everything: Annotated[bool, typer.Option(
        "--all", help="Every stream and property, selected or not.")] = False,
    env: EnvOption = None,
    fmt: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """Show the streams and properties an extractor offers: which are selected and by which
    rule, with their types, replication method and key. Uses the catalog the last apply
    recorded; with none, runs discovery (read-only) and says so. Changes nothing."""
    from stackform.catalog_listing import FORMATS, catalog_of, title, to_json, to_rows

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected {' or '.join(FORMATS)}", param_hint="--format")
    g = Globals.current()
    session = g.session(env)
    listing = catalog_of(session, extractor)
    console = g.console()
    for note in listing.notes:
        console.line(f"note: {note}")
    if fmt == "json":
        console.data(to_json(listing, session.stack.env, everything))
        return
    console.line(title(listing, session.stack.env, everything))
    console.table(["selected", "stream / property", "type / replication", "why"],
                  to_rows(listing, everything))
