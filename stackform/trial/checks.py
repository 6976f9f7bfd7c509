"""The checks of ``stackform test``, each a :class:`~stackform.trial.model.CheckResult`:

- each pipeline step succeeded, and for an extract-load step the records the tap emitted
  equal the rows that landed, stream by stream (a mismatch names the stream);
- each dbt step (``dbt build`` runs the models and their tests): a failing test fails the
  check, named;
- the stack's ``[tests.NAME]``: a query against the warehouse of a block (a provider that
  :class:`~stackform.provider_schemas.RunsQueries`) returning no rows, or a count in bounds;
- whatever a provider checks itself (:class:`~stackform.provider_schemas.ProvidesChecks`:
  dashboards whose charts must query without error).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from stackform.config.resolve import _interpolator
from stackform.config.schema import CheckSection
from stackform.diagnostics import Diagnostics
from stackform.errors import Diagnostic, StackformError
from stackform.provider import make_context
from stackform.provider_schemas import ProvidesChecks, RunsQueries
from stackform.redact import Redactor
from stackform.resource import fingerprinter
from stackform.runs.model import RunRecord, StepOutcome
from stackform.secrets import SecretStore
from stackform.session import Session
from stackform.state.model import State
from stackform.trial.model import CheckResult


def _stream_problems(emitted: dict[str, int], landed: dict[str, int | None]) -> list[str]:
    """Each stream whose records emitted differ from the rows its table landed, named."""
    problems = []
    for stream, records in sorted(emitted.items()):
        rows = landed.get(stream)
        if rows is None and records:
            problems.append(f"stream {stream}: {records} records emitted, but no table of "
                            "the loader's schema is its own")
        elif rows is not None and rows != records:
            problems.append(f"stream {stream}: {records} records emitted but {rows} rows "
                            "landed")
    return problems


def step_check(pipeline: str, outcome: StepOutcome) -> CheckResult:
    """A step's outcome as a check: dbt steps (they report an exit code) in group ``dbt``.
    An extract-load step passes when its records emitted equal its rows landed, per stream
    when the provider counted each stream's table (``rows_by_stream``), else in total."""
    is_dbt = "exit_code" in outcome.details
    name = f"{pipeline}: {outcome.name}"
    group = "dbt" if is_dbt else "pipelines"
    if outcome.status != "success":
        return CheckResult(name, group, "failed", outcome.seconds,
                           outcome.error or outcome.status)
    if is_dbt or (outcome.records_emitted is None and outcome.rows_landed is None):
        return CheckResult(name, group, "passed", outcome.seconds)
    emitted, landed = outcome.records_emitted, outcome.rows_landed
    by_stream = outcome.details.get("records_by_stream") or {}
    landed_by = outcome.details.get("rows_by_stream")
    if isinstance(landed_by, dict):
        streams = ", ".join(f"{s} {n}/{landed_by.get(s)}" for s, n in sorted(by_stream.items()))
        counted = f" (by stream, emitted/landed: {streams})" if streams else ""
    else:
        streams = ", ".join(f"{s} {n}" for s, n in sorted(by_stream.items()))
        counted = f" (records by stream: {streams}; rows per stream not counted)" \
            if streams else ""
    if emitted is None or landed is None:
        what = "records emitted" if emitted is None else "rows landed"
        return CheckResult(name, group, "failed", outcome.seconds,
                           f"{what} could not be counted, so the load cannot be checked"
                           f"{counted}: {outcome.details.get('warning', '')}".rstrip(": "))
    problems = _stream_problems(by_stream, landed_by) if isinstance(landed_by, dict) else []
    if emitted != landed:
        problems.append(f"{emitted} records emitted but {landed} rows landed in all")
    if problems:
        return CheckResult(name, group, "failed", outcome.seconds,
                           "; ".join(problems) + counted)
    return CheckResult(name, group, "passed", outcome.seconds,
                       f"{emitted} records emitted, {landed} rows landed{counted}")


def run_checks(record: RunRecord) -> list[CheckResult]:
    """One check per step the run reached; a run that failed before any step is one check."""
    checks = [step_check(record.pipeline, step) for step in record.steps]
    if record.status != "success" and all(c.ok for c in checks):
        checks.append(CheckResult(f"{record.pipeline}: run", "pipelines", "failed",
                                  record.seconds or 0.0, record.error or record.status))
    return checks


