"""Build a plan: refresh recorded resources through their providers, then diff with desired.

:func:`build_plan` is a sequence of named steps (check the addresses asked for, refresh, find
drift, the changes the mode asks for, keep the targets, add the providers' notes, run the
providers' checks), each a small
function, ending in one construction of :class:`~stackform.plan.model.Plan`. Nothing here writes
anything: the result is immutable data.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

from stackform import __version__
from stackform.config.model import ResolvedStack
from stackform.diagnostics import Diagnostic, did_you_mean
from stackform.errors import ConfigError, StackformError
from stackform.inspection import DiscoversSource
from stackform.plan.model import Action, AttributeChange, Drift, Plan, PlanMode, ResourceChange
from stackform.provider import ChecksUnapplied, Context, PlanChecker, make_context
from stackform.registry import Registry
from stackform.resource import (
    Resource,
    ResourceState,
    fingerprinter,
    format_path,
    is_fingerprint,
)
from stackform.state.model import State, utc_now


@dataclass(frozen=True)
class PlanOptions:
    mode: PlanMode = PlanMode.NORMAL
    refresh: bool = True
    targets: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    parallelism: int = 4
    provider_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "mode", PlanMode(self.mode))
        except ValueError:
            raise StackformError(
                f"unknown plan mode {self.mode!r}",
                hint=f"one of {', '.join(m.value for m in PlanMode)}") from None


def lineage_of(state: State | None) -> str:
    """The lineage a plan fingerprints with: the state's, or a new one for a first apply."""
    return state.lineage if state else str(uuid.uuid4())


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
    todo = list(recorded.values())
    done = _while_quick(read, todo)
    workers = max(1, min(parallelism * 2, len(todo) - len(done)))
    if workers == 1:
        return {**done, **dict(read(p) for p in todo[len(done):])}
    return {**done, **_in_threads(read, todo[len(done):], workers)}


QUICK_READ = 0.001
"""Seconds a read may take on average and still be done in the calling thread."""


def _while_quick(read: Callable[[ResourceState], tuple[str, ResourceState | None]],
                 todo: list[ResourceState]) -> dict[str, ResourceState | None]:
    """The first reads of ``todo``, in this thread, for as long as they take under
    :data:`QUICK_READ` each on average.

    A read of a local file is quicker here than on a worker thread, where it waits for the
    others' turn at the interpreter (a no-op plan of 1,000 files: 100 ms against 180 ms);
    reads that wait on a server (HTTP, S3) soon average more, and the rest go to threads."""
    done: dict[str, ResourceState | None] = {}
    started = time.perf_counter()
    for prior in todo:
        address, found = read(prior)
        done[address] = found
        if time.perf_counter() - started > QUICK_READ * len(done):
            break
    return done


