"""The state document of one environment."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from stackform import __version__
from stackform.errors import CorruptStateError
from stackform.resource import ResourceState
from stackform.state.schema import check_document
from stackform.state.scrub import scrub_secrets

STATE_VERSION = 1
CORRUPT_HINT = ("`stackform state history` lists the kept versions: `stackform state rollback "
                "SERIAL` restores one, or `stackform state push FILE` a good copy (both work "
                "while the current document is unreadable, and keep it aside)")


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class GitInfo:
    """Where an apply came from: who, which commit, on which branch, with local edits or not."""

    commit: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    user: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"commit": self.commit, "branch": self.branch, "dirty": self.dirty,
                "user": self.user}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> GitInfo:
        data = data or {}
        return cls(data.get("commit"), data.get("branch"), data.get("dirty"), data.get("user"))


@dataclass(frozen=True)
class State:
    """One environment's recorded state. Immutable: every change makes a new value."""

    env: str
    lineage: str
    serial: int = 0
    stack: str = ""
    tool_version: str = __version__
    updated_at: str = field(default_factory=utc_now)
    git: GitInfo = field(default_factory=GitInfo)
    resources: Mapping[str, ResourceState] = field(default_factory=dict)
    throwaway: Mapping[str, str] | None = None
    """Set on an environment ``stackform test`` made: when and from which base (kept by every
    later write, so a clean-up knows it may remove it)."""
    bundle: str | None = None
    """The digest of the bundle the last successful apply published (:mod:`stackform.bundles`),
    what a worker's ``--bundle current`` runs; ``None`` when no apply published one."""

    @classmethod
    def new(cls, env: str, stack: str, lineage: str | None = None) -> State:
        return cls(env=env, lineage=lineage or str(uuid.uuid4()), serial=0, stack=stack)

    def with_resource(self, resource: ResourceState) -> State:
        resources = dict(self.resources)
        resources[resource.address] = resource
        return replace(self, resources=resources)

    def without_resource(self, address: str) -> State:
        resources = dict(self.resources)
        resources.pop(address, None)
        return replace(self, resources=resources)

    def next(self, git: GitInfo | None = None) -> State:
        """The version to write next: serial + 1, stamped with this tool and time."""
        return replace(
            self,
            serial=self.serial + 1,
            tool_version=__version__,
            updated_at=utc_now(),
            git=git if git is not None else self.git,
        )

    def to_json(self, with_resources: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "version": STATE_VERSION,
            "env": self.env,
            "stack": self.stack,
            "lineage": self.lineage,
            "serial": self.serial,
            "tool_version": self.tool_version,
            "updated_at": self.updated_at,
            "git": self.git.to_json(),
        }
        if self.throwaway is not None:
            doc["throwaway"] = dict(self.throwaway)
        if self.bundle is not None:
            doc["bundle"] = self.bundle
        if with_resources:
            doc["resources"] = {a: r.to_json() for a, r in sorted(self.resources.items())}
        return doc

    def dumps(self) -> str:
        """One line per top-level field and per resource.

        Readable in a diff, and fast: ``json.dumps`` with ``indent`` falls back to the pure-Python
        encoder, which made each of an apply's per-resource writes ten times slower.
        """
        doc = self.to_json(with_resources=False)
        lines = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in doc.items()]
        items = [r.json_entry if (r := self.resources[a]).address == a
                 else f"    {json.dumps(a)}: {r.json_text}" for a in sorted(self.resources)]
        body = "{\n" + ",\n".join(items) + "\n  }" if items else "{}"
        return "{\n" + "\n".join(lines) + f'\n  "resources": {body}\n}}\n'

    def pretty(self) -> str:
        return json.dumps(self.to_json(), indent=2) + "\n"

    @classmethod
    def from_json(cls, data: Any, source: str = "state") -> State:
        """A state from a parsed document that must be exactly the schema (see
        :mod:`stackform.state.schema`); anything else is a :class:`CorruptStateError`."""
        if not isinstance(data, dict):
            raise CorruptStateError(f"{source} is not a JSON object", hint=CORRUPT_HINT)
        version = data.get("version")
        if version != STATE_VERSION:
            raise CorruptStateError(
                f"{source} has state format version {version!r}; this stackform reads "
                f"version {STATE_VERSION}",
                hint="upgrade stackform if a newer one wrote it; " + CORRUPT_HINT,
            )
        problem = check_document(data)
        if problem is not None:
            raise CorruptStateError(
                f"{source} is not a valid state document: {problem}",
                hint=CORRUPT_HINT,
            )
        return cls(
            env=data["env"],
            lineage=data["lineage"],
            serial=data["serial"],
            stack=data["stack"],
            tool_version=data["tool_version"],
            updated_at=data["updated_at"],
            git=GitInfo.from_json(data["git"]),
            bundle=data.get("bundle"),
            resources=scrub_secrets({a: ResourceState.from_json(a, r)
                                     for a, r in data["resources"].items()}, data["lineage"]),
            throwaway=data.get("throwaway"),
        )

    @classmethod
    def loads(cls, text: str | bytes, source: str = "state") -> State:
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise CorruptStateError(f"{source} is not valid JSON ({exc})",
                                    hint=CORRUPT_HINT) from exc
        except RecursionError:
            raise CorruptStateError(f"{source} is not a valid state document: it nests "
                                    "deeper than any state stackform writes",
                                    hint=CORRUPT_HINT) from None
        return cls.from_json(data, source)
