"""Which values are secret for redaction, and how they are masked in text and data."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel

from stackform.redact import MASK, Redactor, secret_values, stack_redactor
from stackform.resource import Resource


class _Any(BaseModel):
    model_config = {"extra": "allow"}


def _resource(attributes: dict[str, object],
              sensitive: frozenset[tuple[str | int, ...]] = frozenset()) -> Resource:
    return Resource("extractors.x", "extractors", "x", _Any(), attributes, sensitive)


def test_masks_every_form_of_a_value_and_ignores_short_ones() -> None:
    secret = 'pa"ss/w rd'
    redact = Redactor([secret, "abc"])
    text = (f"raw {secret} json {json.dumps(secret)} url {quote(secret, safe='')} "
            "short abc stays")
    assert redact(text) == f'raw {MASK} json "{MASK}" url {MASK} short abc stays'
    assert bool(redact) and not Redactor(["abc", ""])
    assert Redactor()("nothing known") == "nothing known"


def test_longer_values_win_over_their_prefixes() -> None:
    redact = Redactor(["token", "token-and-more"])
    assert redact("x token-and-more y token z") == f"x {MASK} y {MASK} z"


def test_data_redacts_strings_at_any_depth_and_keeps_keys() -> None:
    redact = Redactor(["hunter2-xyz"])
    record = {"error": "login hunter2-xyz failed", "hunter2-xyz": 1,
              "steps": [{"details": {"tail": ["a", "b hunter2-xyz"]}, "n": 3}]}
    assert redact.data(record) == {
        "error": f"login {MASK} failed", "hunter2-xyz": 1,
        "steps": [{"details": {"tail": ["a", f"b {MASK}"]}, "n": 3}]}


def test_secret_values_from_sensitive_paths_and_secret_looking_keys() -> None:
    resource = _resource(
        {"config": {"host": "db.internal", "dsn": "postgresql://u:pw-1234@db/x", "port": 5432,
                    "auth": {"client_secret": "cs-9876", "private_key": ["k-1111", "k-2222"]},
                    "api_key": "ak-5555", "primary_keys": ["id"], "token_ttl": 3600},
         "env": {"TAP_PASSWORD": "envpw-42"}, "executable": "tap-x"},
        frozenset({("config", "dsn")}))
    assert secret_values([resource]) == {"postgresql://u:pw-1234@db/x", "cs-9876", "k-1111",
                                         "k-2222", "ak-5555", "envpw-42"}


def test_sensitive_subtrees_and_numbers_count_whole() -> None:
    resource = _resource({"target": {"creds": {"user": "reader", "pin": 987654}}},
                         frozenset({("target", "creds")}))
    assert secret_values([resource]) == {"reader", "987654"}


def test_stack_redactor_knows_each_secret_the_stack_file_names(tmp_path: Path,
                                                              monkeypatch) -> None:
    from stackform.config.model import EnvironmentSettings, ResolvedStack

    monkeypatch.setenv("STACKFORM_SECRET_DB_PW", "s3cr3t-inside")
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    stack_file = tmp_path / "stack.toml"
    stack_file.write_text('[stack]\nname = "s"\n[extractors.x]\n'
                          'config = { dsn = "postgresql://u:${secret.db_pw}@h/d" }\n')
    dsn = "postgresql://u:s3cr3t-inside@h/d"
    stack = ResolvedStack(name="s", env="dev", file=stack_file, dir=tmp_path,
                          environment=EnvironmentSettings(name="dev"), state={},
                          resources={"extractors.x": _resource({"config": {"dsn": dsn}},
                                                               frozenset({("config", "dsn")}))})
    redact = stack_redactor(stack)
    assert redact(f"connecting to {dsn}") == f"connecting to {MASK}"
    assert redact("auth failed for password s3cr3t-inside") == f"auth failed for password {MASK}"
