"""What a run records: its outcome, and the bookmarks it moved."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RunStatus = Literal["running", "success", "failed", "interrupted"]


@dataclass(frozen=True)
class StepOutcome:
    """What one provider task of a run did (a tap-to-target pair, a dbt command...)."""

    name: str
    """``orders-to-warehouse``, ``dbt:build``."""
    status: RunStatus
    seconds: float = 0.0
    records_emitted: int | None = None
    rows_landed: int | None = None
    bookmark_moved: bool = False
    error: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunRecord:
    """One run of one pipeline in one environment."""

    run_id: str
    pipeline: str
    env: str
    started_at: str
    status: RunStatus = "running"
    finished_at: str | None = None
    seconds: float | None = None
    full_refresh: bool = False
    steps: tuple[StepOutcome, ...] = ()
    error: str | None = None
    log: str | None = None
    """Where the run's log is (a path relative to the run-state root, or a URL)."""
    user: str | None = None
    host: str | None = None

    @property
    def bookmark_moved(self) -> bool:
        return any(s.bookmark_moved for s in self.steps)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["steps"] = [asdict(s) for s in self.steps]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["steps"] = tuple(
            StepOutcome(**{k: v for k, v in s.items() if k in StepOutcome.__dataclass_fields__})
            for s in data.get("steps") or ()
        )
        return cls(**known)


@dataclass(frozen=True)
class Bookmark:
    """The last state a loader confirmed for one extractor in one pipeline and environment."""

    key: str
    """``<pipeline>.<extractor>`` (see :func:`bookmark_key`)."""
    value: Mapping[str, Any]
    """The Singer STATE value as the target emitted it."""
    updated_at: str
    run_id: str | None = None


def bookmark_key(pipeline: str, extractor: str) -> str:
    return f"{pipeline}.{extractor}"
