"""``add``: append a connector's block to the stack file; ``add --list``: the offline index."""

from __future__ import annotations

from typing import Annotated

import typer

from stackform.cli.options import Globals


def register(app: typer.Typer) -> None:
    app.command()(add)


def add(
    kind: Annotated[str | None, typer.Argument(
        help="extractor, loader or transformer.", metavar="KIND", show_default=False)] = None,
    name: Annotated[str | None, typer.Argument(
        help="The connector: a name of the index (tap-postgres), or any name with --pip-url.",
        metavar="NAME", show_default=False)] = None,
    pip_url: Annotated[str | None, typer.Option(
        "--pip-url", help="What to install (default: the index's package for NAME).",
        metavar="SPEC")] = None,
    executable: Annotated[str | None, typer.Option(
        "--executable", help="The command to run (default: the package's tap-*/target-* "
        "script).", metavar="X")] = None,
    block: Annotated[str | None, typer.Option(
        "--name", help="The block's name (default: NAME without tap-/target-).",
        metavar="BLOCK")] = None,
    python: Annotated[str | None, typer.Option(
        "--python", help="Python version for the plugin's venv.", metavar="VERSION")] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="Show the connectors stackform knows offline (of KIND, if given).")
    ] = False,
    fmt: Annotated[str, typer.Option("--format", help="text or json (with --list).")] = "text",
) -> None:
    """Install a connector, ask it about its settings, and append its block to stack.toml.

    The block lists the settings the connector declares (`--about`, Singer SDK connectors):
    required ones as placeholders, secret ones as ${secret.NAME} references, optional ones
    commented out with their description and default. The rest of the file is kept as it is.
    """
    from stackform.plugins.add import SINGULAR

    g = Globals.current()
    plural = None
    if kind is not None:
        plural = SINGULAR.get(kind.rstrip("s") if kind.endswith("s") else kind)
        if plural is None:
            raise typer.BadParameter(f"unknown kind {kind!r}: extractor, loader or transformer")
    if list_:
        _list(plural, fmt)
        return
    if plural is None or name is None:
        raise typer.BadParameter("say what to add: stackform add extractor|loader|transformer "
                                 "NAME (or stackform add --list)")
    _add(g, plural, name, pip_url=pip_url, executable=executable, block=block, python=python)


def _add(g: Globals, kind: str, name: str, *, pip_url: str | None, executable: str | None,
         block: str | None, python: str | None) -> None:
    from stackform.config.loader import find_stack_file
    from stackform.plugins.add import (
        append_block,
        block_text,
        check_stack,
        default_block_name,
        prepare,
    )
    from stackform.registry import Registry

    console = g.console()
    path = find_stack_file(g.directory, g.file)
    registry = Registry()
    block = block or default_block_name(name, kind)
    check_stack(path, kind, block, registry)
    addition = prepare(kind, name, pip_url=pip_url, executable=executable, block=block,
                       python=python, log=lambda m: console.line(m, "muted"))
    check_stack(path, kind, block, registry)  # the file may have changed while installing
    append_block(path, block_text(addition), kind, block)
    for note in addition.notes:
        console.line(note, "muted")
    if addition.unlearnt:
        console.warning(f"{kind}.{block}: settings not learnt: {addition.unlearnt}; the block "
                        "has pip_url and executable only")
    elif addition.about is not None and addition.about.schema is not None:
        schema = addition.about.schema
        top = schema.top_level()
        console.line(f"{len(top)} settings from --about ({sum(s.required for s in top.values())}"
                     f" required, {len(schema.secret_paths())} secret)", "muted")
    console.line(f"Added [{kind}.{block}] to {path.name} ({addition.pip_url}). Fill in its "
                 "settings, then `stackform validate`.", "success")


def _list(kind: str | None, fmt: str) -> None:
    import json

    from stackform.plugins.index import entries

    console = Globals.current().console()
    found = entries(kind if kind != "transformers" else "none")
    if fmt == "json":
        console.data(json.dumps([e.to_json() for e in found], indent=2))
        return
    if fmt != "text":
        raise typer.BadParameter(f"unknown format {fmt!r}: text or json")
    console.table(["name", "kind", "package", "executable", "variant", "maintained",
                   "description"],
                  [[e.name, e.kind, e.pip_url, e.executable, e.variant,
                    "yes" if e.maintained else f"no (last {e.last_release})", e.description]
                   for e in found])
