"""The CI templates in examples/ci/ parse, and every ``stackform`` command line they run uses
a command and options the CLI really has (checked against the typer app itself)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from stackform.cli.main import app

CI = Path(__file__).resolve().parent.parent / "examples" / "ci"
TEMPLATES = ["github-actions.yml", "gitlab-ci.yml"]

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
            calls.append(shlex.split(match.group(1), comments=True))
    return calls


def _root() -> Any:
    """The click command typer builds (typer vendors click, so it is duck-typed here)."""
    return typer.main.get_command(app)


def _is_group(command: Any) -> bool:
    return hasattr(command, "get_command") and hasattr(command, "commands")


def check_call(args: list[str]) -> str:
    """Raise AssertionError unless ``stackform ARGS`` names a real command and options;
    return the command's path (``plan``, ``env list``)."""
    command = _root()
    ctx = command.context_class(command)
    path: list[str] = []
    words = list(args)
    while words:
        word = words.pop(0)
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
    assert not _is_group(command), f"`stackform {' '.join(path)}` needs a command"
    return " ".join(path)


def _consume_option(command: Any, word: str, rest: list[str], where: str) -> None:
    name, eq, _value = word.partition("=")
    for param in command.params:
        if param.param_type_name == "option" and name in (*param.opts, *param.secondary_opts):
            if not param.is_flag and not param.count and not eq:
                assert rest, f"{name} of `{where}` needs a value"
                rest.pop(0)
            return
    raise AssertionError(f"`stackform {where}` has no option {name}")


@pytest.fixture(params=TEMPLATES)
def template(request: pytest.FixtureRequest) -> tuple[str, Any, str]:
    text = (CI / request.param).read_text()
    return request.param, yaml.safe_load(text), text


def test_every_stackform_call_exists(template: tuple[str, Any, str]) -> None:
    name, document, _text = template
    calls = stackform_calls(document)
    commands = [check_call(args) for args in calls]
    assert {"validate", "lock", "plan", "apply"} <= set(commands), (name, commands)
    plans = [c for c in calls if c[0] == "plan"]
    for args in plans:
        for option in ("--env", "-o", "--out-markdown", "--detailed-exitcode"):
            assert option in args, (name, args)
    assert ["lock", "--check"] in calls
    applies = [c for c in calls if c[0] == "apply"]
    assert applies == [["apply", "--env", "prod", "plan-prod.sfplan"]], applies


def test_templates_treat_exit_2_as_changes_and_keep_artifacts(
        template: tuple[str, Any, str]) -> None:
    name, _document, text = template
    assert '-ne 2' in text  # --detailed-exitcode: 2 means changes, not a failure
    assert "stackform.lock" in text  # lock --check only when a lock exists
    if name == "github-actions.yml":
        assert "gh pr comment" in text and "--body-file plan-" in text
        assert "actions/upload-artifact" in text
    else:
        assert "/merge_requests/$CI_MERGE_REQUEST_IID/notes" in text
        assert "artifacts:" in text and "plan-$ENV.sfplan" in text


def test_checker_rejects_unknown_commands_and_options() -> None:
    assert check_call(["plan", "--env", "prod", "--format", "markdown"]) == "plan"
    assert check_call(["env", "list"]) == "env list"
    with pytest.raises(AssertionError, match="no command 'plna'"):
        check_call(["plna"])
    with pytest.raises(AssertionError, match="no option --out-md"):
        check_call(["plan", "--out-md", "x.md"])
    with pytest.raises(AssertionError, match="needs a command"):
        check_call(["env"])
    doc = {"script": ["if [ -f x ]; then stackform lock --check; fi",
                      "uv tool install stackform", "echo done && stackform validate"]}
    assert stackform_calls(doc) == [["lock", "--check"], ["validate"]]
