"""Every ``stackform`` command shown in the README and ``docs/`` parses against the real CLI,
and the ``--help`` listing in ``docs/cli.md`` is the CLI's own.

Commands are taken from shell and console code blocks (``$ stackform ...`` lines, and calls
inside scripts) and from inline code spans that start with ``stackform``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main

from stackform.cli.main import app
from tests.cli_commands import check_call, stackform_calls

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md"),
                *(ROOT / "examples").glob("*/README.md")])
_FENCE = re.compile(r"^```([\w-]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_INLINE = re.compile(r"(?<!`)`(stackform [^`\n]+)`(?!`)")
_SHELL = {"bash", "sh", "shell", "console", "zsh"}


def commands_in(text: str) -> list[list[str]]:
    """The argument lists of the ``stackform`` calls a markdown page shows."""
    calls: list[list[str]] = []
    for language, body in _FENCE.findall(text):
        if language not in _SHELL:
            continue
        if language == "console":
            body = "\n".join(line[2:] for line in body.splitlines() if line.startswith("$ "))
        calls.extend(stackform_calls(body))
    prose = _FENCE.sub("", text)
    for span in _INLINE.findall(prose):
        calls.extend(_mentioned(shlex.split(span.removeprefix("stackform "), comments=True)))
    return calls


def _mentioned(words: list[str]) -> list[list[str]]:
    """The calls a prose mention stands for: up to ``...``, ``a|b`` as each alternative; a
    placeholder in capitals where a command goes (``stackform COMMAND --help``) is none."""
    if "..." in words:
        words = words[: words.index("...")]
    commands = [w for w in words if not w.startswith("-")]
    if commands and commands[0].isupper():
        return []
    for i, word in enumerate(words):
        if "|" in word and not word.startswith("-"):
            return [call for alternative in word.split("|")
                    for call in _mentioned([*words[:i], alternative, *words[i + 1:]])]
    return [words]


def _global_only(args: list[str]) -> bool:
    """Only global options (``--version``, ``-f FILE``): no command to check."""
    try:
        return check_call([*args, "validate"]) == "validate"
    except AssertionError:
        return False


def _page_id(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=_page_id)
def test_every_command_a_page_shows_exists(page: Path) -> None:
    problems = []
    for args in commands_in(page.read_text()):
        if _global_only(args):
            continue  # `stackform --version`, `stackform -f other.toml`
        try:
            check_call(args, allow_group=True)
        except AssertionError as exc:
            problems.append(f"stackform {shlex.join(args)}: {exc}")
    assert not problems, "\n".join(problems)


def test_the_pages_show_commands_at_all() -> None:
    shown = {check_call(a, allow_group=True) for page in PAGES
             for a in commands_in(page.read_text()) if not _global_only(a)}
    assert {"plan", "apply", "run", "state push", "env list", "lock"} <= shown


def test_cli_md_lists_every_top_level_command() -> None:
    root = typer.main.get_command(app)
    real = set(root.commands)  # type: ignore[attr-defined]
    text = (ROOT / "docs" / "cli.md").read_text()
    listing = text[text.index("```"):]
    listing = listing[: listing.index("```", 3)]
    listed = {line.split()[0] for line in listing.splitlines()[1:]
              if line.startswith("  ") and line.split()}
    assert real <= listed, f"docs/cli.md's --help listing lacks {sorted(real - listed)}"


def test_the_extractor_finds_calls() -> None:
    text = ("Run `stackform plan --env prod` then:\n\n```bash\nstackform apply x.sfplan  # go\n"
            "```\n\n```console\n$ stackform runs daily\nnot a command stackform lol\n```\n")
    assert commands_in(text) == [["apply", "x.sfplan"], ["runs", "daily"],
                                 ["plan", "--env", "prod"]]
    assert _mentioned(["state", "history|rollback", "..."]) == [["state", "history"],
                                                                 ["state", "rollback"]]
    assert _mentioned(["COMMAND", "--help"]) == []
    assert commands_in("```bash\nstackform state pull > prod.json\n```") == [["state", "pull"]]
