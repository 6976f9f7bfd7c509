"""Join the providers' lineage fragments into the graph of one environment.

Each resource whose provider has :class:`~stackform.provider.ProvidesLineage` is asked for its
fragment in dependency order, with the joined lineage of the resources it depends on. What it
says is recorded in its state outputs under :data:`OUTPUT_KEY`, with a digest of that upstream
lineage: a later plan reuses a recorded fragment as long as its resource is unchanged and its
upstream digest still matches, so a no-op plan asks no provider anything.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from graphlib import TopologicalSorter
from typing import Any

from stackform.errors import StackformError
from stackform.lineage.model import LineageFragment, LineageGraph
from stackform.provider import (
    Context,
)
from stackform.provider_lineage import ConfirmsLineage, ProvidesLineage
from stackform.resource import Resource

OUTPUT_KEY = "lineage"
"""The state output a resource's fragment is recorded under (with ``upstream``, its digest)."""


@dataclass(frozen=True)
class Entry:
    """One resource as the join sees it."""

    kind: str
    resource: Resource | None
    """The desired resource; ``None`` for one that is only recorded (being deleted)."""
    outputs: Mapping[str, Any]
    """What its last apply recorded (``{}`` before the first)."""
    dependencies: tuple[str, ...] = ()
    fresh: bool = False
    """Its recorded fragment may not be reused: it changes, or was just applied."""


def upstream_digest(graph: LineageGraph) -> str:
    """A digest of the fragments a resource's lineage was worked out from."""
    doc = {address: fragment.to_json() for address, fragment in sorted(graph.fragments.items())}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def recorded(outputs: Mapping[str, Any]) -> tuple[LineageFragment, str] | None:
    """The fragment recorded in ``outputs`` and its upstream digest, or ``None`` (none, or of
    another schema version)."""
    data = outputs.get(OUTPUT_KEY)
    if not isinstance(data, Mapping):
        return None
    try:
        return LineageFragment.from_json(data), str(data.get("upstream", ""))
    except (ValueError, KeyError, TypeError):
        return None


def recordable(fragment: LineageFragment, digest: str, confirmed: str = "") -> dict[str, Any]:
    """What :data:`OUTPUT_KEY` holds (``confirmed``: what a run confirmed it with, when its
    provider :class:`~stackform.provider.ConfirmsLineage`)."""
    doc = {**fragment.to_json(), "upstream": digest}
    return {**doc, "confirmed": confirmed} if confirmed else doc


def confirmed_token(ctx: Context, provider: object, resource: Resource | None) -> str:
    """What the last run confirmed ``resource``'s lineage with (``""``: nothing, or a
    provider that confirms nothing); a provider failing to say is taken as nothing."""
    if resource is None or not isinstance(provider, ConfirmsLineage):
        return ""
    try:
        return str(provider.lineage_confirmed(ctx, resource) or "")
    except Exception:  # lineage never stops a plan: the guess stands
        return ""


def ask(ctx: Context, provider: ProvidesLineage, resource: Resource,
        outputs: Mapping[str, Any], upstream: LineageGraph) -> LineageFragment:
    """The provider's fragment; a failure is a fragment saying so, never an exception (lineage
    never stops a plan or an apply)."""
    try:
        fragment = provider.lineage(ctx, resource, outputs, upstream)
    except StackformError as exc:
        return LineageFragment(warnings=(f"lineage not worked out: {exc.reason}",),
                               complete=False)
    except Exception as exc:  # a provider's bug must not stop the plan: say it, loudly
        return LineageFragment(warnings=(f"lineage not worked out: {type(exc).__name__}: "
                                         f"{exc}",), complete=False)
    if not isinstance(fragment, LineageFragment):
        return LineageFragment(warnings=(f"lineage not worked out: the provider returned a "
                                         f"{type(fragment).__name__}",), complete=False)
    return fragment


@dataclass
class Joined:
    """The fragments of an environment, and for each its upstream digest."""

    fragments: dict[str, LineageFragment]
    digests: dict[str, str]
    asked: list[str]
    """The resources whose provider was asked (not reused from state)."""
    confirmed: dict[str, str] = field(default_factory=dict)
    """What a run confirmed a resource's lineage with (:func:`confirmed_token`), when any."""

    @property
    def graph(self) -> LineageGraph:
        return LineageGraph(self.fragments)


