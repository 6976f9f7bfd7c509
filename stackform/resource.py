"""What a resource is, desired and recorded, and how sensitive values are masked.

A *desired* :class:`Resource` comes from the stack file: its attributes are the provider's
validated config, secrets included, and live only in memory. A *recorded* :class:`ResourceState`
is what state keeps: the same attributes with every sensitive leaf replaced by a fingerprint
(``{"__sensitive__": "<hmac>"}``), the provider's outputs, and the addresses it depended on.
Comparing the masked forms is how a plan sees that a secret changed without ever storing it.

A leaf is sensitive when it was built from a ``${secret.NAME}``, when the provider lists its
field in ``sensitive_fields``, or when it sits under a key that names a secret
(:func:`secret_key_paths`); :func:`stackform.state.scrub.scrub_secrets` applies the last rule
to states written before it existed.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any

from stackform.secret_keys import is_secret_key

if TYPE_CHECKING:
    from pydantic import BaseModel

PathKey = str | int
KeyPath = tuple[PathKey, ...]
SENSITIVE_KEY = "__sensitive__"
SENSITIVE_SHOWN = "(sensitive)"

Fingerprinter = Callable[[Any], dict[str, str]]


def format_path(path: Iterable[PathKey]) -> str:
    """``("config", "tags", 0)`` -> ``config.tags[0]``."""
    out = ""
    for key in path:
        if isinstance(key, int):
            out += f"[{key}]"
        else:
            out += f".{key}" if out else str(key)
    return out


def is_fingerprint(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and SENSITIVE_KEY in value


FINGERPRINT_ROUNDS = 20_000
"""PBKDF2-HMAC-SHA256 rounds: a few milliseconds per distinct value here, and as many times
more work for every guess of someone who reads state and tries to recover a weak secret."""


@lru_cache(maxsize=4096)
def _fingerprint(key: bytes, canonical: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", canonical.encode(), key, FINGERPRINT_ROUNDS).hex()


def fingerprinter(lineage: str) -> Fingerprinter:
    """A keyed, deliberately slow fingerprint of a sensitive value (PBKDF2-HMAC-SHA256).

    The key comes from the state's lineage, so the same secret fingerprints differently in two
    states and fingerprints cannot be matched across environments or against precomputed
    tables. It shows *that* a value changed, not what it is. The lineage is not itself secret:
    someone who can read state can still test guesses, one slow fingerprint per guess, so a
    strong secret is safe and a weak password is only slowed down. Keep state private.
    """
    import json

    key = hmac.new(b"stackform-fingerprint", lineage.encode(), hashlib.sha256).digest()

    def fingerprint(value: Any) -> dict[str, str]:
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
        return {SENSITIVE_KEY: _fingerprint(key, canonical)}

    return fingerprint


def mask(value: Any, sensitive: frozenset[KeyPath], fingerprint: Fingerprinter) -> Any:
    """Replace every sensitive subtree of ``value`` by its fingerprint."""
    if not sensitive:
        return value
    return _mask(value, (), sensitive, fingerprint)


def _mask(value: Any, path: KeyPath, sensitive: frozenset[KeyPath], fp: Fingerprinter) -> Any:
    if path in sensitive:
        return fp(value)
    if isinstance(value, Mapping):
        return {k: _mask(v, (*path, k), sensitive, fp) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, (*path, i), sensitive, fp) for i, v in enumerate(value)]
    return value


def secret_key_paths(value: Any) -> list[KeyPath]:
    """The key paths of every value kept under a key that names a secret
    (:func:`~stackform.secret_keys.is_secret_key`), at any depth of a JSON-shaped ``value``
    (dicts and lists), in order.

    Everything under such a key is included leaf by leaf (a table under ``credentials`` too),
    except ``null`` (nothing is set), booleans (a switch like ``use_password``, not a secret)
    and values that are already fingerprints.
    """
    found: list[KeyPath] = []
    _find_secret_keys(dict(value) if isinstance(value, Mapping) else value, (), found)
    return found


def _find_secret_keys(value: Any, path: KeyPath, found: list[KeyPath]) -> None:
    # Every state load walks every recorded attribute: plain loops and concrete types (an
    # isinstance against the Mapping ABC made the walk three times slower).
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and is_secret_key(key):
                _secret_leaves(item, (*path, key), found)
            elif isinstance(item, (dict, list)):
                _find_secret_keys(item, (*path, key), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            if isinstance(item, (dict, list)):
                _find_secret_keys(item, (*path, i), found)


def _secret_leaves(value: Any, path: KeyPath, found: list[KeyPath]) -> None:
    if value is None or isinstance(value, bool) or is_fingerprint(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _secret_leaves(item, (*path, key), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _secret_leaves(item, (*path, i), found)
    else:
        found.append(path)


def redact(value: Any) -> Any:
    """Turn fingerprints into the ``(sensitive)`` marker for display."""
    if is_fingerprint(value):
        return SENSITIVE_SHOWN
    if isinstance(value, Mapping):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def sensitivity_shape(value: Any) -> Any:
    """Terraform's ``*_sensitive`` shape: ``True`` where a value is sensitive."""
    if is_fingerprint(value):
        return True
    if isinstance(value, Mapping):
        shaped = {k: sensitivity_shape(v) for k, v in value.items()}
        return {k: v for k, v in shaped.items() if v not in (False, {}, [])}
    if isinstance(value, list):
        items = [sensitivity_shape(v) for v in value]
        return items if any(items) else []
    return False


@dataclass(frozen=True)
class Resource:
    """A resource as the stack file wants it, for one environment. Never persisted raw."""

    address: str
    kind: str
    name: str
    config: BaseModel
    attributes: Mapping[str, Any]
    sensitive: frozenset[KeyPath] = frozenset()
    depends_on: tuple[str, ...] = ()

    def masked(self, fingerprint: Fingerprinter) -> dict[str, Any]:
        return dict(mask(dict(self.attributes), self.sensitive, fingerprint))


@dataclass(frozen=True)
class ResourceState:
    """A resource as state records it: masked attributes, outputs, dependencies."""

    address: str
    kind: str
    attributes: Mapping[str, Any]
    outputs: Mapping[str, Any] = field(default_factory=dict)
    dependencies: tuple[str, ...] = ()

    @cached_property
    def json_text(self) -> str:
        """This resource's entry in a state document, serialised once: apply rewrites state
        after every resource, and re-encoding thousands of unchanged entries dominated it."""
        import json

        return json.dumps(self.to_json())

    @cached_property
    def json_entry(self) -> str:
        """This resource's line in a state document (:meth:`~stackform.state.model.State.dumps`),
        its address and entry, made once: an apply writes state tens of times."""
        import json

        return f"    {json.dumps(self.address)}: {self.json_text}"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "attributes": dict(self.attributes),
            "outputs": dict(self.outputs),
            "dependencies": list(self.dependencies),
        }

    @classmethod
    def from_json(cls, address: str, data: Mapping[str, Any]) -> ResourceState:
        return cls(
            address=address,
            kind=str(data["kind"]),
            attributes=dict(data.get("attributes") or {}),
            outputs=dict(data.get("outputs") or {}),
            dependencies=tuple(data.get("dependencies") or ()),
        )


def split_address(address: str) -> tuple[str, str]:
    """``loaders.warehouse`` -> ``("loaders", "warehouse")``."""
    kind, _, name = address.partition(".")
    return kind, name
