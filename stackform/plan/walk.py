"""Walk a dependency graph on a bounded thread pool: every node after the nodes it depends on.

The scheduler of apply, kept apart from what apply does to a resource so that it can be read and
tested on its own (the idea of OpenTofu's ``internal/dag/walk.go``):

- ``visit(node)`` runs on a worker thread once every node it depends on is done. Returning is
  success; raising anything is the node's failure, kept in its outcome.
- A failure skips every node that depends on it, directly or through others; nodes that do not
  depend on it go on.
- At most ``parallelism`` visits run at once.
- Setting ``cancel``, or Ctrl-C (``KeyboardInterrupt`` in the thread that called :func:`walk`,
  which then sets ``cancel``), stops starting nodes; visits in flight finish and keep their
  outcome, and the nodes never reached are ``not started``. A second Ctrl-C while waiting for
  them is not caught.
- ``on_start`` and ``on_end`` are never called at the same time, nor from a visit's thread;
  ``on_end`` once for every node, as soon as its outcome is known (a skip together with the
  failure that causes it). What they raise stops the walk and is raised by :func:`walk`.

A cycle raises :class:`graphlib.CycleError` before anything is visited.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Generic, Literal, TypeVar

N = TypeVar("N", bound=Hashable)

Status = Literal["done", "failed", "skipped", "not started"]


@dataclass(frozen=True)
class Outcome(Generic[N]):
    """What happened to one node."""

    status: Status
    error: BaseException | None = None
    """What ``visit`` raised (``failed``)."""
    cause: N | None = None
    """The failed node this one depends on (``skipped``)."""
    seconds: float = 0.0
    """From the start of the visit to its end, as the walking thread saw them."""


@dataclass(frozen=True)
class Walked(Generic[N]):
    outcomes: dict[N, Outcome[N]]
    """Every node of the graph, in the graph's order."""
    interrupted: bool = False
    """Ctrl-C stopped the walk (``cancel`` was set by it)."""


def walk(
    graph: Mapping[N, Iterable[N]],
    visit: Callable[[N], object],
    *,
    parallelism: int = 4,
    cancel: threading.Event | None = None,
    on_start: Callable[[N], None] = lambda _n: None,
    on_end: Callable[[N, Outcome[N]], None] = lambda _n, _o: None,
    thread_name: str = "walk",
) -> Walked[N]:
    """Visit every node of ``graph`` (node -> the nodes that must finish before it).

    Nodes that become ready together start in the graph's order (the order of its keys, then of
    nodes named only as dependencies)."""
    nodes = _Nodes(graph, on_end)
    cancel = cancel or threading.Event()
    scheduler = _Scheduler(nodes, visit, max(1, parallelism), cancel, on_start, thread_name)
    # The scheduling runs in a thread of its own: Ctrl-C (raised in the main thread, between
    # any two statements) then never lands inside its bookkeeping or the pool's, where it could
    # lose track of a visit already running. Here it only cancels. The caller waits on an Event,
    # not on ``Thread.join``: an interrupted join marks a running thread stopped (CPython 3.11).
    go = threading.Event()
    thread = threading.Thread(target=scheduler.run, args=(go,), daemon=True,
                              name=f"{thread_name}-scheduler")
    thread.start()  # a Ctrl-C here leaves the scheduler waiting for ``go``: nothing is visited
    interrupted = False
    try:
        go.set()
        scheduler.finished.wait()
    except KeyboardInterrupt:
        interrupted = True
        cancel.set()
        go.set()  # in case Ctrl-C came first: the scheduler then starts nothing
        scheduler.finished.wait()  # visits in flight end; a second Ctrl-C is not caught
    if scheduler.error is not None:
        raise scheduler.error
    nodes.end_unstarted()
    return Walked(nodes.outcomes(), interrupted)


