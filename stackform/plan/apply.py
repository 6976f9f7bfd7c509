"""Carry out a plan: walk its changes in dependency order (:mod:`stackform.plan.walk`).

What this module adds to the walk: the graph of the plan's changes (deletes in reverse), the
visit of one change (its provider's create, update or delete, then its record in state), and
the :class:`ApplyEvent` told for each. A failed resource skips the resources that depend on it;
independent ones go on. Ctrl-C stops scheduling, lets work in flight end, and saves.

State is written by the writer thread of :class:`StateRecorder`, apart from the work: each write
stores a snapshot of every resource recorded so far, and what finishes during a write goes into
the next one. So a crash or ``kill -9`` loses what was running and every resource recorded after
the snapshot of the last completed write: what finished during the last write and the pause
after it (:data:`WRITE_PAUSE` times the write's own time: a few milliseconds for hundreds of
resources on the local backend, about a fifth of a second for 10,000), or during the
backend's own pause when longer (``write_interval``, a second on S3). The state left is a whole
document holding what was recorded up to its snapshot, and the next plan shows each lost
resource from what its provider reads: a create that finished is planned again as a create
(which a provider must carry out over the existing resource); a delete that finished, as a
delete of something already gone (only removed from state); an update that finished, as drift
with nothing left to change, or as the same update again when the provider cannot read the new
attributes back.
"""

from __future__ import annotations

import functools
import gc
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from graphlib import CycleError
from pathlib import Path
from typing import TYPE_CHECKING, Literal, ParamSpec, TypeVar

from stackform.bundles.publish import publish
from stackform.config.model import ResolvedStack
from stackform.diagnostics import Diagnostic
from stackform.errors import GraphError, StackformError, StateError, os_reason
from stackform.fileio import sync_deferred
from stackform.plan.model import Action, Plan, PlanMode, ResourceChange
from stackform.plan.walk import Outcome, walk
from stackform.provider import Context, make_context
from stackform.redact import stack_redactor
from stackform.registry import Registry
from stackform.resource import ResourceState, fingerprinter
from stackform.state.backend import StateBackend
from stackform.state.model import GitInfo, State
from stackform.supervise import runtime_root, sweep

if TYPE_CHECKING:
    from stackform.redact import Redactor

Status = Literal["started", "done", "failed", "skipped", "not started"]
P = ParamSpec("P")
R = TypeVar("R")

WRITE_PAUSE = 4.0
"""After each state write, the writer waits this many times as long as the write took before
the next one: writing state takes at most a fifth of an apply's time however many resources it
records (each write stores all of them: writing after every resource made an apply of N
resources cost N^2). A write of a few milliseconds (hundreds of resources) pauses a few more;
one of 10,000 resources (~4 MB, ~30 ms) pauses ~0.1 s."""


@dataclass(frozen=True)
class ApplyEvent:
    address: str
    action: Action
    status: Status
    error: str | None = None
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()
    """What the provider warned about while applying it (``ctx.warn``), formatted."""


