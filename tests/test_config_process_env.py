"""``[env]`` and ``[environments.NAME] env`` under the env of blocks whose provider runs
processes (stackform.config.process_env): the order of merges, secrets, located errors."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from stackform.config.loader import parse_stack_text
from stackform.config.resolve import resolve
from stackform.diagnostics import Diagnostic
from stackform.errors import ConfigError
from stackform.provider import BaseProvider
from stackform.registry import Registry
from tests.test_config_resolve import FakeSecrets


class ToolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    env: dict[str, str] = Field(default_factory=dict)


class Tool(BaseProvider[ToolConfig]):
    kind: ClassVar[str] = "tools"
    Config: ClassVar[type[BaseModel]] = ToolConfig
    process_env_field: ClassVar[str] = "env"


class Quiet(BaseProvider[ToolConfig]):
    """Has an env field but runs no process of its own (an orchestrator's task env)."""

    kind: ClassVar[str] = "quiet"
    Config: ClassVar[type[BaseModel]] = ToolConfig


REGISTRY = Registry(extra={"tools": Tool, "quiet": Quiet})

STACK = """\
[stack]
name = "s"

[env]
REGION = "eu"
LEVEL = "info"
API_TOKEN = "${secret.token}"

[environments.dev]
default = true

[environments.prod]
env = { LEVEL = "warning", ONLY_PROD = "1" }

[environments.prod.override.tools.b.env]
REGION = "us"

[tools.a]

[tools.b]
env = { REGION = "ap", OWN = "x" }

[quiet.q]
env = { OWN = "y" }
"""


def _resolve(text: str, env: str | None = None) -> object:
    stack_file = parse_stack_text(text, Path("/nonexistent/stack.toml"), REGISTRY)
    return resolve(stack_file, env, REGISTRY, environ={},
                   secrets=FakeSecrets({"token": "tok-123"}), check_lock=False)


def test_stack_environment_block_and_override_in_that_order() -> None:
    dev = _resolve(STACK)
    assert dev.resources["tools.a"].attributes["env"] == {  # type: ignore[attr-defined]
        "REGION": "eu", "LEVEL": "info", "API_TOKEN": "tok-123"}
    assert dev.resources["tools.b"].attributes["env"]["REGION"] == "ap"  # type: ignore[attr-defined]
    prod = _resolve(STACK, "prod")
    a = prod.resources["tools.a"]  # type: ignore[attr-defined]
    assert a.attributes["env"] == {"REGION": "eu", "LEVEL": "warning", "API_TOKEN": "tok-123",
                                   "ONLY_PROD": "1"}
    assert ("env", "API_TOKEN") in a.sensitive
    assert prod.resources["tools.b"].attributes["env"]["REGION"] == "us"  # type: ignore[attr-defined]
    # A kind that does not declare TakesProcessEnv gets nothing from the stack.
    assert prod.resources["quiet.q"].attributes["env"] == {"OWN": "y"}  # type: ignore[attr-defined]


def test_a_literal_secret_is_warned_where_the_stack_writes_it() -> None:
    text = STACK.replace('API_TOKEN = "${secret.token}"', 'API_TOKEN = "literal"')
    warnings = [w for w in _resolve(text).warnings  # type: ignore[attr-defined]
                if w.path == "tools.a.env.API_TOKEN"]
    [w] = warnings
    assert "names a secret" in w.message
    assert w.location is not None and w.location.line == 7  # the [env] line


def _problems(text: str) -> dict[str, Diagnostic]:
    try:
        _resolve(text)
    except ConfigError as exc:
        return {d.path or "": d for d in exc.diagnostics}
    raise AssertionError("no error")


def test_bad_names_and_values_are_located() -> None:
    found = _problems(STACK.replace('REGION = "eu"', '"BAD-NAME" = "eu"'))
    assert "'BAD-NAME' is not an environment variable name" in found["env"].message
    found = _problems(STACK.replace('REGION = "eu"', 'NUM = 3'))
    assert found["env.NUM"].message == "expected a string, got an integer"
    assert found["env.NUM"].location is not None and found["env.NUM"].location.line == 5
    found = _problems(STACK.replace('ONLY_PROD = "1"', 'ONLY_PROD = true'))
    assert "environments.prod.env.ONLY_PROD" in found
