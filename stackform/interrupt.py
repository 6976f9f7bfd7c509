"""SIGTERM taken as Ctrl-C while a command changes things (an apply, a run).

An orchestrator stops a task with SIGTERM; handled like Ctrl-C, it lets work in flight end and
state, bookmarks and the run record be saved. Kept apart from the CLI's flows so that `run`
imports it without the plan and apply machinery.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """An orchestrator stops a task with SIGTERM: treat it like Ctrl-C so state is saved."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
