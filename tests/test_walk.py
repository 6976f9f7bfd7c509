"""The dependency walk of apply (stackform/plan/walk.py), on plain functions."""

from __future__ import annotations

import os
import signal
import threading
import time
from graphlib import CycleError

import pytest

from stackform.plan.walk import Outcome, walk


class Recorder:
    """A visit that notes when each node starts and ends, and how many run at once."""

    def __init__(self, sleep: float = 0.0, fail: frozenset[str] = frozenset()) -> None:
        self.sleep = sleep
        self.fail = fail
        self.lock = threading.Lock()
        self.events: list[tuple[str, str]] = []
        self.active = 0
        self.peak = 0

    def __call__(self, node: str) -> None:
        with self.lock:
            self.events.append(("start", node))
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.sleep)
            if node in self.fail:
                raise RuntimeError(f"{node} broke")
        finally:
            with self.lock:
                self.active -= 1
                self.events.append(("end", node))

    def visited(self) -> list[str]:
        return [n for e, n in self.events if e == "start"]

    def position(self, event: str, node: str) -> int:
        return self.events.index((event, node))


def statuses(outcomes: dict[str, Outcome[str]]) -> dict[str, str]:
    return {node: o.status for node, o in outcomes.items()}


DIAMOND = {"top": {"left", "right"}, "left": {"base"}, "right": {"base"}, "base": set()}


def test_every_node_starts_after_the_nodes_it_depends_on_end() -> None:
    visit = Recorder(sleep=0.01)
    walked = walk(DIAMOND, visit, parallelism=4)
    assert statuses(walked.outcomes) == dict.fromkeys(DIAMOND, "done")
    assert sorted(visit.visited()) == sorted(DIAMOND)
    for node, preds in DIAMOND.items():
        for pred in preds:
            assert visit.position("end", pred) < visit.position("start", node), (pred, node)
    # left and right depend only on base: they run together.
    assert visit.peak == 2
    assert list(walked.outcomes) == list(DIAMOND), "outcomes come in the graph's order"


def test_nodes_ready_together_start_in_the_graphs_order() -> None:
    graph = {name: set() for name in ("c", "a", "b", "d")}
    visit = Recorder()
    walk(graph, visit, parallelism=1)
    assert visit.visited() == ["c", "a", "b", "d"]


def test_a_node_named_only_as_a_dependency_is_visited_first() -> None:
    visit = Recorder()
    walked = walk({"app": {"db"}}, visit)
    assert visit.visited() == ["db", "app"]
    assert statuses(walked.outcomes) == {"app": "done", "db": "done"}


def test_no_more_than_parallelism_visits_run_at_once() -> None:
    visit = Recorder(sleep=0.05)
    walked = walk({f"n{i}": set() for i in range(12)}, visit, parallelism=3)
    assert visit.peak == 3
    assert all(o.status == "done" for o in walked.outcomes.values())


def test_a_failure_skips_every_node_that_depends_on_it_and_the_rest_go_on() -> None:
    graph = {"bad": set(), "child": {"bad"}, "grandchild": {"child"},
             "also": {"grandchild", "ok"}, "ok": set(), "after_ok": {"ok"}}
    visit = Recorder(fail=frozenset({"bad"}))
    ended: list[tuple[str, str]] = []
    walked = walk(graph, visit, parallelism=2,
                  on_end=lambda node, outcome: ended.append((node, outcome.status)))
    assert statuses(walked.outcomes) == {
        "bad": "failed", "child": "skipped", "grandchild": "skipped", "also": "skipped",
        "ok": "done", "after_ok": "done"}
    assert set(visit.visited()) == {"bad", "ok", "after_ok"}, "a skipped node is never visited"
    assert {walked.outcomes[n].cause for n in ("child", "grandchild", "also")} == {"bad"}
    assert sorted(ended) == sorted(statuses(walked.outcomes).items()), "on_end once per node"
    # A skip is told with the failure that causes it, not when the walk ends.
    assert ended.index(("child", "skipped")) == ended.index(("bad", "failed")) + 1


