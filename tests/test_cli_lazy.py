"""The root group builds a command's parameters only when that command is used, and lists,
helps and dispatches exactly as typer's own eager group of the same table."""

from __future__ import annotations

from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from stackform.cli import lazy
from stackform.cli.main import app


def _eager() -> Any:
    return typer.main.get_group(lazy.COMMANDS)


def test_one_command_is_built_when_one_runs() -> None:
    root = typer.main.get_command(app)
    assert list(root.commands) == list(_eager().commands)  # type: ignore[attr-defined]
    ctx = root.context_class(root)
    run = root.get_command(ctx, "run")  # type: ignore[attr-defined]
    assert run is not None and run.name == "run"
    assert set(root.commands._built) == {"run"}  # type: ignore[attr-defined]
    assert root.get_command(ctx, "no-such") is None  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["plan", "run", "state", "env"])
def test_a_lazily_built_command_has_the_eager_ones_parameters(name: str) -> None:
    root = typer.main.get_command(app)
    ctx = root.context_class(root)
    built = root.get_command(ctx, name)  # type: ignore[attr-defined]
    eager = _eager().commands[name]
    assert [p.opts for p in built.params] == [p.opts for p in eager.params]
    assert built.help == eager.help


def test_when_typers_builders_change_every_command_is_built_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def changed(*_a: Any, **_k: Any) -> Any:
        raise TypeError("get_command_from_info() got an unexpected keyword argument")

    monkeypatch.setattr(lazy, "_build", changed)
    result = CliRunner().invoke(app, ["plan", "--help"])
    assert result.exit_code == 0, result.output
    assert "Show what apply would change" in result.output
    root = typer.main.get_command(app)
    ctx = root.context_class(root)
    assert root.get_command(ctx, "state") is not None  # type: ignore[attr-defined]
    assert set(root.commands._built) == set(_eager().commands)  # type: ignore[attr-defined]


def test_an_unknown_command_is_still_told_with_a_suggestion() -> None:
    result = CliRunner().invoke(app, ["plna"])
    assert result.exit_code != 0
    assert "No such command 'plna'" in result.output and "plan" in result.output
