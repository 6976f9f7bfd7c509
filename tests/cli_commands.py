"""Check ``stackform`` command lines written in docs and templates against the real CLI.

The typer app itself is the reference: a call passes only when every word names a command the
CLI has and every option one that command takes (with its value when it needs one).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from typing import Any

import typer.main

from stackform.cli.main import app

# `stackform` as a command word: at the start of a line or after a shell separator.
_CALL = re.compile(r"(?:^|[;&|(]\s*|\bthen\s+|\bdo\s+|\$\()\s*stackform\s+([^;&|\n)]*)",
                   re.MULTILINE)


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def stackform_calls(document: Any) -> list[list[str]]:
    """The argument lists of every ``stackform ...`` call in the document's strings."""
    calls = []
    for text in _strings(document):
        # GitHub expressions and shell variables become one plain word
        text = re.sub(r"\$\{\{[^}]*\}\}", "X", text)
        for match in _CALL.finditer(text):
            calls.append(without_redirections(shlex.split(match.group(1), comments=True)))
    return calls


def without_redirections(words: list[str]) -> list[str]:
    """The words of a call up to a shell redirection (``> file``, ``2>&1``, ``< in``)."""
    for i, word in enumerate(words):
        if re.match(r"^\d*[<>]", word):
            return words[:i]
    return words


def _root() -> Any:
    """The click command typer builds (typer vendors click, so it is duck-typed here)."""
    return typer.main.get_command(app)


def _is_group(command: Any) -> bool:
    return hasattr(command, "get_command") and hasattr(command, "commands")


def check_call(args: list[str], allow_group: bool = False) -> str:
    """Raise AssertionError unless ``stackform ARGS`` names a real command and options;
    return the command's path (``plan``, ``env list``). ``allow_group`` accepts a group named
    alone (``stackform state``, as prose mentions one)."""
    command = _root()
    ctx = command.context_class(command)
    path: list[str] = []
    words = list(args)
    while words:
        word = words.pop(0)
        if word == "--" and path and not _is_group(command):
            # The rest is the command's to pass on (`stackform invoke x -- --about`).
            assert any(p.param_type_name == "argument" and p.nargs == -1
                       for p in command.params), f"`stackform {' '.join(path)}` takes no --"
            break
        if word.startswith("-"):
            _consume_option(command, word, words, " ".join(path) or "stackform")
            continue
        if _is_group(command):
            sub = command.get_command(ctx, word)
            assert sub is not None, f"stackform has no command {' '.join([*path, word])!r}"
            command = sub
            path.append(word)
            continue
        # a positional argument: the command must take one
        assert any(p.param_type_name == "argument" for p in command.params), (
            f"`stackform {' '.join(path)}` takes no argument {word!r}")
    assert path, f"no command in {args}"
    assert allow_group or not _is_group(command), f"`stackform {' '.join(path)}` needs a command"
    return " ".join(path)


def _consume_option(command: Any, word: str, rest: list[str], where: str) -> None:
    name, eq, _value = word.partition("=")
    if name in ("--help", "-h"):
        return  # every command takes it
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            if not param.is_flag and not param.count and not eq:
                assert rest, f"{name} of `{where}` needs a value"
                rest.pop(0)
            return
    raise AssertionError(f"`stackform {where}` has no option {name}")
