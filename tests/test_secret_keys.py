"""The rule of keys that name secrets (stackform.secret_keys), where resolve applies it (sensitive
paths, warnings for values not from ${secret...}) and how old states are scrubbed on load."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from stackform.config.loader import parse_stack_text
from stackform.config.model import ResolvedStack
from stackform.config.resolve import resolve
from stackform.errors import SecretError
from stackform.provider import BaseProvider
from stackform.registry import Registry
from stackform.resource import fingerprinter, is_fingerprint, secret_key_paths
from stackform.secret_keys import is_secret_key, key_words
from stackform.state.model import State

SECRET_KEYS = [
    "password", "PASSWORD", "Password", "db_password", "PGPASSWORD", "PGPassword", "passwd",
    "pwd", "db_pass", "SMTP_PASS", "passwords", "passphrase", "private_key_passphrase",
    "secret", "secrets", "client_secret", "clientSecret", "aws_secret_access_key",
    "AWS_SECRET_ACCESS_KEY", "secret_key", "s3SecretAccessKey", "secret_id", "token",
    "auth_token", "authToken", "AUTH-TOKEN", "accesstoken", "sas_token", "refresh_token",
    "api_key", "apikey", "APIKEY", "apiKey", "APIKey", "x-api-key", "X-Api-Key", "api_keys",
    "private_key", "privateKey", "ssh_private_key", "account_key", "storage_account_key",
    "credentials", "credential", "service_account_credentials", "credentials_json", "creds",
    "Authorization",
]

NOT_SECRET_KEYS = [
    "tokenizer", "secretary", "max_tokens", "tokens", "password_file", "passwordFile",
    "PASSWORD_FILE", "private_key_path", "credentials_path", "token_file", "secrets_dir",
    "token_url", "token_uri", "secret_name", "password_env", "token_env_var", "access_key",
    "aws_access_key_id", "key", "keyfile", "monkey", "bypass", "passthrough", "compass",
    "passport", "user", "username", "host", "path", "api", "", "_", "auth_method",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_keys_that_name_secrets(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", NOT_SECRET_KEYS)
def test_keys_that_do_not(key: str) -> None:
    assert not is_secret_key(key)


def test_key_words() -> None:
    assert key_words("aws_secret_access_key") == ["aws", "secret", "access", "key"]
    assert key_words("s3SecretAccessKey") == ["s3", "secret", "access", "key"]
    assert key_words("APIKey") == ["api", "key"]
    assert key_words("X-Api-Key") == ["x", "api", "key"]
    assert key_words("PGPASSWORD") == ["pgpassword"]


def test_secret_key_paths_at_any_depth() -> None:
    fp = {"__sensitive__": "abc"}
    value = {
        "password": "p",
        "path": "x",
        "config": {"auth": {"api_key": "k", "use_password": True, "token": None},
                   "hosts": [{"name": "a", "passwd": 5}]},
        "credentials": {"user": "u", "keys": ["a", "b"], "nested": {"x": 1.5}, "on": False},
        "secret": fp,
        "password_file": "/run/secrets/pw",
    }
    assert list(secret_key_paths(value)) == [
        ("password",),
        ("config", "auth", "api_key"),
        ("config", "hosts", 0, "passwd"),
        ("credentials", "user"),
        ("credentials", "keys", 0),
        ("credentials", "keys", 1),
        ("credentials", "nested", "x"),
    ]


# -- resolve: sensitive paths and warnings --------------------------------------------------------


class PluginConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pip_url: str
    config: dict[str, Any] = Field(default_factory=dict)
    api_token: str = "public-default"


class ThirdPartyProvider(BaseProvider):
    """Declares no sensitive field at all: the key rule alone must protect its values."""

    kind = "widgets"
    Config: ClassVar[type[BaseModel]] = PluginConfig


REGISTRY = Registry(extra={"widgets": ThirdPartyProvider})


class FakeSecrets:
    def get(self, name: str) -> str:
        if name != "pw":
            raise SecretError(f"secret '{name}' is not set")
        return "from-the-keyring"


STACK = """\
[stack]
name = "s"

[vars]
secret_pw = "${secret.pw}"
plain = "var-literal"

[widgets.w]
pip_url = "x"
config = { host = "h", password = "literal-1", nested = { auth = { api_key = "literal-2" } } }

[widgets.w2]
pip_url = "x"
config = { password = "${secret.pw}", token = "${var.secret_pw}", client_secret = "${var.plain}" }