def _digest(upstream: LineageGraph, token: str) -> str:
    """The upstream digest, and what a run confirmed since (what was worked out from the guess
    is then stale)."""
    digest = upstream_digest(upstream)
    return hashlib.sha256(f"{digest}|{token}".encode()).hexdigest()[:32] if token else digest


def _redacted(fragment: LineageFragment, redactor: Callable[[], Callable[[str], str]] | None
              ) -> LineageFragment:
    if not fragment.warnings or redactor is None:
        return fragment
    redact = redactor()
    return replace(fragment, warnings=tuple(redact(w) for w in fragment.warnings))


def _lineage_providers(entries: Mapping[str, Entry], provider_of: Callable[[str], object]
                       ) -> dict[str, ProvidesLineage | None]:
    """Each kind's provider when it gives lineage: a runtime protocol's isinstance takes
    ~30 us, asked once per kind rather than per resource."""
    kinds = {e.kind for e in entries.values()}
    return {k: p if isinstance(p := provider_of(k), ProvidesLineage) else None for k in kinds}


def join(ctx: Context, entries: Mapping[str, Entry],
         provider_of: Callable[[str], object],
         reuse: Mapping[str, tuple[LineageFragment, str]] | None = None,
         as_recorded: bool = False,
         redactor: Callable[[], Callable[[str], str]] | None = None) -> Joined:
    """Every entry's fragment, in dependency order.

    A fragment recorded in the entry's outputs (or given in ``reuse``, one worked out for
    another graph of the same plan) is taken as it is when the entry is not ``fresh`` and its
    upstream digest matches; otherwise the provider is asked. Entries without a resource are
    never asked: their recorded fragment is all there is. ``as_recorded``: the lineage as the
    last applies left it, each recorded fragment taken whatever its digest (the provider is
    asked only for a resource that has none, or, unless ``fresh`` (it changes), one a run
    confirmed since and what reads it: :class:`~stackform.provider.ConfirmsLineage`).
    ``redactor`` makes the function that masks the stack's secrets in what an asked provider
    warns (a tool's error quoted in a warning is shown and recorded in state); made only when
    a warning needs it."""
    order = TopologicalSorter({a: [d for d in e.dependencies if d in entries]
                               for a, e in entries.items()})
    out = Joined({}, {}, [])
    ancestors: dict[str, set[str]] = {}
    reconfirmed: set[str] = set()
    providers = _lineage_providers(entries, provider_of)
    for address in order.static_order():
        entry = entries[address]
        ancestors[address] = set()
        for dep in entry.dependencies:
            if dep in entries:
                ancestors[address] |= {dep, *ancestors.get(dep, ())}
        provider = providers[entry.kind]
        if provider is None:
            continue
        upstream = LineageGraph({a: out.fragments[a] for a in sorted(ancestors[address])
                                 if a in out.fragments})
        token = confirmed_token(ctx, provider, entry.resource)
        digest = _digest(upstream, token)
        known = [k for k in ((reuse or {}).get(address), recorded(entry.outputs)) if k]
        usable = next((k for k in known if k[1] == digest and not entry.fresh), None)
        kept = entry.outputs.get(OUTPUT_KEY)
        unconfirmed = token != str(kept.get("confirmed", "") if isinstance(kept, Mapping) else "")
        # As recorded, but as a run confirmed it since: asked again, with what reads it.
        confirming = as_recorded and not entry.fresh and (
            unconfirmed or bool(ancestors[address] & reconfirmed))
        if (entry.resource is None or (as_recorded and not confirming)) \
                and usable is None and known:
            # Taken as recorded, with the digest it was recorded with: a graph reusing it
            # must not take it for one worked out from this upstream.
            usable = known[-1]
        if usable is None and entry.resource is not None:
            fragment = ask(ctx, provider, entry.resource, entry.outputs, upstream)
            usable = (_redacted(fragment, redactor), digest)
            out.asked.append(address)
            if confirming:
                reconfirmed.add(address)
        if usable is not None:
            out.fragments[address], out.digests[address] = usable
            if token:
                out.confirmed[address] = token
    return out
