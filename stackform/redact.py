"""Known secret values out of what stackform writes and prints about a run or an apply.

A plugin may print its own config, a DSN or a token (a tap logging its settings, a driver's
error quoting its connection string). Everything stackform keeps or shows of a run (its log,
its record, the console lines) and of an apply (its log, each resource's error) goes through a
:class:`Redactor`, which replaces every known secret value with ``***``. The known values are:

* the value of every sensitive attribute of the stack's resources, whole
  (:attr:`~stackform.resource.Resource.sensitive`: anything built from ``${secret.NAME}``, and
  what a provider declares in ``sensitive_fields``);
* the value of every ``${secret.NAME}`` the stack file names, on its own (a password inside
  a DSN attribute);
* values under keys that look secret (``password``, ``token``, ``secret``, ``api_key``,
  ``private_key``, ``credentials``...), at any depth, even when written literally;

each also in its JSON-escaped and URL-encoded forms. Values shorter than
:data:`MIN_LENGTH` characters are left alone: replacing every ``abc`` in a log would mangle it
and hide little.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from stackform.resource import KeyPath, Resource
from stackform.secrets import SecretStore, referenced_secrets

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack

MASK = "***"
MIN_LENGTH = 4
SECRET_KEY = re.compile(
    r"pass(word|wd|phrase)|secret|token|api_?key|private_?key|credential", re.IGNORECASE)


class Redactor:
    """Replaces known secret values in text and in JSON-like data."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for value in values:
            if len(value) < MIN_LENGTH:
                continue
            forms.update({value, json.dumps(value)[1:-1], quote(value, safe="")})
        self._pattern = (re.compile("|".join(re.escape(v) for v in
                                             sorted(forms, key=len, reverse=True)))
                         if forms else None)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def data(self, value: Any) -> Any:
        """``value`` with every string inside it redacted (keys stay as they are)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.data(v) for v in value]
        return value

    def wrap(self, write: Callable[[str], None]) -> Callable[[str], None]:
        """``write`` with its text redacted first."""
        if self._pattern is None:
            return write
        return lambda text: write(self(text))


def _leaves(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    elif isinstance(value, str):
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield str(value)


def _at(value: Any, path: KeyPath) -> Any:
    for key in path:
        try:
            value = value[key]
        except (KeyError, IndexError, TypeError):
            return None
    return value


def _under_secret_keys(value: Any) -> Iterable[str]:
    if isinstance(value, Mapping):
        for key, v in value.items():
            if isinstance(key, str) and SECRET_KEY.search(key):
                yield from (s for s in _leaves(v) if not s.isdigit())
            else:
                yield from _under_secret_keys(v)
    elif isinstance(value, list):
        for v in value:
            yield from _under_secret_keys(v)


def secret_values(resources: Iterable[Resource]) -> set[str]:
    """The values of the resources' sensitive attributes and of secret-looking keys."""
    found: set[str] = set()
    for resource in resources:
        for path in resource.sensitive:
            found.update(_leaves(_at(resource.attributes, path)))
        found.update(_under_secret_keys(resource.attributes))
    return found


def used_secrets(stack: ResolvedStack) -> set[str]:
    """The value of each ``${secret.NAME}`` the stack file names, from where resolving took it
    (the keyring, else ``STACKFORM_SECRET_<NAME>``); a secret set nowhere is skipped."""
    import tomllib

    try:
        text = stack.file.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return set()
    if "secret" not in text and "\\u" not in text.lower():
        return set()  # no ${secret.NAME}, not even spelled with escapes: skip parsing again
    try:
        data = tomllib.loads(text)
    except ValueError:
        return set()
    names = referenced_secrets(data)
    if not names:
        return set()
    store = SecretStore(stack.name)
    return {found.value for name in names if (found := store.lookup(name)) is not None}


def stack_redactor(stack: ResolvedStack) -> Redactor:
    """A redactor for everything known secret in ``stack`` (see the module's docstring)."""
    return Redactor(secret_values(stack.resources.values()) | used_secrets(stack))
