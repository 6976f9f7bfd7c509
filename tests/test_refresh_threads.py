"""Refresh reads quick resources in the calling thread and hands slow ones to worker threads;
either way every resource is read once and the first failure, in order, is raised."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import ClassVar

import pytest

from stackform.errors import StackformError
from stackform.plan.builder import refresh
from stackform.provider import Context
from stackform.registry import Registry
from stackform.resource import ResourceState, fingerprinter
from tests.fakes import MemoryProvider


class _Timed(MemoryProvider):
    """Reads that take ``delay`` seconds, noting the thread each ran on."""

    delay: ClassVar[float] = 0.0
    fail: ClassVar[set[str]] = set()
    threads: ClassVar[dict[str, str]] = {}

    def read(self, ctx: Context, prior: ResourceState) -> ResourceState | None:
        self.threads[prior.address] = threading.current_thread().name
        time.sleep(self.delay)
        if prior.address in self.fail:
            raise StackformError(f"cannot read {prior.address}")
        return prior


def _refresh(tmp_path: Path, n: int, delay: float, fail: frozenset[str] = frozenset()
             ) -> dict[str, ResourceState | None]:
    _Timed.delay, _Timed.fail, _Timed.threads = delay, set(fail), {}
    ctx = Context(env="dev", stack_name="s", stack_dir=tmp_path, work_dir=tmp_path,
                  fingerprint=fingerprinter("k"))
    recorded = {f"things.t{i}": ResourceState(f"things.t{i}", "things", {"value": str(i)})
                for i in range(n)}
    return refresh(ctx, Registry(extra={"things": _Timed}), recorded, parallelism=4)


def test_quick_reads_stay_in_the_calling_thread(tmp_path: Path) -> None:
    found = _refresh(tmp_path, 200, 0.0)
    assert list(found) == [f"things.t{i}" for i in range(200)]
    assert set(_Timed.threads.values()) == {threading.current_thread().name}


def test_slow_reads_go_to_worker_threads(tmp_path: Path) -> None:
    started = time.perf_counter()
    found = _refresh(tmp_path, 40, 0.02)
    elapsed = time.perf_counter() - started
    assert len(found) == 40 and all(v is not None for v in found.values())
    on_workers = [a for a, t in _Timed.threads.items() if t.startswith("refresh_")]
    assert len(on_workers) == 39  # the first read was slow: the rest went to 8 threads
    assert elapsed < 40 * 0.02 / 2  # in parallel, not one after the other


@pytest.mark.parametrize("delay", [0.0, 0.01])
def test_the_first_failure_in_order_is_raised(tmp_path: Path, delay: float) -> None:
    with pytest.raises(StackformError, match=r"refreshing things\.t3 failed: cannot read "
                                             r"things\.t3"):
        _refresh(tmp_path, 12, delay, fail=frozenset({"things.t7", "things.t3"}))