@dataclass(frozen=True)
class ApplyResult:
    outcomes: tuple[ApplyEvent, ...]
    state: State | None
    interrupted: bool = False
    state_error: StateError | None = None
    """Set when state could not be written: what finished after the last write is unrecorded."""
    unsaved: State | None = None
    """With ``state_error``: the state this apply meant to store, with everything that finished
    (kept in an errored-state file so nothing is lost)."""
    errored_path: Path | None = None
    """Where ``unsaved`` was written."""

    @property
    def failed(self) -> tuple[ApplyEvent, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def ok(self) -> bool:
        return (not self.interrupted and self.state_error is None
                and all(o.status == "done" for o in self.outcomes))


class StateRecorder:
    """Holds the environment's state during apply and persists it as resources finish.

    A writer thread stores a full snapshot whenever something changed since its last write
    and its pause after it (:data:`WRITE_PAUSE`) ended, so one write carries every resource that
    finished meanwhile: workers never wait on the disk, and thousands of quick resources cost
    tens of writes, not thousands. Snapshots are taken in
    order, so any stored state holds every resource that finished before it, dependencies
    before their dependents. Before each write, the files providers wrote without waiting for
    the disk (:func:`stackform.fileio.sync_deferred`) are flushed to it: one flush for all.
    """

    def __init__(self, backend: StateBackend, env: str, prior: State | None, lineage: str,
                 stack_name: str, git: GitInfo,
                 on_error: Callable[[], None] = lambda: None) -> None:
        self._backend = backend
        self._env = env
        self._written = prior
        self._prior = prior
        self._base = prior or State.new(env, stack_name, lineage)
        self._resources: dict[str, ResourceState] = dict(self._base.resources)
        self._bundle = self._base.bundle
        self._git = git
        self._cond = threading.Condition()
        self._version = 0
        self._persisted = 0
        self._closing = False
        self.error: StateError | None = None
        self._on_error = on_error
        """Called from the writer thread when a write failed (it writes nothing more)."""
        self._thread = threading.Thread(target=self._run, name="state-writer", daemon=True)
        self._thread.start()

    @property
    def state(self) -> State | None:
        return self._written

    def resources(self) -> dict[str, ResourceState]:
        """A snapshot of every resource recorded so far."""
        with self._cond:
            return dict(self._resources)

    @property
    def unsaved(self) -> State | None:
        """After a failed write: the state with every resource recorded, for the user to push."""
        if self.error is None:
            return None
        with self._cond:
            resources = dict(self._resources)
        return replace(self._written or self._base, resources=resources,
                       bundle=self._bundle).next(self._git)

    def record(self, put: ResourceState | None = None, remove: str | None = None) -> None:
        with self._cond:
            if put is not None:
                self._resources[put.address] = put
            if remove is not None:
                self._resources.pop(remove, None)
            self._version += 1
            self._cond.notify_all()

    def record_bundle(self, digest: str) -> None:
        """The bundle this apply published is now the environment's current one."""
        with self._cond:
            self._bundle = digest
            self._version += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Store what is left and stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        # Each write carries the whole document, so writing after every resource costs the
        # square of their number: the writer pauses after a write for WRITE_PAUSE times as long
        # as it took (and at least the backend's ``write_interval``, a remote backend's pause),
        # and what finishes meanwhile joins the next write. Closing writes at once.
        interval = float(getattr(self._backend, "write_interval", 0.0))
        next_at = float("-inf")
        while True:
            with self._cond:
                while self._version == self._persisted and not self._closing:
                    self._cond.wait()
                if self._version == self._persisted:
                    return
                while not self._closing and (wait := next_at - time.monotonic()) > 0:
                    self._cond.wait(wait)
                version = self._version
                resources = dict(self._resources)
                bundle = self._bundle
            started = time.monotonic()
            base = self._written or self._base
            new = replace(base, resources=resources, bundle=bundle).next(self._git)
            try:
                # What providers wrote without waiting for the disk is made durable before
                # state says it was written.
                sync_deferred()
                # Only the first write replaces the state from before the apply: history
                # keeps that one, not this apply's own snapshots.
                self._backend.write(self._env, new, self._written,
                                    keep_prior=self._written is self._prior)
            except StateError as exc:
                self.error = exc
            except OSError as exc:
                self.error = StateError(
                    f"making the files written durable failed: {os_reason(exc)}")
            except Exception as exc:  # a bug must not leave apply waiting forever
                self.error = StateError(f"writing state failed: {type(exc).__name__}: {exc}")
            if self.error is not None:
                self._on_error()
                return
            ended = time.monotonic()
            next_at = ended + max(interval, (ended - started) * WRITE_PAUSE)
            with self._cond:
                self._written = new
                self._persisted = version


def _operation_graph(changes: Mapping[str, ResourceChange]) -> dict[str, set[str]]:
    """node -> the nodes that must finish before it."""
    before: dict[str, set[str]] = {a: set() for a in changes}
    for address, change in changes.items():
        if change.action is Action.DELETE:
            # Dependents are destroyed before what they depend on.
            for other, oc in changes.items():
                if oc.action is Action.DELETE and address in oc.dependencies:
                    before[address].add(other)
        else:
            for dep in change.dependencies:
                if dep in changes and changes[dep].action is not Action.DELETE:
                    before[address].add(dep)
    return before


def _run_one(ctx: Context, registry: Registry, change: ResourceChange,
             stack: ResolvedStack, recorded: Mapping[str, ResourceState],
             recorder: StateRecorder) -> tuple[str, ...]:
    """Apply one change; return the warnings its provider reported."""
    warned: list[Diagnostic] = []
    # Resources run on parallel threads: each gets a context whose warnings are its own.
    ctx = replace(ctx, warn=warned.append)
    provider = registry.get(change.kind)
    prior = recorded.get(change.address)
    if change.action is Action.DELETE:
        if prior is not None:
            provider.delete(ctx, prior)
        recorder.record(remove=change.address)
        return tuple(d.format() for d in warned)
    desired = stack.resources[change.address]
    if change.action is Action.REPLACE and prior is not None:
        provider.delete(ctx, prior)
        recorder.record(remove=change.address)
        outputs = provider.create(ctx, desired)
    elif change.action is Action.UPDATE and prior is not None:
        outputs = provider.update(ctx, prior, desired)
    else:
        outputs = provider.create(ctx, desired)
    recorder.record(put=ResourceState(
        address=change.address,
        kind=change.kind,
        attributes=desired.masked(ctx.fingerprint),
        outputs=dict(outputs or {}),
        dependencies=change.dependencies,
    ))
    return tuple(d.format() for d in warned)


def _gc_frozen(apply: Callable[P, R]) -> Callable[P, R]:
    """``apply`` with what is alive when it starts frozen for the collector, unfrozen after.

    The stack, the plan and state live until the apply ends: frozen, the collector's full
    passes skip them (they traversed them again and again, ~0.4 s of an apply of 10,000
    resources). Unfrozen at the end, for a process that goes on."""

    @functools.wraps(apply)
    def frozen(*args: P.args, **kwargs: P.kwargs) -> R:
        gc.freeze()
        try:
            return apply(*args, **kwargs)
        finally:
            gc.unfreeze()

    return frozen


@_gc_frozen
def apply_plan(
    plan: Plan,
    stack: ResolvedStack,
    state: State | None,
    backend: StateBackend,
    registry: Registry,
    *,
    git: GitInfo,
    parallelism: int = 4,
    on_event: Callable[[ApplyEvent], None] = lambda _e: None,
    log: Callable[[str], None] = lambda _m: None,
    cancel: threading.Event | None = None,
) -> ApplyResult:
    """Apply ``plan`` (already checked to be fresh) and return what happened to each resource.

    The caller holds the environment's lock.
    """
    cancel = cancel or threading.Event()
    ctx, redact = _context(plan, stack, log, cancel)
    state_failed = threading.Event()

    def stop_on_state_error() -> None:
        # State can no longer be recorded: start nothing more (not an interrupt by the user).
        if not cancel.is_set():
            state_failed.set()
            cancel.set()

    # Published before anything is applied: a DAG deployed below never names a bundle that
    # is not there yet (a failure here applies nothing).
    bundle = publish(stack, log) if plan.mode is PlanMode.NORMAL else None
    recorder = StateRecorder(backend, stack.env, state, plan.lineage, stack.name, git,
                             on_error=stop_on_state_error)
    recorded: Mapping[str, ResourceState] = state.resources if state else {}
    if plan.mode is PlanMode.REFRESH_ONLY:
        _record_drift(plan, recorded, recorder)
        recorder.close()
        return ApplyResult((), recorder.state, state_error=recorder.error,
                           unsaved=recorder.unsaved)

    changes = {c.address: c for c in plan.actionable}
    events = _Events(changes, on_event, redact)
    try:
        walked = walk(_operation_graph(changes),
                      lambda address: events.warned(
                          address, _run_one(ctx, registry, changes[address], stack, recorded,
                                            recorder)),
                      parallelism=parallelism, cancel=cancel, on_start=events.started,
                      on_end=events.ended, thread_name="apply")
        if not cancel.is_set():
            _record_lineage(ctx, registry, stack, recorder, events.ordered())
            if bundle is not None and all(e.status == "done" for e in events.ordered()):
                recorder.record_bundle(bundle)
    except CycleError as exc:
        raise GraphError(f"the plan's changes form a cycle: {' -> '.join(exc.args[1])}") from exc
    finally:
        recorder.close()
    interrupted = walked.interrupted or (cancel.is_set() and not state_failed.is_set())
    return ApplyResult(events.ordered(), recorder.state or state, interrupted, recorder.error,
                       recorder.unsaved)


def _context(plan: Plan, stack: ResolvedStack, log: Callable[[str], None],
             cancel: threading.Event) -> tuple[Context, Redactor | None]:
    """The providers' context, and the redactor of what they say (when anything will run)."""

    # A plugin's output (its stderr in an error, a line it logs) may quote a secret.
    redact = stack_redactor(stack) if plan.actionable else None
    if redact:
        log = redact.wrap(log)
    ctx = replace(make_context(stack, fingerprinter(plan.lineage), log), cancel=cancel)
    # What a killed stackform left in this environment: its plugins, its files with secrets.
    sweep(runtime_root(ctx.work_dir), log)
    return ctx, redact


def _record_lineage(ctx: Context, registry: Registry, stack: ResolvedStack,
                    recorder: StateRecorder, events: tuple[ApplyEvent, ...]) -> None:
    """The lineage of what was applied, and of what is downstream of it, into state
    (docs/lineage.md)."""
    from stackform.lineage.record import with_lineage

    done = [e.address for e in events if e.status == "done" and e.action is not Action.DELETE]
    try:
        found = with_lineage(ctx, registry.get, stack, recorder.resources(), done)
    except Exception as exc:  # lineage never fails an apply that succeeded
        ctx.log(f"lineage not recorded: {type(exc).__name__}: {exc}")
        return
    for state in found:
        recorder.record(put=state)


def _record_drift(plan: Plan, recorded: Mapping[str, ResourceState],
                  recorder: StateRecorder) -> None:
    """A refresh-only plan: state takes what the refresh found, and nothing is touched."""
    for drift in plan.drift:
        prior = recorded.get(drift.address)
        if drift.after is None:
            recorder.record(remove=drift.address)
        elif prior is not None:
            recorder.record(put=replace(prior, attributes=dict(drift.after)))


class _Events:
    """The walk's outcomes as :class:`ApplyEvent`, told to ``on_event`` and kept."""

    def __init__(self, changes: Mapping[str, ResourceChange],
                 on_event: Callable[[ApplyEvent], None], redact: Redactor | None) -> None:
        self._changes = changes
        self._on_event = on_event
        self._redact = redact
        self._ended: dict[str, ApplyEvent] = {}
        self._warnings: dict[str, tuple[str, ...]] = {}

    def started(self, address: str) -> None:
        self._on_event(ApplyEvent(address, self._changes[address].action, "started"))

    def warned(self, address: str, warnings: tuple[str, ...]) -> None:
        """Keep what a visit's provider warned about (from the visit's own thread: one key per
        address, so no two threads write the same entry)."""
        # A provider's warning quotes the stack, and may quote what a plugin said.
        self._warnings[address] = (tuple(self._redact(w) for w in warnings) if self._redact
                                   else warnings)

    def ended(self, address: str, outcome: Outcome[str]) -> None:
        event = ApplyEvent(address, self._changes[address].action, outcome.status,
                           self._message(outcome), outcome.seconds,
                           self._warnings.get(address, ()) if outcome.status == "done" else ())
        self._ended[address] = event
        self._on_event(event)

    def ordered(self) -> tuple[ApplyEvent, ...]:
        return tuple(self._ended[a] for a in sorted(self._ended))

    def _message(self, outcome: Outcome[str]) -> str | None:
        if outcome.status == "skipped":
            return f"{outcome.cause} failed"
        error = outcome.error
        if error is None:
            return None
        # The reason and its hint: what to do is half the message.
        message = (str(error) if isinstance(error, StackformError)
                   else f"{type(error).__name__}: {error}")
        return self._redact(message) if self._redact else message
