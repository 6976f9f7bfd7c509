"""The utilities provider's rules on their own: config as environment variable names, commands
split and checked, located errors for bad commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackform.config.loader import parse_stack_text
from stackform.config.resolve import resolve
from stackform.errors import ConfigError, StackformError
from stackform.registry import Registry
from stackform_utilities.command import command_problem, config_env, env_name
from stackform_utilities.config import UtilityConfig


def test_config_becomes_name_key_variables() -> None:
    assert env_name("my-tool", "max.line") == "MY_TOOL_MAX_LINE"
    assert config_env("sqlfluff", {"dialect": "duckdb", "rules": {"max_line": 90},
                                   "strict": True, "paths": ["a", "b"], "empty": {}}) == {
        "SQLFLUFF_DIALECT": "duckdb", "SQLFLUFF_RULES_MAX_LINE": "90",
        "SQLFLUFF_STRICT": "true", "SQLFLUFF_PATHS": '["a", "b"]', "SQLFLUFF_EMPTY": "{}"}


def test_command_problems_name_the_commands() -> None:
    config = UtilityConfig.model_validate(
        {"pip_url": "sqlfluff", "commands": {"lint": "lint models", "fix": {"args": ["fix"]}}})
    assert command_problem(config, "lint") is None
    assert command_problem(config, "lnt") == ("unknown command 'lnt'", "did you mean 'lint'?")
    message, hint = command_problem(config, None) or ("", "")
    assert "NAME:COMMAND" in message and hint == "commands: fix, lint"


def test_bad_commands_are_located(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[utilities.lint]\npip_url = "yamllint"\n'
            '[utilities.lint.commands]\nok = "-s ."\nbad = "-d \'unclosed"\n'
            'worse = { args = "x", shell = true }\n')
    registry = Registry()
    with pytest.raises(ConfigError) as info:
        resolve(parse_stack_text(text, tmp_path / "stack.toml", registry), None, registry,
                environ={}, strict_secrets=False, check_lock=False)
    found = {d.path: d for d in info.value.diagnostics}
    assert "cannot split the arguments into words" in found["utilities.lint.commands.bad"].message
    assert found["utilities.lint.commands.bad"].location.line == 7  # type: ignore[union-attr]
    assert "utilities.lint.commands.worse.shell" in found
    assert found["utilities.lint.commands.worse.shell"].location.line == 8  # type: ignore[union-attr]


def test_command_line_and_environment(tmp_path: Path) -> None:
    from stackform.plugins.installs import Venv
    from stackform.resource import Resource
    from stackform_utilities.command import command_line

    bin_dir = Venv(tmp_path / "venv", "k").bin_dir
    bin_dir.mkdir(parents=True)
    for name in ("sqlfluff", "sqlfluff-extra"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    config = UtilityConfig.model_validate({
        "pip_url": "sqlfluff==4.5.0", "env": {"A": "1", "SQLFLUFF_DIALECT": "mine"},
        "config": {"dialect": "duckdb"},
        "commands": {"lint": "lint 'my models'",
                     "extra": {"args": ["x"], "env": {"A": "2"},
                               "executable": "sqlfluff-extra"}}})
    resource = Resource("utilities.sqlfluff", "utilities", "sqlfluff", config,
                        config.model_dump(mode="json"))
    venv = Venv(tmp_path / "venv", "k")
    lint = command_line(resource, venv, "lint", tmp_path, ["--verbose"])
    assert lint.argv == (str(bin_dir / "sqlfluff"), "lint", "my models", "--verbose")
    assert lint.cwd == tmp_path
    assert lint.env["A"] == "1" and lint.env["SQLFLUFF_DIALECT"] == "duckdb"  # config wins
    extra = command_line(resource, venv, "extra", tmp_path)
    assert extra.argv == (str(bin_dir / "sqlfluff-extra"), "x") and extra.env["A"] == "2"
    assert command_line(resource, venv, None, tmp_path).argv == (str(bin_dir / "sqlfluff"),)
    with pytest.raises(StackformError, match="unknown command 'lnit'"):
        command_line(resource, venv, "lnit", tmp_path)