[widgets.w3]
pip_url = "x"
config = { PGPASSWORD = "${environ.PGPW}", use_password = true, password = "" }
"""


def _resolve(tmp_path: Path, text: str = STACK) -> ResolvedStack:
    stack_file = parse_stack_text(text, tmp_path / "stack.toml", REGISTRY)
    return resolve(stack_file, None, REGISTRY, environ={"PGPW": "from-env"},
                   secrets=FakeSecrets(), developer="alice")  # type: ignore[arg-type]


def test_values_under_secret_keys_are_sensitive_for_any_provider(tmp_path: Path) -> None:
    stack = _resolve(tmp_path)
    w = stack.resources["widgets.w"]
    assert w.sensitive == {("config", "password"), ("config", "nested", "auth", "api_key"),
                           ("api_token",)}
    masked = json.dumps(w.masked(fingerprinter("l")))
    assert "literal-1" not in masked and "literal-2" not in masked
    assert "public-default" not in masked
    w3 = stack.resources["widgets.w3"]
    assert w3.sensitive == {("config", "PGPASSWORD"), ("config", "password"), ("api_token",)}
    assert w3.masked(fingerprinter("l"))["config"]["use_password"] is True


def test_values_not_from_secrets_are_warned_with_their_location(tmp_path: Path) -> None:
    warnings = {w.path: w for w in _resolve(tmp_path).warnings}
    # Literal, literal in a nested table, a var holding a literal, an ${environ...}; not the
    # values from ${secret...} (directly or through a var), not the provider's default, not a
    # switch, not an empty string.
    assert sorted(warnings) == ["widgets.w.config.nested.auth.api_key",
                                "widgets.w.config.password", "widgets.w2.config.client_secret",
                                "widgets.w3.config.PGPASSWORD"]
    w = warnings["widgets.w.config.password"]
    assert w.severity == "warning"
    line = STACK.splitlines()[9]
    assert w.location is not None
    assert (w.location.line, w.location.column) == (10, line.index('"literal-1"') + 1)
    assert "'password' names a secret" in w.message
    assert w.hint is not None and "stackform secret set w_password" in w.hint
    assert "${secret.w_password}" in w.hint
    nested = warnings["widgets.w.config.nested.auth.api_key"]
    assert nested.location is not None
    assert (nested.location.line, nested.location.column) == (10, line.index('"literal-2"') + 1)
    for warning in warnings.values():
        assert "literal" not in warning.format() and "from-env" not in warning.format()


def test_an_override_is_warned_where_it_is_written(tmp_path: Path) -> None:
    text = ('[stack]\nname = "s"\n[environments.dev]\ndefault = true\n'
            '[environments.dev.override.widgets.w.config]\ntoken = "literal-3"\n'
            '[widgets.w]\npip_url = "x"\n')
    [warning] = _resolve(tmp_path, text).warnings
    assert warning.path == "widgets.w.config.token"
    assert warning.location is not None
    assert (warning.location.line, warning.location.column) == (6, 9)


# -- scrubbing states written before the rule -----------------------------------------------------


def _old_state(resources: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "env": "dev", "stack": "s", "lineage": "lin-1", "serial": 3,
            "tool_version": "0.1.0", "updated_at": "2026-11-01T00:00:00+00:00",
            "git": {"commit": None, "branch": None, "dirty": None, "user": None},
            "resources": {address: {"outputs": {}, "dependencies": [], **resource}
                          for address, resource in resources.items()}}


def test_old_state_is_scrubbed_on_load() -> None:
    old = _old_state({
        "extractors.tap": {"kind": "extractors", "attributes": {
            "pip_url": "x", "config": {"path": "d", "password": "old-clear-pw",
                                       "auth": {"client_secret": 42, "enabled": True}}},
            "outputs": {"selection": {"password_resets": ["id"]}}},
        "files.f": {"kind": "files", "attributes": {"path": "a", "content": "c"}},
    })
    state = State.from_json(old)
    fp = fingerprinter("lin-1")
    tap = state.resources["extractors.tap"]
    assert tap.attributes["config"] == {"path": "d", "password": fp("old-clear-pw"),
                                        "auth": {"client_secret": fp(42), "enabled": True}}
    assert tap.outputs == {"selection": {"password_resets": ["id"]}}  # the provider's data
    assert state.resources["files.f"].attributes == {"path": "a", "content": "c"}
    assert "old-clear-pw" not in state.dumps()
    # Loading the scrubbed document again changes nothing more.
    assert State.loads(state.dumps()).resources == state.resources


def test_clean_state_loads_unchanged() -> None:
    fp = fingerprinter("lin-1")
    doc = _old_state({"loaders.w": {"kind": "loaders", "attributes": {
        "config": {"password": fp("x"), "path": "p"}}}})
    state = State.from_json(doc)
    assert state.resources["loaders.w"].attributes == doc["resources"]["loaders.w"]["attributes"]
    assert is_fingerprint(state.resources["loaders.w"].attributes["config"]["password"])


def test_computed_attributes_are_not_scrubbed() -> None:
    """An orchestrator's computed ``dags`` are keyed by DAG ids, which hold pipeline names
    (``rotate_secrets``): the provider's data, compared and read back in clear."""
    entry = {"pipeline": "rotate_secrets", "schedule": "@daily", "command": "stackform run",
             "sha256": "0123"}
    old = _old_state({"orchestrators.airflow": {"kind": "orchestrators", "attributes": {
        "dags_path": "dags", "env": {"API_TOKEN": "old-clear-token"},
        "dags": {"stackform_s_dev_rotate_secrets": entry}}}})
    attributes = State.from_json(old).resources["orchestrators.airflow"].attributes
    assert attributes["dags"] == {"stackform_s_dev_rotate_secrets": entry}
    assert attributes["env"] == {"API_TOKEN": fingerprinter("lin-1")("old-clear-token")}
