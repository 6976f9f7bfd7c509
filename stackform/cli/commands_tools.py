"""``init``, ``pull``, ``fmt``, ``docs``, ``secret`` and ``version``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from stackform import __version__
from stackform.cli.options import EnvOption, Globals
from stackform.errors import ExitCode, StackformError

secret_app = typer.Typer(help="Store and inspect secrets referenced as ${secret.NAME}.",
                         no_args_is_help=True, rich_markup_mode=None)


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(pull)
    app.command()(fmt)
    app.command()(docs)
    app.command()(version)
    app.add_typer(secret_app, name="secret")


def init(
    directory: Annotated[Path, typer.Argument(help="Where to create the stack.")] = Path("."),
    name: Annotated[str | None, typer.Option("--name", help="Stack name (default: the "
                                             "folder's).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite stack.toml.")] = False,
) -> None:
    """Create a commented stack.toml and ignore entries for local state."""
    from stackform.scaffold import default_stack_name, scaffold

    g = Globals.current()
    base = (g.directory or Path.cwd()) / directory
    written = scaffold(base, name or default_stack_name(base), force)
    for path in written:
        g.console().line(f"wrote {path}", "success")
    g.console().line("Next: stackform plan, then stackform apply.")


def pull(
    address: Annotated[str, typer.Argument(help="The block to pull, e.g. dashboards.sales.",
                                           show_default=False)],
    env: EnvOption = None,
) -> None:
    """Write what a deployed object holds now (a dashboard built in Superset) back into the
    files its block is built from, to review and commit. Changes no state."""
    from stackform.pull import pull_block

    g = Globals.current()
    console = g.console()
    changed = pull_block(g.session(env), address)
    for line in changed:
        console.line(line)
    console.line(f"pulled {address}: {len(changed)} file(s) changed" if changed
                 else f"pulled {address}: the files already hold it", "success")


def fmt(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if not formatted; write "
                                        "nothing.")] = False,
    diff: Annotated[bool, typer.Option("--diff", help="Show the changes.")] = False,
) -> None:
    """Rewrite the stack file in canonical layout, keeping comments."""
    import difflib

    from stackform.config.fmt import format_toml
    from stackform.config.loader import find_stack_file

    g = Globals.current()
    path = find_stack_file(g.directory, g.file)
    text = path.read_text()
    try:
        formatted = format_toml(text)
    except Exception as exc:
        raise StackformError(f"{path}: cannot format invalid TOML: {exc}",
                             hint="`stackform validate` shows where") from exc
    if formatted == text:
        return
    if diff or check:
        g.console().data("".join(difflib.unified_diff(
            text.splitlines(True), formatted.splitlines(True), str(path), f"{path} (formatted)")))
    if check:
        g.console().line(f"{path} is not formatted; run `stackform fmt`.", "warning")
        raise typer.Exit(ExitCode.FAILED)
    path.write_text(formatted)
    g.console().line(f"formatted {path}")


def docs(
    page: Annotated[str | None, typer.Argument(
        help="The page to show (singer, stack-file...); without it, the list of pages.",
        show_default=False)] = None,
    path: Annotated[bool, typer.Option(
        "--path", help="Print where the page (or the docs folder) is instead.")] = False,
) -> None:
    """Show stackform's documentation, shipped with it: the list of pages, or one page."""
    from stackform.shipped import doc_page, doc_pages, shipped

    console = Globals.current().console()
    if page is not None:
        found = doc_page(page)
        console.data(str(found) if path else found.read_text(encoding="utf-8").rstrip("\n"))
        return
    if path:
        console.data(str(shipped("docs")))
        return
    pages = doc_pages()
    if not pages:
        raise StackformError("this stackform install ships no documentation",
                             hint="reinstall stackform from its wheel or a source checkout")
    width = max(len(name) for name in pages)
    for name, file in pages.items():
        first = file.read_text(encoding="utf-8").split("\n", 1)[0]
        console.data(f"{name.ljust(width)}  {first.lstrip('# ').strip()}")
    console.line("")
    console.line("Show one with `stackform docs PAGE`.", "muted")


def version() -> None:
    """Show the version of stackform and of the installed providers."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    from stackform.registry import Registry

    g = Globals.current()
    g.console().data(f"stackform {__version__}")
    for kind, ep in sorted(Registry.entry_points_by_kind().items()):
        dist = ep.dist.name if ep.dist else "?"
        try:
            ver = dist_version(dist) if ep.dist else "?"
        except PackageNotFoundError:
            ver = "?"
        g.console().data(f"  provider {kind}: {ep.value} ({dist} {ver})")



@secret_app.command("set")
def secret_set(
    name: str,
    value: Annotated[str | None, typer.Option("--value", help="The value (default: prompt, "
                                              "or read stdin when not a terminal).")] = None,
) -> None:
    """Store a secret in the system keyring under service stackform:<stack>."""
    from stackform.secrets import SecretStore

    g = Globals.current()
    session = g.session(None, strict_secrets=False)
    if value is None:
        if sys.stdin.isatty():
            value = typer.prompt(f"Value for {name}", hide_input=True)
        else:
            value = sys.stdin.read().rstrip("\n")
    SecretStore(session.stack.name).set(name, value)
    g.console().line(f"Stored secret {name} for stack {session.stack.name}.", "success")


@secret_app.command("get")
def secret_get(
    name: str,
    reveal: Annotated[bool, typer.Option("--reveal", help="Print the value itself.")] = False,
) -> None:
    """Say where a secret resolves from; --reveal prints it."""
    from stackform.secrets import SecretStore

    g = Globals.current()
    session = g.session(None, strict_secrets=False)
    store = SecretStore(session.stack.name)
    value = store.get(name)  # raises with how to set it when missing
    found = store.lookup(name)
    if reveal:
        g.console().raw(value + "\n")
    else:
        where = found.where if found else "?"
        g.console().data(f"{name}: set (from {where}); use --reveal to print it")


@secret_app.command("rm")
def secret_rm(name: str) -> None:
    """Delete a secret from the keyring."""
    from stackform.secrets import SecretStore

    g = Globals.current()
    session = g.session(None, strict_secrets=False)
    SecretStore(session.stack.name).delete(name)
    g.console().line(f"Deleted secret {name}.", "success")


@secret_app.command("list")
def secret_list() -> None:
    """List the secrets the stack file references and where each resolves from."""
    from stackform.resource import format_path
    from stackform.secrets import SecretStore, referenced_secrets

    g = Globals.current()
    session = g.session(None, strict_secrets=False)
    store = SecretStore(session.stack.name)
    rows = []
    for name, paths in sorted(referenced_secrets(session.stack_file.data).items()):
        found = store.lookup(name)
        rows.append([name, found.where if found else "MISSING",
                     ", ".join(format_path(p) for p in paths)])
    if not rows:
        g.console().line("The stack file references no secrets.")
        return
    g.console().table(["secret", "resolves from", "used at"], rows)