def _in_threads(read: Callable[[ResourceState], tuple[str, ResourceState | None]],
                todo: list[ResourceState], workers: int) -> dict[str, ResourceState | None]:
    """``dict(map(read, todo))`` over ``workers`` threads: every read runs, and the first
    failure in ``todo``'s order is raised, as ``ThreadPoolExecutor.map`` would.

    Each thread takes the next item itself: a future per resource cost more than reading a
    small file (a third of a no-op plan of 10,000 files)."""
    results: list[tuple[str, ResourceState | None] | None] = [None] * len(todo)
    errors: dict[int, BaseException] = {}
    indices = iter(range(len(todo)))
    take = threading.Lock()

    def work() -> None:
        while True:
            with take:
                i = next(indices, None)
            if i is None:
                return
            try:
                results[i] = read(todo[i])
            except BaseException as exc:  # re-raised in the caller's thread below
                errors[i] = exc

    threads = [threading.Thread(target=work, name=f"refresh_{n}", daemon=True)
               for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[min(errors)]
    return dict(r for r in results if r is not None)


def diff_attributes(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    force_new: Iterable[str] = (),
) -> tuple[AttributeChange, ...]:
    """Leaf-level differences; lists and fingerprints compare as whole values."""
    if before is not None and after is not None and before == after:
        return ()  # equal as a whole: no leaf differs (the usual case, at C speed)
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


@dataclass(frozen=True)
class _Inputs:
    """What the steps of :func:`build_plan` read: the stack, and state as refreshed."""

    stack: ResolvedStack
    registry: Registry
    dependencies: Mapping[str, tuple[str, ...]]
    options: PlanOptions
    ctx: Context
    recorded: Mapping[str, ResourceState]
    """What state records."""
    current: Mapping[str, ResourceState | None]
    """What providers read now (``recorded`` itself when not refreshing); ``None``: gone."""
    _capable: dict[tuple[str, type], bool] = field(default_factory=dict)

    def capable(self, kind: str, capability: type) -> bool:
        """``isinstance(provider, capability)``, asked once per kind: a runtime protocol check
        costs more than the rest of a no-op resource's plan."""
        known = self._capable.get((kind, capability))
        if known is None:
            known = isinstance(self.registry.get(kind), capability)
            self._capable[(kind, capability)] = known
        return known


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
    _check_addresses(stack, state, options)
    lineage = state.lineage if state else lineage or lineage_of(None)
    ctx = make_context(stack, fingerprinter(lineage), log, options.provider_options)
    recorded: Mapping[str, ResourceState] = state.resources if state else {}
    current = _refreshed(ctx, registry, recorded, options)
    inputs = _Inputs(stack, registry, dependencies, options, ctx, recorded, current)
    changes = _with_notes(inputs, _selected(inputs, _changes_for_mode(inputs)))
    found = _checked(inputs, changes)
    impact = _impact(inputs, changes)
    return Plan(
        stack=stack.name,
        env=stack.env,
        lineage=lineage,
        serial=state.serial if state else None,
        stack_digest=stack.digest(ctx.fingerprint),
        tool_version=__version__,
        created_at=utc_now(),
        changes=changes,
        drift=_drift(recorded, current),
        mode=options.mode,
        targets=tuple(options.targets),
        git=dict(git or {}),
        applied_git=state.git.to_json() if state else {},
        refreshed=options.refresh,
        warnings=tuple(w.format() for w in (*stack.warnings, *found)),
        replace=tuple(options.replace),
        provider_options=dict(options.provider_options),
        impact=impact,
    )


def _check_addresses(stack: ResolvedStack, state: State | None, options: PlanOptions) -> None:
    """Every ``--target`` and ``--replace`` names a resource of the stack or its state."""
    known = {*stack.resources, *(state.resources if state else {})}
    for address in (*options.targets, *options.replace):
        if address not in known:
            raise StackformError(
                f"no resource {address!r} in the stack or its state",
                hint=did_you_mean(address, known) or "see `stackform state list`",
            )


def _refreshed(ctx: Context, registry: Registry, recorded: Mapping[str, ResourceState],
               options: PlanOptions) -> Mapping[str, ResourceState | None]:
    if options.refresh:
        return refresh(ctx, registry, recorded, options.parallelism)
    return dict(recorded)


def _drift(recorded: Mapping[str, ResourceState],
           current: Mapping[str, ResourceState | None]) -> tuple[Drift, ...]:
    """Recorded resources that the refresh found changed or gone."""
    drift = []
    for address, was in sorted(recorded.items()):
        now = current.get(address)
        if now != was:
            after = now.attributes if now is not None else None
            drift.append(Drift(address, was.kind, was.attributes, after,
                               diff_attributes(was.attributes, after)))
    return tuple(drift)


def _changes_for_mode(inputs: _Inputs) -> list[ResourceChange]:
    mode = inputs.options.mode
    if mode is PlanMode.NORMAL:
        return [*(_desired_change(inputs, address) for address in inputs.stack.resources),
                *_removed_from_stack(inputs)]
    if mode is PlanMode.DESTROY:
        return [_delete(inputs, prior, None) for prior in inputs.recorded.values()]
    return []  # refresh-only: the plan is its drift


def _desired_change(inputs: _Inputs, address: str) -> ResourceChange:
    """What makes a resource of the stack file real: create, replace, update or nothing."""
    resource = inputs.stack.resources[address]
    after = resource.masked(inputs.ctx.fingerprint)
    prior = inputs.current.get(address)
    deps = inputs.dependencies.get(address, ())
    provider = inputs.registry.get(resource.kind)
    if prior is None:
        reason = "gone outside stackform" if address in inputs.recorded else None
        return ResourceChange(address, resource.kind, Action.CREATE, None, after,
                              diff_attributes(None, after), reason, deps)
    attribute_changes = diff_attributes(prior.attributes, after, provider.force_new)
    at_source = _source_changes(inputs, provider, prior, resource)
    if address in inputs.options.replace:
        action, reason = Action.REPLACE, "replacement requested with --replace"
    elif any(c.force_new for c in attribute_changes):
        forced = sorted({c.path.split(".")[0].split("[")[0]
                         for c in attribute_changes if c.force_new})
        action = Action.REPLACE
        reason = f"{', '.join(forced)} cannot change in place"
    elif attribute_changes:
        action, reason = Action.UPDATE, None
    elif inputs.capable(resource.kind, ChecksUnapplied) and (
            unapplied := cast(ChecksUnapplied, provider).unapplied(
                inputs.ctx, prior, resource)) is not None:
        # Files the block is built from (a dbt project) are desired, like the block.
        action, reason = Action.UPDATE, f"{unapplied.what} changed since the last apply"
    elif at_source is not None:
        action, reason = Action.UPDATE, at_source
    else:
        action, reason = Action.NOOP, None
    return ResourceChange(address, resource.kind, action, prior.attributes, after,
                          attribute_changes, reason, deps)


def _source_changes(inputs: _Inputs, provider: object, prior: ResourceState,
                    resource: Resource) -> str | None:
    """What the provider finds changed at the resource's source (:class:`~stackform.
    inspection.DiscoversSource`), looked at only when refreshing: the desired side, like the
    block, so an update and never drift."""
    if not inputs.options.refresh or not inputs.capable(resource.kind, DiscoversSource):
        return None
    return cast(DiscoversSource, provider).source_changes(inputs.ctx, prior, resource)


def _removed_from_stack(inputs: _Inputs) -> list[ResourceChange]:
    return [_delete(inputs, prior, "no longer in the stack file")
            for address, prior in inputs.recorded.items()
            if address not in inputs.stack.resources]


def _delete(inputs: _Inputs, prior: ResourceState, reason: str | None) -> ResourceChange:
    """A delete of a recorded resource; one the refresh found gone is only removed from state."""
    gone = inputs.current.get(prior.address) is None
    return ResourceChange(prior.address, prior.kind, Action.DELETE, prior.attributes, None,
                          diff_attributes(prior.attributes, None), _GONE if gone else reason,
                          prior.dependencies)


def _selected(inputs: _Inputs, changes: list[ResourceChange]) -> list[ResourceChange]:
    """With ``--target``: the changes of the targets and what they depend on, or, destroying,
    of the targets and what depends on them."""
    targets = set(inputs.options.targets)
    if not targets:
        return changes
    recorded = inputs.recorded
    all_deps = {**{a: r.dependencies for a, r in recorded.items()}, **inputs.dependencies}
    if inputs.options.mode is PlanMode.DESTROY:
        # Destroying a target also destroys what depends on it.
        selected = {a for a in recorded if _closure([a], all_deps) & targets}
    else:
        selected = _closure(targets, all_deps)
    return [c for c in changes if c.address in selected]


def _with_notes(inputs: _Inputs, changes: list[ResourceChange]) -> tuple[ResourceChange, ...]:
    """The changes in address order, each with what its provider has to say about it."""
    with_notes = []
    for change in sorted(changes, key=lambda c: c.address):
        if change.action is not Action.NOOP:
            provider = inputs.registry.get(change.kind)
            desired = inputs.stack.resources.get(change.address)
            notes = provider.plan_notes(inputs.ctx, inputs.current.get(change.address), desired)
            if notes:
                change = replace(change, notes=tuple(notes))
        with_notes.append(change)
    return tuple(with_notes)


def _checked(inputs: _Inputs, changes: Iterable[ResourceChange]) -> list[Diagnostic]:
    """Each planned resource's provider check (no-ops too: a problem stays reported for as
    long as it lasts, not only when its block is edited). Errors stop the plan; the warnings
    are returned for the plan to carry."""
    found: list[Diagnostic] = []
    for change in changes:
        desired = inputs.stack.resources.get(change.address)
        if (change.action is Action.DELETE or desired is None
                or not inputs.capable(change.kind, PlanChecker)):
            continue
        provider = cast(PlanChecker, inputs.registry.get(change.kind))
        found.extend(provider.plan_diagnostics(inputs.ctx, inputs.current.get(change.address),
                                               desired))
    errors = [d for d in found if d.severity == "error"]
    if errors:
        raise ConfigError(errors)
    return found


def _impact(inputs: _Inputs, changes: Iterable[ResourceChange]) -> dict[str, Any]:
    """What the changes break downstream, from the lineage providers know (docs/lineage.md)."""
    if inputs.options.mode is not PlanMode.NORMAL:
        return {}
    from stackform.lineage.planned import plan_impact

    return plan_impact(inputs.ctx, inputs.registry.get, inputs.stack, inputs.recorded,
                       inputs.current, changes, inputs.dependencies)
