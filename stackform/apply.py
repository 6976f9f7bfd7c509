"""Carry out a plan: walk its changes in dependency order on a bounded thread pool.

A failed resource skips the resources that depend on it; independent ones go on. State is
written after every resource that finishes (group commit: a write that is already under way
carries the changes that finished meanwhile), so a crash at any moment leaves a state holding
every resource that finished. Ctrl-C stops scheduling, lets work in flight end, and saves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Literal

from stackform.config.model import ResolvedStack
from stackform.errors import GraphError, StackformError, StateError
from stackform.plan.builder import make_context
from stackform.plan.model import Action, Plan, ResourceChange
from stackform.provider import Context
from stackform.redact import stack_redactor
from stackform.registry import Registry
from stackform.resource import ResourceState, fingerprinter
from stackform.state.backend import StateBackend
from stackform.state.model import GitInfo, State
from stackform.supervise import runtime_root, sweep

Status = Literal["started", "done", "failed", "skipped", "not started"]


@dataclass(frozen=True)
class ApplyEvent:
    address: str
    action: Action
    status: Status
    error: str | None = None
    seconds: float = 0.0


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

    A writer thread stores a full snapshot whenever something changed since its last write, so
    one write carries every resource that finished meanwhile: workers never wait on the disk,
    and a thousand quick resources cost tens of writes, not a thousand. Snapshots are taken in
    order, so any stored state holds every resource that finished before it, dependencies
    before their dependents.
    """

    def __init__(self, backend: StateBackend, env: str, prior: State | None, lineage: str,
                 stack_name: str, git: GitInfo) -> None:
        self._backend = backend
        self._env = env
        self._written = prior
        self._base = prior or State.new(env, stack_name, lineage)
        self._resources: dict[str, ResourceState] = dict(self._base.resources)
        self._git = git
        self._cond = threading.Condition()
        self._version = 0
        self._persisted = 0
        self._closing = False
        self.error: StateError | None = None
        self._thread = threading.Thread(target=self._run, name="state-writer", daemon=True)
        self._thread.start()

    @property
    def state(self) -> State | None:
        return self._written

    @property
    def unsaved(self) -> State | None:
        """After a failed write: the state with every resource recorded, for the user to push."""
        if self.error is None:
            return None
        with self._cond:
            resources = dict(self._resources)
        return replace(self._written or self._base, resources=resources).next(self._git)

    def record(self, put: ResourceState | None = None, remove: str | None = None) -> None:
        with self._cond:
            if put is not None:
                self._resources[put.address] = put
            if remove is not None:
                self._resources.pop(remove, None)
            self._version += 1
            self._cond.notify_all()

    def close(self) -> None:
        """Store what is left and stop the writer."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()

    def _run(self) -> None:
        # A remote backend asks for a pause between writes (each carries the whole document):
        # what finishes meanwhile joins the next write. Closing writes at once.
        interval = float(getattr(self._backend, "write_interval", 0.0))
        last = float("-inf")
        while True:
            with self._cond:
                while self._version == self._persisted and not self._closing:
                    self._cond.wait()
                if self._version == self._persisted:
                    return
                while not self._closing and time.monotonic() < last + interval:
                    self._cond.wait(last + interval - time.monotonic())
                version = self._version
                resources = dict(self._resources)
            base = self._written or self._base
            new = replace(base, resources=resources).next(self._git)
            try:
                self._backend.write(self._env, new, self._written)
            except StateError as exc:
                self.error = exc
                return
            except Exception as exc:  # a bug must not leave apply waiting forever
                self.error = StateError(f"writing state failed: {type(exc).__name__}: {exc}")
                return
            last = time.monotonic()
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


def _dependents(graph: dict[str, set[str]], failed: str) -> set[str]:
    children: dict[str, set[str]] = {}
    for node, preds in graph.items():
        for p in preds:
            children.setdefault(p, set()).add(node)
    out: set[str] = set()
    todo = [failed]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def _run_one(ctx: Context, registry: Registry, change: ResourceChange,
             stack: ResolvedStack, recorded: Mapping[str, ResourceState],
             recorder: StateRecorder) -> None:
    provider = registry.get(change.kind)
    prior = recorded.get(change.address)
    if change.action is Action.DELETE:
        if prior is not None:
            provider.delete(ctx, prior)
        recorder.record(remove=change.address)
        return
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
    fingerprint = fingerprinter(plan.lineage)
    # A plugin's output (its stderr in an error, a line it logs) may quote a secret.
    redact = stack_redactor(stack) if plan.actionable else None
    if redact:
        log = redact.wrap(log)
    ctx = replace(make_context(stack, fingerprint, log), cancel=cancel)
    # What a killed stackform left in this environment: its plugins, its files with secrets.
    sweep(runtime_root(ctx.work_dir), log)
    recorder = StateRecorder(backend, stack.env, state, plan.lineage, stack.name, git)
    recorded: Mapping[str, ResourceState] = state.resources if state else {}

    if plan.mode == "refresh-only":
        for drift in plan.drift:
            prior = recorded.get(drift.address)
            if drift.after is None:
                recorder.record(remove=drift.address)
            elif prior is not None:
                recorder.record(put=replace(prior, attributes=dict(drift.after)))
        recorder.close()
        return ApplyResult((), recorder.state, state_error=recorder.error,
                           unsaved=recorder.unsaved)

    changes = {c.address: c for c in plan.actionable}
    graph = _operation_graph(changes)
    sorter: TopologicalSorter[str] = TopologicalSorter(graph)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise GraphError(f"the plan's changes form a cycle: {' -> '.join(exc.args[1])}") from exc
    outcomes: dict[str, ApplyEvent] = {}
    skipped: dict[str, str] = {}
    running: dict[Future[None], tuple[str, float]] = {}
    interrupted = False
    state_failed = False

    def finish(event: ApplyEvent) -> None:
        outcomes[event.address] = event
        on_event(event)

    try:
        limit = max(1, parallelism)
        queue: list[str] = []
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="apply") as pool:
            try:
                while sorter.is_active():
                    queue.extend(sorted(sorter.get_ready()))
                    # Submit no more than the pool runs, so a cancel leaves the rest unstarted.
                    while queue and not cancel.is_set() and len(running) < limit:
                        address = queue.pop(0)
                        change = changes[address]
                        if address in skipped:
                            finish(ApplyEvent(address, change.action, "skipped",
                                              f"{skipped[address]} failed"))
                            sorter.done(address)
                            queue.extend(sorted(sorter.get_ready()))
                            continue
                        on_event(ApplyEvent(address, change.action, "started"))
                        future = pool.submit(_run_one, ctx, registry, change, stack,
                                             recorded, recorder)
                        running[future] = (address, time.monotonic())
                    if not running:
                        if cancel.is_set() or not queue:
                            break
                        continue
                    done, _ = wait(running, timeout=0.25, return_when=FIRST_COMPLETED)
                    if recorder.error is not None and not cancel.is_set():
                        state_failed = True
                        cancel.set()  # state cannot be recorded: stop starting work
                    for future in done:
                        address, started = running.pop(future)
                        change = changes[address]
                        seconds = time.monotonic() - started
                        error = future.exception()
                        if error is None:
                            finish(ApplyEvent(address, change.action, "done", None, seconds))
                        else:
                            # The reason and its hint: what to do is half the message.
                            message = (str(error) if isinstance(error, StackformError)
                                       else f"{type(error).__name__}: {error}")
                            if redact:
                                message = redact(message)
                            finish(ApplyEvent(address, change.action, "failed", message, seconds))
                            for dependent in _dependents(graph, address):
                                skipped.setdefault(dependent, address)
                        sorter.done(address)
            except KeyboardInterrupt:
                interrupted = True
                cancel.set()
                # Let work in flight end so state records it; a second Ctrl-C is not caught.
                for future in list(running):
                    address, started = running.pop(future)
                    change = changes[address]
                    error = future.exception()
                    told = None if error is None else str(error)
                    if told and redact:
                        told = redact(told)
                    finish(ApplyEvent(address, change.action, "done" if error is None else "failed",
                                      told, time.monotonic() - started))
    finally:
        recorder.close()
    interrupted = interrupted or (cancel.is_set() and not state_failed)
    for address, change in changes.items():
        if address not in outcomes:
            finish(ApplyEvent(address, change.action,
                              "skipped" if address in skipped else "not started",
                              f"{skipped[address]} failed" if address in skipped else None))
    ordered = tuple(outcomes[a] for a in sorted(outcomes))
    return ApplyResult(ordered, recorder.state or state, interrupted, recorder.error,
                       recorder.unsaved)