@dataclass(frozen=True)
class UserCheck:
    """A ``[tests.NAME]`` resolved for the environment."""

    name: str
    sql: str
    connection: str
    section: CheckSection


def user_checks(session: Session) -> list[UserCheck]:
    """Every ``[tests.NAME]``, its SQL interpolated; a bad declaration is a located error
    (before anything is applied)."""
    stack_file, stack = session.stack_file, session.stack
    sections = stack_file.core.tests
    if not sections:
        return []
    diags = Diagnostics()
    secrets = SecretStore(stack.name)
    interp = _interpolator(stack_file, stack.environment, stack.env, os.environ,
                           secrets, False, diags)
    found: list[UserCheck] = []
    for name, section in sections.items():
        base = ("tests", name)
        sql, sensitive = interp.interpolate(section.sql, (*base, "sql"))
        if sensitive:
            diags.add(Diagnostic("a check's SQL may not hold a secret (it is shown in reports)",
                                 path=f"tests.{name}.sql",
                                 location=stack_file.location((*base, "sql"))))
        resource = stack.resources.get(section.connection)
        provider = session.registry.get(resource.kind) if resource else None
        if resource is None or not isinstance(provider, RunsQueries):
            queryable = sorted(a for a, r in stack.resources.items()
                               if isinstance(session.registry.get(r.kind), RunsQueries))
            reason = ("is no block of the stack" if resource is None
                      else "cannot run queries")
            diags.add(Diagnostic(f"connection '{section.connection}' {reason}",
                                 path=f"tests.{name}.connection",
                                 location=stack_file.location((*base, "connection")),
                                 hint="name a block with a warehouse: "
                                      + (", ".join(queryable) or "none in this stack")))
        found.append(UserCheck(name, str(sql), section.connection, section))
    diags.raise_if_errors()
    return found


def _bound_problem(rows: int, section: CheckSection) -> str | None:
    if section.min_rows is None and section.max_rows is None:
        return None if rows == 0 else f"{rows} row(s) returned; the check wants none"
    if section.min_rows is not None and rows < section.min_rows:
        return f"{rows} row(s) returned, fewer than min_rows = {section.min_rows}"
    if section.max_rows is not None and rows > section.max_rows:
        return f"{rows} row(s) returned, more than max_rows = {section.max_rows}"
    return None


def run_user_check(session: Session, state: State, check: UserCheck,
                   redact: Redactor) -> CheckResult:
    resource = session.stack.resources[check.connection]
    provider = session.registry.get(resource.kind)
    assert isinstance(provider, RunsQueries)
    ctx = make_context(session.stack, fingerprinter(state.lineage))
    started = time.monotonic()
    name = f"test {check.name}"
    try:
        result = provider.run_query(ctx, resource, check.sql)
    except StackformError as exc:
        return CheckResult(name, "tests", "error", time.monotonic() - started,
                           redact(f"the query failed: {exc.reason}"))
    seconds = time.monotonic() - started
    problem = _bound_problem(result.rows, check.section)
    if problem is None:
        return CheckResult(name, "tests", "passed", seconds, f"{result.rows} row(s)")
    shown = "; ".join(", ".join(row) for row in result.first[:3])
    return CheckResult(name, "tests", "failed", seconds,
                       redact(problem + (f" (first: {shown})" if shown else "")))


def provider_checks(session: Session, state: State, say: Callable[[str], None],
                    redact: Redactor) -> list[CheckResult]:
    """What providers check of their own blocks (dashboards' charts)."""
    ctx = make_context(session.stack, fingerprinter(state.lineage))
    results: list[CheckResult] = []
    for address in sorted(state.resources):
        resource = session.stack.resources.get(address)
        provider = session.registry.get(resource.kind) if resource else None
        if resource is None or not isinstance(provider, ProvidesChecks):
            continue
        say(f"checking {address}")
        for found in provider.test_checks(ctx, resource, state.resources[address]):
            results.append(CheckResult(found.name, resource.kind,
                                       "passed" if found.passed else "failed",
                                       found.seconds, redact(found.message)))
    return results
