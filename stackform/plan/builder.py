"""Build a plan: refresh recorded resources through their providers, then diff with desired.

Nothing here writes anything: the result is an immutable :class:`~stackform.plan.model.Plan`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any

from stackform import __version__
from stackform.config.model import ResolvedStack
from stackform.diagnostics import did_you_mean
from stackform.errors import StackformError
from stackform.plan.model import Action, AttributeChange, Drift, Plan, ResourceChange
from stackform.provider import ChecksUnapplied, Context
from stackform.registry import Registry
from stackform.resource import (
    Fingerprinter,
    ResourceState,
    fingerprinter,
    format_path,
    is_fingerprint,
)
from stackform.state.model import State, utc_now

MODES = ("normal", "destroy", "refresh-only")


@dataclass(frozen=True)
class PlanOptions:
    mode: str = "normal"
    refresh: bool = True
    targets: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    parallelism: int = 4
    provider_options: Mapping[str, Any] = field(default_factory=dict)


def lineage_of(state: State | None) -> str:
    """The lineage a plan fingerprints with: the state's, or a new one for a first apply."""
    return state.lineage if state else str(uuid.uuid4())


def make_context(
    stack: ResolvedStack,
    fingerprint: Fingerprinter,
    log: Callable[[str], None] = lambda _m: None,
    options: Mapping[str, Any] | None = None,
) -> Context:
    return Context(
        env=stack.env,
        stack_name=stack.name,
        stack_dir=stack.dir,
        work_dir=stack.dir / ".stackform" / "envs" / stack.name / stack.env,
        fingerprint=fingerprint,
        log=log,
        options=dict(options or {}),
    )


def refresh(
    ctx: Context,
    registry: Registry,
    recorded: Mapping[str, ResourceState],
    parallelism: int = 4,
) -> dict[str, ResourceState | None]:
    """Ask each resource's provider what it looks like now, in parallel."""

    def read(prior: ResourceState) -> tuple[str, ResourceState | None]:
        provider = registry.get(prior.kind)
        try:
            return prior.address, provider.read(ctx, prior)
        except StackformError as exc:
            raise StackformError(
                f"refreshing {prior.address} failed: {exc.reason}",
                hint=exc.hint or "run with --refresh=false to plan from recorded state only",
            ) from exc

    if not recorded:
        return {}
    # Kinds missing from this installation fail before any thread starts.
    for prior in recorded.values():
        registry.get(prior.kind)
    workers = max(1, min(parallelism * 2, len(recorded)))
    if workers == 1:
        return dict(read(p) for p in recorded.values())
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresh") as pool:
        return dict(pool.map(read, recorded.values()))


def diff_attributes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    force_new: Iterable[str] = (),
) -> tuple[AttributeChange, ...]:
    """Leaf-level differences; lists and fingerprints compare as whole values."""
    forced = frozenset(force_new)
    out: list[AttributeChange] = []

    def walk(path: tuple[str, ...], b: Any, a: Any) -> None:
        if isinstance(b, Mapping) and isinstance(a, Mapping) and not (
            is_fingerprint(b) or is_fingerprint(a)
        ):
            for key in sorted({*b, *a}, key=str):
                walk((*path, key), b.get(key, _MISSING), a.get(key, _MISSING))
            return
        if b == a:
            return
        out.append(
            AttributeChange(
                path=format_path(path),
                before=None if b is _MISSING else b,
                after=None if a is _MISSING else a,
                force_new=bool(path) and path[0] in forced,
                sensitive=is_fingerprint(b) or is_fingerprint(a),
            )
        )

    walk((), dict(before or {}), dict(after or {}))
    return tuple(out)


_MISSING: Any = object()
_GONE = "already gone outside stackform; only removed from state"


def _closure(targets: Iterable[str], deps: Mapping[str, tuple[str, ...]]) -> set[str]:
    """Targets and everything they depend on."""
    selected: set[str] = set()
    todo = list(targets)
    while todo:
        address = todo.pop()
        if address in selected:
            continue
        selected.add(address)
        todo.extend(deps.get(address, ()))
    return selected


