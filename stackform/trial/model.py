"""What ``stackform test`` reports: each check by name with its outcome and timing, and the
time each phase took."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["passed", "failed", "error", "skipped"]


@dataclass(frozen=True)
class CheckResult:
    """One check: ``pipeline daily: orders-to-warehouse``, ``dbt build``, ``test no_gaps``."""

    name: str
    group: str
    """``pipelines``, ``dbt``, ``dashboards``, ``tests``, ``environment``: a JUnit class."""
    outcome: Outcome
    seconds: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("passed", "skipped")


@dataclass
class TrialReport:
    """The whole test: the environment, every check, each phase's wall time."""

    env: str
    base: str
    checks: list[CheckResult] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)
    """apply, runs, dbt (part of runs), checks, destroy: seconds."""
    kept: bool = False
    destroyed: bool = False
    dropped: list[str] = field(default_factory=list)
    interrupted: bool = False

    @property
    def passed(self) -> bool:
        return (bool(self.checks) and all(c.ok for c in self.checks)
                and not self.interrupted)

    def add(self, check: CheckResult) -> None:
        self.checks.append(check)
