"""The interface every run-state store implements (bookmarks, run history, logs, run lock)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from stackform.runs.model import Bookmark, RunRecord
from stackform.state.backend import LockInfo


class RunStore(Protocol):
    """Run state of a stack, per environment, apart from infrastructure state and its lock."""

    def describe(self, env: str) -> str:
        """Where this environment's run state lives, for messages."""

    def get_bookmark(self, env: str, key: str) -> Bookmark | None: ...

    def put_bookmark(self, env: str, bookmark: Bookmark) -> None:
        """Store durably and atomically (a crash leaves the previous or the new bookmark)."""

    def clear_bookmark(self, env: str, key: str) -> bool:
        """Remove one bookmark; ``False`` when there was none. The old value is kept aside."""

    def bookmarks(self, env: str, prefix: str | None = None) -> list[Bookmark]: ...

    def run_lock(
        self, env: str, pipeline: str, timeout: float = 0.0
    ) -> AbstractContextManager[LockInfo]:
        """Hold the pipeline's run lock; a second run of it in this environment is refused
        (:class:`~stackform.errors.RunLockedError`) naming the holder, or waits ``timeout``."""

    def start_run(self, record: RunRecord) -> None: ...

    def finish_run(self, record: RunRecord) -> None: ...

    def runs(self, env: str, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        """Past runs, newest first."""

    def forget(self, env: str) -> str | None:
        """Remove all run state of ``env`` (after it was destroyed): where it was, or ``None``
        when there was none."""

    def log_path(self, env: str, run_id: str) -> Path:
        """A local file the run writes its log to (created with its folder, mode 0600)."""