def test_an_exception_in_visit_is_the_nodes_failure_not_the_walks() -> None:
    def visit(node: str) -> None:
        if node == "b":
            raise KeyError("missing")  # a bug, not a StackformError

    walked = walk({"a": set(), "b": set(), "c": {"b"}}, visit)
    b = walked.outcomes["b"]
    assert b.status == "failed" and isinstance(b.error, KeyError)
    assert walked.outcomes["a"].status == "done"
    assert walked.outcomes["c"].status == "skipped" and walked.outcomes["c"].cause == "b"


def test_cancel_starts_nothing_new_and_lets_visits_in_flight_finish() -> None:
    cancel = threading.Event()
    finished: list[str] = []

    both_running = threading.Barrier(2)

    def visit(node: str) -> None:
        both_running.wait(timeout=5)
        if node == "n0":
            cancel.set()
        time.sleep(0.1)
        finished.append(node)

    walked = walk({f"n{i}": set() for i in range(6)}, visit, parallelism=2, cancel=cancel)
    assert statuses(walked.outcomes) == {"n0": "done", "n1": "done", "n2": "not started",
                                         "n3": "not started", "n4": "not started",
                                         "n5": "not started"}
    assert sorted(finished) == ["n0", "n1"], "the visits in flight finished"
    assert not walked.interrupted, "a cancel is the caller's own: the walk does not call it Ctrl-C"


def test_ctrl_c_is_a_cancel_and_visits_in_flight_finish() -> None:
    finished: list[str] = []

    both_running = threading.Barrier(2)

    def visit(node: str) -> None:
        both_running.wait(timeout=5)
        if node == "n0":
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C reaches the main thread, which waits
        time.sleep(0.2)
        finished.append(node)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        cancel = threading.Event()
        walked = walk({f"n{i}": set() for i in range(5)}, visit, parallelism=2, cancel=cancel)
    finally:
        signal.signal(signal.SIGINT, previous)
    assert walked.interrupted and cancel.is_set()
    assert sorted(finished) == ["n0", "n1"]
    assert statuses(walked.outcomes) == {"n0": "done", "n1": "done", "n2": "not started",
                                         "n3": "not started", "n4": "not started"}


def test_a_cycle_is_refused_before_anything_is_visited() -> None:
    visit = Recorder()
    with pytest.raises(CycleError):
        walk({"free": set(), "a": {"b"}, "b": {"c"}, "c": {"a"}}, visit)
    assert visit.events == []


def test_callbacks_are_never_called_at_once_nor_from_a_visit() -> None:
    visits: set[str] = set()
    callbacks: set[str] = set()
    busy = threading.Lock()
    overlapped = []

    def visit(_node: str) -> None:
        visits.add(threading.current_thread().name)
        time.sleep(0.01)

    def callback(*_args: object) -> None:
        if not busy.acquire(blocking=False):
            overlapped.append(True)
            return
        callbacks.add(threading.current_thread().name)
        time.sleep(0.005)
        busy.release()

    graph = {f"n{i}": set() for i in range(8)}
    walk(graph, visit, parallelism=4, on_start=callback, on_end=callback)
    assert not overlapped
    assert callbacks and not callbacks & visits


def test_what_a_callback_raises_is_raised_once_visits_in_flight_end() -> None:
    finished: list[str] = []

    def visit(node: str) -> None:
        time.sleep(0.1)
        finished.append(node)

    def on_start(node: str) -> None:
        if node == "n2":
            raise ValueError("a bug in on_start")

    with pytest.raises(ValueError, match="a bug in on_start"):
        walk({f"n{i}": set() for i in range(5)}, visit, parallelism=3, on_start=on_start)
    assert sorted(finished) == ["n0", "n1"], "started visits ended; nothing started after"