class _Scheduler(Generic[N]):
    """Starts ready nodes while there is room and no cancel, and ends the visits that return."""

    def __init__(self, nodes: _Nodes[N], visit: Callable[[N], object], limit: int,
                 cancel: threading.Event, on_start: Callable[[N], None],
                 thread_name: str) -> None:
        self._nodes = nodes
        self._visit = visit
        self._limit = limit
        self._cancel = cancel
        self._on_start = on_start
        self._thread_name = thread_name
        self.error: BaseException | None = None
        """What a callback raised: the walk stops starting nodes and raises it."""
        self.finished = threading.Event()

    def run(self, go: threading.Event) -> None:
        go.wait()
        try:
            self._schedule()
        finally:
            self.finished.set()

    def _schedule(self) -> None:
        nodes = self._nodes
        running: dict[Future[object], tuple[N, float]] = {}
        with ThreadPoolExecutor(self._limit, thread_name_prefix=self._thread_name) as pool:
            try:
                while True:
                    # Start no more than the pool runs, so a cancel leaves the rest unstarted.
                    while (nodes.has_ready and len(running) < self._limit
                           and not self._cancel.is_set()):
                        node = nodes.pop_ready()
                        self._on_start(node)
                        running[pool.submit(self._visit, node)] = (node, time.monotonic())
                    if not running:
                        return
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: nodes.index(running[f][0])):
                        node, started = running.pop(future)
                        nodes.finish(node, future.exception(), time.monotonic() - started)
            except BaseException as exc:  # a callback's bug: start nothing more, let the rest end
                self.error = exc


class _Nodes(Generic[N]):
    """The walk's bookkeeping: what waits for what, what is ready, what ended how."""

    def __init__(self, graph: Mapping[N, Iterable[N]],
                 on_end: Callable[[N, Outcome[N]], None]) -> None:
        before = {node: set(preds) for node, preds in graph.items()}
        if any(before.values()):  # without edges there is no cycle to look for
            TopologicalSorter(before).prepare()  # a cycle raises here, before any visit
        order = list(before)
        order += [p for preds in before.values() for p in preds if p not in before]
        self._order = {node: i for i, node in enumerate(dict.fromkeys(order))}
        self._nodes = list(self._order)
        self._waiting = {node: len(before.get(node, ())) for node in self._nodes}
        self._children: dict[N, list[N]] = {node: [] for node in self._nodes}
        for node, preds in before.items():
            for pred in preds:
                self._children[pred].append(node)
        self._ready = [self._order[n] for n in self._nodes if not self._waiting[n]]
        heapq.heapify(self._ready)
        self._outcomes: dict[N, Outcome[N]] = {}
        self._on_end = on_end

    @property
    def has_ready(self) -> bool:
        return bool(self._ready)

    def index(self, node: N) -> int:
        return self._order[node]

    def pop_ready(self) -> N:
        return self._nodes[heapq.heappop(self._ready)]

    def finish(self, node: N, error: BaseException | None, seconds: float) -> None:
        if error is not None:
            self._end(node, Outcome("failed", error, seconds=seconds))
            for dependent in self._dependents(node):
                self._end(dependent, Outcome("skipped", cause=node))
            return
        self._end(node, Outcome("done", seconds=seconds))
        for child in self._children[node]:
            self._waiting[child] -= 1
            if not self._waiting[child] and child not in self._outcomes:
                heapq.heappush(self._ready, self._order[child])

    def end_unstarted(self) -> None:
        for node in self._nodes:
            if node not in self._outcomes:
                self._end(node, Outcome("not started"))

    def outcomes(self) -> dict[N, Outcome[N]]:
        return {node: self._outcomes[node] for node in self._nodes}

    def _dependents(self, node: N) -> list[N]:
        """Every node that depends on ``node`` and has no outcome yet, in the graph's order."""
        found: set[N] = set()
        todo = [node]
        while todo:
            for child in self._children[todo.pop()]:
                if child not in found and child not in self._outcomes:
                    found.add(child)
                    todo.append(child)
        return sorted(found, key=self._order.__getitem__)

    def _end(self, node: N, outcome: Outcome[N]) -> None:
        self._outcomes[node] = outcome
        self._on_end(node, outcome)
