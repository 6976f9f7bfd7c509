"""Which keys name a secret: the one rule behind "a ``password`` is always sensitive".

A value written under such a key (``password``, ``PGPASSWORD``, ``client_secret``, ``api_key``,
``credentials``...) is masked in plans and state whether or not it came from
``${secret.NAME}``, and ``validate`` warns when it did not. The rule reads only the key, never
the value; :func:`stackform.resource.secret_key_paths` applies it to a block's attributes.
"""

from __future__ import annotations

import re
from functools import lru_cache

SECRET_WORDS = frozenset({
    "password", "passwords", "passwd", "pwd", "pass", "passphrase",
    "secret", "secrets", "token", "credential", "credentials", "creds", "authorization",
})
"""A key holding one of these words names a secret. Not ``tokens``: ``max_tokens`` counts."""

KEY_PREFIXES = frozenset({"api", "private", "account", "master", "signing", "encryption"})
"""``<prefix> key`` (or ``keys``) names a secret: ``api_key``, ``private_key``. Not
``access_key``: an S3 access key is the public half (``secret_key`` is the secret one)."""

RUN_TOGETHER = ("password", "passwd", "passphrase", "secret", "token", "apikey", "privatekey")
"""A word *ending* in one of these names a secret too (``PGPASSWORD``, ``authtoken``,
``apikey``); ``tokenizer`` and ``secretary`` do not end in one."""

POINTER_WORDS = frozenset({"file", "path", "dir", "url", "uri", "name", "env", "var"})
"""A key ending in one of these says *where* a secret is, not what it is: ``password_file``,
``private_key_path``, ``token_url``, ``secret_name``, ``password_env``."""

_SEPARATOR = re.compile(r"[^A-Za-z0-9]+")
_CASE_CHANGE = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def key_words(key: str) -> list[str]:
    """``aws_secret_access_key`` -> ``[aws, secret, access, key]``; ``clientSecret`` ->
    ``[client, secret]``; ``PGPASSWORD`` -> ``[pgpassword]``. Lower case."""
    return [word.lower() for part in _SEPARATOR.split(key)
            for word in _CASE_CHANGE.split(part) if word]


@lru_cache(maxsize=8192)
def is_secret_key(key: str) -> bool:
    """Whether a key names a secret (case-insensitive; see the module's constants)."""
    words = key_words(key)
    if not words or words[-1] in POINTER_WORDS:
        return False
    for i, word in enumerate(words):
        if word in SECRET_WORDS or word.endswith(RUN_TOGETHER):
            return True
        if word in ("key", "keys") and i > 0 and words[i - 1] in KEY_PREFIXES:
            return True
    return False
