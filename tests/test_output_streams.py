"""Output goes through the console, which owns the two streams: data to stdout, the rest to
stderr."""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

import pytest

from stackform.console import CaptureConsole, RichConsole

PACKAGE = Path(__file__).resolve().parents[1] / "stackform"
ALLOWED = {PACKAGE / "console.py"}  # the one module that writes to the streams
WRITERS = {"print", "typer.echo", "typer.secho", "click.echo", "click.secho",
           "sys.stdout.write", "sys.stderr.write"}


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def test_only_the_console_module_writes_to_stdout_or_stderr() -> None:
    # The syntax tree, not the text: a script held in a string (a child process's) is not a
    # write of stackform's own.
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and _dotted(node.func) in WRITERS:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} "
                             f"{_dotted(node.func)}")
    assert found == [], "write through stackform.console instead:\n" + "\n".join(found)


def test_data_goes_to_stdout_and_everything_said_about_the_work_to_stderr() -> None:
    console = CaptureConsole()
    console.data('{"plan": 1}')
    console.raw("exact\x1b")
    console.markup("[green]+[/] files.a")
    console.table(["name"], [["files.a"]])
    console.line("Apply complete.", "success")
    console.line("progress")
    console.warning("careful")
    console.error("broken", "fix it")
    with console.progress(1, "applying") as progress:
        progress.advance("files.a done")
    assert console.stdout.getvalue() == ('{"plan": 1}\nexact\x1b+ files.a\nname\n-------\n'
                                         "files.a\n")
    assert console.stderr.getvalue() == ("Apply complete.\nprogress\nWarning: careful\n"
                                         "Error: broken\n  hint: fix it\n[1/1] files.a done\n")


def test_a_question_is_asked_on_stderr() -> None:
    console = CaptureConsole(answers=[True])
    assert console.confirm("Go?")
    assert console.stdout.getvalue() == ""
    assert "Go?" in console.stderr.getvalue()


def test_the_rich_console_keeps_the_same_streams(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.setattr(sys, "stdin", io.StringIO())
    out, err = io.StringIO(), io.StringIO()
    console = RichConsole()
    console._out = Console(file=out, color_system=None, width=200)
    console._err = Console(file=err, color_system=None, width=200)
    console.data('{"plan": 1}')
    console.markup("[green]+[/] files.a")
    console.table(["name"], [["files.a"]])
    console.line("Apply complete.", "success")
    console.warning("careful")
    console.error("broken", "fix it")
    with console.progress(1, "applying") as progress:
        progress.advance("files.a done")
    assert out.getvalue().startswith('{"plan": 1}\n+ files.a\n')
    assert "files.a" in out.getvalue().split("+ files.a", 1)[1]  # the table
    assert "Apply complete." not in out.getvalue() and "careful" not in out.getvalue()
    assert err.getvalue().startswith("Apply complete.\nWarning: careful\nError: broken\n"
                                     "  hint: fix it\n")
