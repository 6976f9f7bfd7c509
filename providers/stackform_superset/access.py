"""What one process holds for each Superset server: the passwords of its bi block, which never
reach state (a dashboard needs them at apply), and one logged-in client per server and account.

A dashboard needs its bi block's password and database passwords at apply time, which must
never reach its attributes (state): resolving the stack computes the bi block's plain settings
into the dashboard's ``server`` attribute and keeps the secrets in this process only
(:class:`Secrets`).
"""

from __future__ import annotations

import hashlib
import re
import threading
from typing import TYPE_CHECKING, ClassVar

from stackform.config.interpolate import secret_placeholder
from stackform.errors import StackformError
from stackform.provider import Context
from stackform.secrets import SecretStore
from stackform_superset.client import SupersetClient
from stackform_superset.config import BiConfig

if TYPE_CHECKING:
    from stackform.config.model import ResolvedStack


class Secrets:
    """The passwords of each bi block, for this process only, by (stack folder, environment,
    address): filled when the stack is resolved, read by the dashboards' apply and refresh.

    ``destroy`` resolves the stack without secrets (placeholders), but deleting from Superset
    needs a login: a placeholder is looked up in the stack's secret store, and when it is not
    there either, the call that needs it says which secret is missing.
    """

    _lock = threading.Lock()
    _known: ClassVar[dict[tuple[str, str, str], tuple[str, dict[str, str]]]] = {}

    @classmethod
    def put(cls, stack: ResolvedStack, address: str, config: BiConfig) -> None:
        passwords = {k: real_secret(stack.name, d.password) for k, d in config.databases.items()
                     if d.password}
        with cls._lock:
            cls._known[(str(stack.dir.resolve()), stack.env, address)] = (
                real_secret(stack.name, config.password), passwords)

    @classmethod
    def known(cls, ctx: Context, address: str) -> bool:
        with cls._lock:
            return (str(ctx.stack_dir.resolve()), ctx.env, address) in cls._known

    @classmethod
    def get(cls, ctx: Context, address: str) -> tuple[str, dict[str, str]]:
        with cls._lock:
            found = cls._known.get((str(ctx.stack_dir.resolve()), ctx.env, address))
        if found is None:
            # The stack no longer has the bi block (both blocks removed at once, say).
            raise StackformError(
                f"{address} is no longer in the stack, and Superset needs its login to change "
                "anything", hint=f"keep {address} until the dashboards using it are "
                "destroyed, or forget them with `stackform state rm ADDRESS`")
        for value in (found[0], *found[1].values()):
            missing = _PLACEHOLDER.fullmatch(value)
            if missing:
                raise StackformError(
                    f"{address}: secret '{missing.group(1)}' is needed to log in to Superset "
                    "and is not available", hint=f"`stackform secret set {missing.group(1)}`")
        return found


_HEAD, _, _TAIL = secret_placeholder("\0").partition("\0")
_PLACEHOLDER = re.compile(re.escape(_HEAD) + r"(.+?)" + re.escape(_TAIL))
"""What resolving without secrets (destroy, validate) puts in place of ``${secret.NAME}``."""


def real_secret(stack_name: str, value: str) -> str:
    """The value, or for a secret's placeholder the secret itself when the store has it."""
    missing = _PLACEHOLDER.fullmatch(value)
    if missing is None:
        return value
    found = SecretStore(stack_name).lookup(missing.group(1))
    return found.value if found is not None else value


_CLIENTS: dict[tuple[str, str, str], SupersetClient] = {}
_CLIENTS_LOCK = threading.Lock()


def logged_in_client(url: str, username: str, password: str) -> SupersetClient:
    """One logged-in client per server and account in this process: a login costs about
    200 ms, and a plan and its apply talk to the server several times."""
    key = (url, username, hashlib.sha256(password.encode()).hexdigest())
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = SupersetClient(url, username, password)
        return _CLIENTS[key]
