"""Secrets of one stack: the OS keyring first, then ``STACKFORM_SECRET_<NAME>`` variables.

Keyring entries live under the service ``stackform:<stack name>``. CI and headless machines
usually have no keyring backend; there the environment variable is the way in, and every error
says how to use it. ``keyring`` is imported only when a secret is actually needed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from stackform.config.interpolate import references
from stackform.errors import SecretError
from stackform.resource import KeyPath

ENV_PREFIX = "STACKFORM_SECRET_"
HEADLESS_HINT = (
    "no usable keyring here (a headless machine?): install `keyrings.alt` and set "
    "PYTHON_KEYRING_BACKEND=keyrings.alt.file.PlaintextKeyring, or set the secret "
    "through its environment variable"
)

SecretOrigin = Literal["keyring", "environment"]


def env_var_name(name: str) -> str:
    """``db-password`` -> ``STACKFORM_SECRET_DB_PASSWORD``."""
    return ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def how_to_set(name: str) -> str:
    return f"run `stackform secret set {name}`, or `export {env_var_name(name)}=...`"


@dataclass(frozen=True)
class SecretValue:
    """A secret's value and where it came from (never print ``value``)."""

    name: str
    value: str
    origin: SecretOrigin

    @property
    def where(self) -> str:
        if self.origin == "keyring":
            return "keyring"
        return f"environment variable {env_var_name(self.name)}"

    def __repr__(self) -> str:
        return f"SecretValue(name={self.name!r}, origin={self.origin!r}, value=<hidden>)"


class SecretStore:
    """Reads, writes and deletes the secrets of one stack."""

    def __init__(self, stack_name: str, environ: Mapping[str, str] | None = None,
                 *, use_keyring: bool = True) -> None:
        self.stack_name = stack_name
        self._environ = environ
        self._use_keyring = use_keyring
        self._cache: dict[str, SecretValue | None] = {}
        self.keyring_problem: str | None = None
        """Why the keyring could not be read, when it could not (shown in hints)."""

    @property
    def service(self) -> str:
        return f"stackform:{self.stack_name}"

    @property
    def environ(self) -> Mapping[str, str]:
        return os.environ if self._environ is None else self._environ

    def lookup(self, name: str) -> SecretValue | None:
        """The secret and its origin, or None when neither the keyring nor the env has it."""
        if name in self._cache:
            return self._cache[name]
        found: SecretValue | None = None
        value = self._keyring_get(name)
        if value is not None:
            found = SecretValue(name, value, "keyring")
        else:
            env_value = self.environ.get(env_var_name(name))
            if env_value is not None:
                found = SecretValue(name, env_value, "environment")
        self._cache[name] = found
        return found

    def get(self, name: str) -> str:
        found = self.lookup(name)
        if found is None:
            hint = how_to_set(name)
            if self.keyring_problem:
                hint += f" ({self.keyring_problem})"
            raise SecretError(f"secret '{name}' is not set for stack '{self.stack_name}'", hint)
        return found.value

    def set(self, name: str, value: str) -> None:
        keyring, errors = _keyring()
        try:
            keyring.set_password(self.service, name, value)
        except errors.NoKeyringError:
            raise SecretError(f"cannot store secret '{name}': no keyring backend",
                              hint=f"{HEADLESS_HINT} ({env_var_name(name)})") from None
        except errors.KeyringError as exc:
            raise SecretError(f"cannot store secret '{name}' in the keyring: {exc}",
                              hint=f"set it as {env_var_name(name)} instead") from None
        self._cache.pop(name, None)

    def delete(self, name: str) -> None:
        keyring, errors = _keyring()
        try:
            keyring.delete_password(self.service, name)
        except errors.PasswordDeleteError:
            raise SecretError(f"secret '{name}' is not in the keyring",
                              hint=f"`stackform secret list` shows where each secret "
                              f"resolves from; unset {env_var_name(name)} if it is there"
                              ) from None
        except errors.NoKeyringError:
            raise SecretError(f"cannot delete secret '{name}': no keyring backend",
                              hint=HEADLESS_HINT) from None
        except errors.KeyringError as exc:
            raise SecretError(f"cannot delete secret '{name}' from the keyring: {exc}") from None
        self._cache.pop(name, None)

    def _keyring_get(self, name: str) -> str | None:
        if not self._use_keyring:
            return None
        try:
            keyring, errors = _keyring()
        except SecretError as exc:
            self.keyring_problem = exc.reason
            return None
        try:
            value = keyring.get_password(self.service, name)
        except errors.NoKeyringError:
            self.keyring_problem = HEADLESS_HINT
            return None
        except errors.KeyringError as exc:
            self.keyring_problem = f"the keyring failed: {exc}"
            return None
        return None if value is None else str(value)


def _keyring() -> tuple[Any, Any]:
    try:
        import keyring
        import keyring.errors
    except ImportError:  # pragma: no cover - a declared dependency
        raise SecretError("the keyring package is not installed",
                          hint="`uv pip install keyring`, or use STACKFORM_SECRET_<NAME>") from None
    return keyring, keyring.errors


def referenced_secrets(data: Mapping[str, Any]) -> dict[str, list[KeyPath]]:
    """Every ``${secret.NAME}`` in a stack file's data -> the key paths of strings using it,
    in file order (for ``stackform secret list``)."""
    found: dict[str, list[KeyPath]] = {}
    for path, ref in references(data):
        if ref.namespace == "secret":
            paths = found.setdefault(ref.name, [])
            if path not in paths:
                paths.append(path)
    return found