def build_plan(
    stack: ResolvedStack,
    state: State | None,
    registry: Registry,
    dependencies: Mapping[str, tuple[str, ...]],
    options: PlanOptions = PlanOptions(),
    log: Callable[[str], None] = lambda _m: None,
    git: Mapping[str, Any] | None = None,
    lineage: str | None = None,
) -> Plan:
    """Refresh, diff and return the plan for one environment.

    ``lineage`` is the one to fingerprint with when there is no state yet (a new one by
    default); building a saved plan again passes the plan's own."""
    if options.mode not in MODES:
        raise StackformError(f"unknown plan mode {options.mode!r}")
    known = {*stack.resources, *(state.resources if state else {})}
    for address in (*options.targets, *options.replace):
        if address not in known:
            raise StackformError(
                f"no resource {address!r} in the stack or its state",
                hint=did_you_mean(address, known) or "see `stackform state list`",
            )

    lineage = state.lineage if state else lineage or lineage_of(None)
    fingerprint = fingerprinter(lineage)
    ctx = make_context(stack, fingerprint, log, options.provider_options)
    recorded: Mapping[str, ResourceState] = state.resources if state else {}
    if options.refresh:
        current = refresh(ctx, registry, recorded, options.parallelism)
    else:
        current = dict(recorded)

    drift = []
    for address, was in sorted(recorded.items()):
        now = current.get(address)
        if now != was:
            after = now.attributes if now is not None else None
            drift.append(Drift(address, was.kind, was.attributes, after,
                               diff_attributes(was.attributes, after)))

    changes: list[ResourceChange] = []
    if options.mode == "normal":
        for address, resource in stack.resources.items():
            after = resource.masked(fingerprint)
            prior = current.get(address)
            deps = dependencies.get(address, ())
            provider = registry.get(resource.kind)
            if prior is None:
                reason = "gone outside stackform" if address in recorded else None
                changes.append(ResourceChange(address, resource.kind, Action.CREATE, None,
                                              after, diff_attributes(None, after),
                                              reason, deps))
                continue
            attribute_changes = diff_attributes(prior.attributes, after, provider.force_new)
            if address in options.replace:
                action, reason = Action.REPLACE, "replacement requested with --replace"
            elif any(c.force_new for c in attribute_changes):
                forced = sorted({c.path.split(".")[0].split("[")[0]
                                 for c in attribute_changes if c.force_new})
                action = Action.REPLACE
                reason = f"{', '.join(forced)} cannot change in place"
            elif attribute_changes:
                action, reason = Action.UPDATE, None
            elif isinstance(provider, ChecksUnapplied) and (
                    unapplied := provider.unapplied(ctx, prior, resource)) is not None:
                # Files the block is built from (a dbt project) are desired, like the block.
                action, reason = Action.UPDATE, f"{unapplied.what} changed since the last apply"
            else:
                action, reason = Action.NOOP, None
            changes.append(ResourceChange(address, resource.kind, action, prior.attributes,
                                          after, attribute_changes, reason, deps))
        for address, prior in recorded.items():
            if address not in stack.resources:
                gone = current.get(address) is None
                changes.append(ResourceChange(address, prior.kind, Action.DELETE,
                                              prior.attributes, None,
                                              diff_attributes(prior.attributes, None),
                                              _GONE if gone else "no longer in the stack file",
                                              prior.dependencies))
    elif options.mode == "destroy":
        for address, prior in recorded.items():
            gone = current.get(address) is None
            changes.append(ResourceChange(address, prior.kind, Action.DELETE,
                                          prior.attributes, None,
                                          diff_attributes(prior.attributes, None),
                                          _GONE if gone else None, prior.dependencies))

    if options.targets:
        all_deps = {**{a: r.dependencies for a, r in recorded.items()}, **dependencies}
        if options.mode == "destroy":
            # Destroying a target also destroys what depends on it.
            selected = {a for a in recorded if _closure([a], all_deps) & set(options.targets)}
        else:
            selected = _closure(options.targets, all_deps)
        changes = [c for c in changes if c.address in selected]

    with_notes = []
    for change in sorted(changes, key=lambda c: c.address):
        if change.action is not Action.NOOP:
            provider = registry.get(change.kind)
            desired = stack.resources.get(change.address)
            notes = provider.plan_notes(ctx, current.get(change.address), desired)
            if notes:
                change = replace(change, notes=tuple(notes))
        with_notes.append(change)

    return Plan(
        stack=stack.name,
        env=stack.env,
        lineage=lineage,
        serial=state.serial if state else None,
        stack_digest=stack.digest(fingerprint),
        tool_version=__version__,
        created_at=utc_now(),
        changes=tuple(with_notes),
        drift=tuple(drift),
        mode=options.mode,
        targets=tuple(options.targets),
        git=dict(git or {}),
        applied_git=state.git.to_json() if state else {},
        refreshed=options.refresh,
        warnings=tuple(w.format() for w in stack.warnings),
        replace=tuple(options.replace),
        provider_options=dict(options.provider_options),
    )
