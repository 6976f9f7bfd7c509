"""The plan as immutable data.

A plan holds only masked values (secrets as fingerprints), so it can be saved, printed and
reviewed without leaking anything. Apply re-resolves the stack for the real values and checks
that they still hash to the plan's digest.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PlanMode(StrEnum):
    """What a plan is for: its mode decides which changes it lists and what apply does."""

    NORMAL = "normal"
    """Make the environment match the stack file."""
    DESTROY = "destroy"
    """Delete everything state records (``--destroy``)."""
    REFRESH_ONLY = "refresh-only"
    """Record in state what changed outside stackform, and touch nothing (``--refresh-only``)."""

    @property
    def needs_secrets(self) -> bool:
        """Whether the stack's secrets must resolve: destroying works from recorded state,
        so a secret the stack references is not needed to destroy."""
        return self is not PlanMode.DESTROY


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    NOOP = "no-op"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "replace": "-/+", "delete": "-", "no-op": " "}[
            self.value
        ]

    @property
    def terraform_actions(self) -> list[str]:
        """The ``actions`` array of Terraform's JSON plan format."""
        return {
            "create": ["create"],
            "update": ["update"],
            "replace": ["delete", "create"],
            "delete": ["delete"],
            "no-op": ["no-op"],
        }[self.value]


@dataclass(frozen=True)
class AttributeChange:
    """One attribute that differs: dotted path, masked before/after, why it matters."""

    path: str
    before: Any
    after: Any
    force_new: bool = False
    sensitive: bool = False


@dataclass(frozen=True)
class ResourceChange:
    """What will happen to one resource, with masked before/after attributes."""

    address: str
    kind: str
    action: Action
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    changes: tuple[AttributeChange, ...] = ()
    reason: str | None = None
    """Why, when it is not plain config: "--replace", "gone outside stackform", "drift"."""
    dependencies: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    """Provider-supplied lines (selection changes, affected models...)."""

    @property
    def name(self) -> str:
        return self.address.partition(".")[2]


@dataclass(frozen=True)
class Drift:
    """A resource whose real-world state differs from what state recorded."""

    address: str
    kind: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    """``None`` when the resource is gone."""
    changes: tuple[AttributeChange, ...] = ()


@dataclass(frozen=True)
class Plan:
    """Everything apply needs to know and check, and nothing secret."""

    stack: str
    env: str
    lineage: str
    serial: int | None
    """The serial of the state planned against; ``None`` when the environment had none."""
    stack_digest: str
    tool_version: str
    created_at: str
    changes: tuple[ResourceChange, ...]
    drift: tuple[Drift, ...] = ()
    mode: PlanMode = PlanMode.NORMAL
    targets: tuple[str, ...] = ()
    git: Mapping[str, Any] = field(default_factory=dict)
    applied_git: Mapping[str, Any] = field(default_factory=dict)
    """Git info recorded by the last apply of this environment (who, which commit)."""
    refreshed: bool = True
    warnings: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    """Addresses whose replacement was asked for (``--replace``)."""
    provider_options: Mapping[str, Any] = field(default_factory=dict)
    """Options passed to providers while planning (``--refresh-catalog``).

    With ``mode``, ``targets``, ``replace`` and ``refreshed``: everything a plan was built with
    beyond the stack and state, so apply can build a saved plan again and compare."""
    impact: Mapping[str, Any] = field(default_factory=dict)
    """What the changes break or affect downstream, from the stack's lineage
    (:mod:`stackform.lineage.impact`, documented in docs/lineage.md); empty when no provider
    of the stack knows lineage."""

    def __post_init__(self) -> None:
        # One type whoever builds it (a saved plan checks its mode with a clearer error first).
        object.__setattr__(self, "mode", PlanMode(self.mode))

    @property
    def actionable(self) -> tuple[ResourceChange, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    def counts(self) -> Counter[Action]:
        return Counter(c.action for c in self.changes)

    @property
    def has_changes(self) -> bool:
        if self.mode is PlanMode.REFRESH_ONLY:
            return bool(self.drift)
        return bool(self.actionable)

    def summary(self) -> str:
        if self.mode is PlanMode.REFRESH_ONLY:
            n = len(self.drift)
            return f"{n} resource{'s' if n != 1 else ''} changed outside stackform."
        c = self.counts()
        return (
            f"{c[Action.CREATE]} to add, {c[Action.UPDATE]} to change, "
            f"{c[Action.REPLACE]} to replace, {c[Action.DELETE]} to destroy."
        )

    @property
    def breaking(self) -> bool:
        """Something downstream breaks (``plan --fail-on-breaking``)."""
        return bool(self.impact.get("breaking"))

    def change(self, address: str) -> ResourceChange | None:
        for c in self.changes:
            if c.address == address:
                return c
        return None
