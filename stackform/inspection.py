"""Optional provider capabilities for looking into a connector: its catalog (``stackform
catalog``), its source seen again at plan (``plan --refresh-catalog``), and running its
executable by hand (``stackform invoke``).

They are capabilities like those of :mod:`stackform.provider`, checked the same way when a
provider is loaded (:data:`CONNECTOR_CAPABILITIES`, beside
:data:`~stackform.provider.CAPABILITIES`) and documented in docs/providers.md; they live here
to keep that module small. Core asks ``isinstance`` and
knows nothing of Singer or dbt: a provider says what its block offers, and how to run it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from stackform.provider import Context
    from stackform.resource import Resource, ResourceState


@dataclass(frozen=True)
class CatalogEntry:
    """One stream (``property`` is ``None``) or one property a connector offers."""

    stream: str
    property: str | None
    selected: bool
    why: str
    """What decides ``selected``: ``select rule "orders.*"``, ``inclusion: automatic``,
    ``metadata orders.selected``, ``tap default``, ``no rule selects it``..."""
    type: str | None = None
    """The property's type (``integer``, ``string (date-time)``); ``None`` for a stream."""
    replication_method: str | None = None
    replication_key: str | None = None
    key_properties: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"stream": self.stream, "property": self.property,
                               "selected": self.selected, "why": self.why}
        if self.property is None:
            out.update(replication_method=self.replication_method,
                       replication_key=self.replication_key,
                       key_properties=list(self.key_properties))
        else:
            out["type"] = self.type
        return out


@dataclass(frozen=True)
class CatalogListing:
    """What ``stackform catalog`` shows of one block."""

    address: str
    entries: tuple[CatalogEntry, ...]
    source: str
    """Where the catalog comes from: ``"recorded"`` (the last apply's), or ``"discovered"``
    (nothing recorded on this machine: discovered now, read-only, kept nowhere)."""
    notes: tuple[str, ...] = ()


@runtime_checkable
class ListsCatalog(Protocol):
    """A provider whose blocks offer streams and properties (a Singer extractor)."""

    def catalog_listing(self, ctx: Context, resource: Resource,
                        prior: ResourceState | None) -> CatalogListing:
        """Every stream and property of ``resource``'s catalog, each marked selected or not
        and why, as ``resource`` is declared now. Use the catalog the last apply recorded; with
        none (``prior`` ``None``, or nothing on this machine) discover it, read-only: write no
        state, keep nothing but what a run keeps (secrets only in a runtime folder). Raise
        :class:`~stackform.errors.StackformError` when discovery fails."""


@runtime_checkable
class DiscoversSource(Protocol):
    """A provider whose resource mirrors something outside the stack that changes on its own
    (a source database's tables and columns), and that can look at it again at plan."""

    def source_changes(self, ctx: Context, prior: ResourceState, desired: Resource
                       ) -> str | None:
        """Called at every refreshing plan for each recorded resource of the kind still in
        the stack, before its action is decided: look at the source again when the provider's
        switch or the block's own setting asks for it (else return ``None`` at once, with no
        I/O), read-only. Return a reason (``"the source's schema changed"``) when the source
        differs from what the last apply recorded: the plan shows the resource as an update
        (never as drift) and apply records the new source. ``plan_notes`` and ``lineage`` of
        the same plan (same ``ctx``) see what was found."""


@dataclass(frozen=True)
class Invocation:
    """How to run a block's executable by hand: what :meth:`Invokes.invocation` returns."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path
    files: Mapping[str, str] = field(default_factory=dict)
    """Files core writes into the runtime folder before starting ``argv`` (name -> text, owner
    only): a config with secrets. ``argv`` names them by their path in that folder."""


@runtime_checkable
class Invokes(Protocol):
    """A provider whose blocks have an executable a person may run with the environment's
    config and secrets (``stackform invoke BLOCK -- ARGS``): a tap's ``--about``,
    ``dbt show``, a utility's own command."""

    def invocation(self, ctx: Context, resource: Resource, prior: ResourceState | None,
                   args: Sequence[str], runtime: Path) -> Invocation:
        """The command line running ``resource``'s executable with ``args``. ``runtime`` is a
        private folder (0700) core made and removes afterwards: secrets go there (as
        :attr:`Invocation.files`) or into the environment, never on the command line nor
        anywhere else on disk. Installing is allowed (a cache hit after apply); recording
        state is not. Raise :class:`~stackform.errors.StackformError` when the block cannot
        be run (not installable, no executable)."""


CONNECTOR_CAPABILITIES: tuple[type, ...] = (ListsCatalog, DiscoversSource, Invokes)
"""The capabilities of this module, checked with :data:`stackform.provider.CAPABILITIES`."""
