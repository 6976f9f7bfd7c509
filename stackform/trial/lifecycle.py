"""``stackform test`` from start to end: make a throwaway environment, apply the stack, run
its pipelines (on a sample when asked), run the checks, and destroy it all, also when a check
fails or the run is interrupted (Ctrl-C, SIGTERM), unless asked to keep it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stackform.config.loader import find_stack_file, load_stack_file
from stackform.errors import StackformError
from stackform.interrupt import sigterm_as_interrupt
from stackform.plan.builder import PlanOptions
from stackform.redact import stack_redactor
from stackform.registry import Registry
from stackform.runs.runner import run_pipeline
from stackform.session import Session, open_session
from stackform.trial.checks import (
    UserCheck,
    provider_checks,
    run_checks,
    run_user_check,
    user_checks,
)
from stackform.trial.envs import (
    base_of,
    check_new_name,
    check_no_shared_schemas,
    default_name,
    mark,
)
from stackform.trial.model import CheckResult, TrialReport
from stackform.trial.order import pipelines_in_order
from stackform.trial.teardown import destroy_throwaway


@dataclass(frozen=True)
class TrialOptions:
    env: str | None = None
    base: str | None = None
    sample: int | None = None
    keep: bool = False
    pipelines: tuple[str, ...] = ()
    parallelism: int = 4
    lock_timeout: float = 0.0


@dataclass
class _Trial:
    session: Session
    report: TrialReport
    options: TrialOptions
    say: Callable[[str], None]
    pipelines: list[str] = field(default_factory=list)
    checks: list[UserCheck] = field(default_factory=list)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.report.phases[name] = (self.report.phases.get(name, 0.0)
                                        + time.monotonic() - started)


def prepare(directory: Path | None, file: Path | None, options: TrialOptions,
            say: Callable[[str], None]) -> _Trial:
    """Open the throwaway environment and check everything that can be checked before
    anything is made: its name, the checks declared, the pipelines, shared schemas."""
    stack_file = load_stack_file(find_stack_file(directory, file), Registry())
    base = base_of(stack_file, options.base)
    name = options.env or default_name(stack_file.dir)
    session = open_session(directory, file, name, base_env=base)
    trial = _Trial(session, TrialReport(env=name, base=base), options, say)
    trial.checks = user_checks(session)
    trial.pipelines = pipelines_in_order(session.stack, options.pipelines)
    check_new_name(stack_file, name, session.read_state())
    check_no_shared_schemas(session)
    return trial


def run_trial(trial: _Trial) -> TrialReport:
    """Make, check and (unless ``keep``) destroy the environment; the report says how each
    check went. Raises nothing a check or an interruption causes."""
    report, session = trial.report, trial.session
    with sigterm_as_interrupt():
        with session.backend.lock(report.env, "test", trial.options.lock_timeout):
            mark(session, report.base)
        trial.say(f"testing in throwaway environment {report.env} (from {report.base})")
        try:
            _apply(trial) and _runs(trial) and _checks(trial)
        except KeyboardInterrupt:
            report.interrupted = True
            trial.say("interrupted: destroying the environment")
        except StackformError as exc:
            report.add(CheckResult("stackform test", "environment", "error", 0.0,
                                   str(exc)))
        finally:
            _finish(trial)
    return report


def _apply(trial: _Trial) -> bool:
    session, report = trial.session, trial.report
    with trial.phase("apply"), session.backend.lock(report.env, "apply",
                                                    trial.options.lock_timeout):
        state = session.read_state()
        options = PlanOptions(parallelism=trial.options.parallelism)
        plan = session.plan(options, state, state_read=True, with_git=False)
        started = time.monotonic()
        result = session.apply(plan, state, parallelism=trial.options.parallelism,
                               cancel=threading.Event())
    if result.interrupted:
        raise KeyboardInterrupt
    failed = [f"{o.address}: {o.error}" for o in result.failed]
    if result.state_error is not None:
        failed.append(f"state: {result.state_error.reason}")
    report.add(CheckResult("apply", "environment", "passed" if result.ok else "failed",
                           time.monotonic() - started,
                           stack_redactor(session.stack)("; ".join(failed))))
    return result.ok


def _runs(trial: _Trial) -> bool:
    session, report = trial.session, trial.report
    with trial.phase("runs"):
        for i, pipeline in enumerate(trial.pipelines):
            trial.say(f"running {pipeline}"
                      + (f" on a sample of {trial.options.sample}" if trial.options.sample
                         else ""))
            record = run_pipeline(session, session.run_store, pipeline, full_refresh=True,
                                  say=trial.say, sample=trial.options.sample)
            checks = run_checks(record)
            for check in checks:
                report.add(check)
            report.phases["dbt"] = report.phases.get("dbt", 0.0) + sum(
                c.seconds for c in checks if c.group == "dbt")
            if record.status == "interrupted":
                raise KeyboardInterrupt
            if record.status != "success":
                for later in trial.pipelines[i + 1:]:
                    report.add(CheckResult(f"{later}: run", "pipelines", "skipped", 0.0,
                                           f"not run: {pipeline} failed"))
                return False
    return True


def _checks(trial: _Trial) -> bool:
    session, report = trial.session, trial.report
    state = session.read_state()
    assert state is not None
    redact = stack_redactor(session.stack)
    with trial.phase("checks"):
        for check in trial.checks:
            report.add(run_user_check(session, state, check, redact))
        for found in provider_checks(session, state, trial.say, redact):
            report.add(found)
    return True


def _finish(trial: _Trial) -> None:
    """Destroy the environment (or say how to reach it when kept)."""
    report = trial.report
    if trial.options.keep:
        report.kept = True
        trial.say(f"kept {report.env}: `stackform env destroy {report.env}` removes it, "
                  "schemas included")
        return
    started = time.monotonic()
    try:
        with trial.phase("destroy"):
            report.dropped = destroy_throwaway(trial.session, trial.say,
                                               lock_timeout=max(trial.options.lock_timeout,
                                                                30.0),
                                               parallelism=trial.options.parallelism)
        report.destroyed = True
    except (StackformError, KeyboardInterrupt) as exc:
        reason = exc.reason if isinstance(exc, StackformError) else "interrupted"
        report.add(CheckResult("destroy", "environment", "error",
                               time.monotonic() - started,
                               f"{reason}; `stackform env destroy {report.env}` removes "
                               "what is left"))
