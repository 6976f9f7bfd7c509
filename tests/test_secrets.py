"""Tests for the keyring/env secret store (stackform.secrets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import keyring.backend
import keyring.core
import keyring.errors
import pytest

from stackform.errors import SecretError
from stackform.secrets import (
    SecretStore,
    env_var_name,
    referenced_secrets,
)


@pytest.fixture
def plaintext_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keyrings.alt's plaintext file keyring under a temp XDG_DATA_HOME (tests only)."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyrings.alt.file.PlaintextKeyring")
    previous = keyring.get_keyring()
    from keyrings.alt.file import PlaintextKeyring

    keyring.core.set_keyring(PlaintextKeyring())
    yield
    keyring.core.set_keyring(previous)


class BrokenKeyring(keyring.backend.KeyringBackend):
    priority = 1

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.NoKeyringError("no backend")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.NoKeyringError("no backend")

    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.NoKeyringError("no backend")


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.core.set_keyring(BrokenKeyring())
    yield
    keyring.core.set_keyring(previous)


def test_env_var_name() -> None:
    assert env_var_name("db-password") == "STACKFORM_SECRET_DB_PASSWORD"
    assert env_var_name("a.b c") == "STACKFORM_SECRET_A_B_C"


@pytest.mark.usefixtures("plaintext_keyring")
def test_set_get_delete_in_keyring() -> None:
    store = SecretStore("jaffle", environ={})
    assert store.service == "stackform:jaffle"
    store.set("db", "hunter2")
    assert store.get("db") == "hunter2"
    found = store.lookup("db")
    assert found is not None and found.origin == "keyring" and found.where == "keyring"
    assert "hunter2" not in repr(found)
    # Another stack's store does not see it.
    assert SecretStore("other", environ={}).lookup("db") is None
    store.delete("db")
    assert store.lookup("db") is None
    with pytest.raises(SecretError, match="not in the keyring"):
        store.delete("db")


@pytest.mark.usefixtures("plaintext_keyring")
def test_keyring_wins_over_environment() -> None:
    environ = {"STACKFORM_SECRET_DB": "from-env"}
    store = SecretStore("jaffle", environ=environ)
    assert store.get("db") == "from-env"
    found = store.lookup("db")
    assert found is not None and found.where == "environment variable STACKFORM_SECRET_DB"
    store.set("db", "from-keyring")
    assert store.get("db") == "from-keyring"


@pytest.mark.usefixtures("plaintext_keyring")
def test_missing_secret_says_how_to_set_it() -> None:
    store = SecretStore("jaffle", environ={})
    with pytest.raises(SecretError) as info:
        store.get("db-pass")
    assert info.value.reason == "secret 'db-pass' is not set for stack 'jaffle'"
    assert info.value.hint is not None
    assert "stackform secret set db-pass" in info.value.hint
    assert "export STACKFORM_SECRET_DB_PASS=..." in info.value.hint


@pytest.mark.usefixtures("no_keyring")
def test_headless_machine_falls_back_to_environment() -> None:
    store = SecretStore("jaffle", environ={"STACKFORM_SECRET_TOKEN": "t"})
    assert store.get("token") == "t"
    with pytest.raises(SecretError) as info:
        store.get("other")
    assert info.value.hint is not None and "keyrings.alt" in info.value.hint
    with pytest.raises(SecretError) as info:
        store.set("token", "x")
    assert info.value.hint is not None
    assert "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring" in info.value.hint
    with pytest.raises(SecretError, match="no keyring backend"):
        store.delete("token")


def test_keyring_can_be_skipped() -> None:
    store = SecretStore("jaffle", environ={"STACKFORM_SECRET_X": "1"}, use_keyring=False)
    assert store.get("x") == "1"


def test_referenced_secrets() -> None:
    data = {
        "vars": {"pw": "${secret.db}", "lit": "$${secret.not_one}"},
        "loaders": {"w": {"config": {"dsn": "u:${secret.db}@${secret.host}",
                                     "list": ["${secret.db}"]}}},
        "broken": "${secret.",
    }
    assert referenced_secrets(data) == {
        "db": [("vars", "pw"), ("loaders", "w", "config", "dsn"),
               ("loaders", "w", "config", "list", 0)],
        "host": [("loaders", "w", "config", "dsn")],
    }
