"""The parts of ``stackform test`` that need no warehouse: throwaway names and marks, the
checks made of run records, the order of pipelines, the reports, and the ``--sample`` relay
between two real processes. The whole command runs for real in tests/e2e/test_stack_test*.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from stackform.config.loader import load_stack_file
from stackform.config.resolve import resolve
from stackform.environments import EnvRow, stale_developer_envs
from stackform.errors import ConfigError, CorruptStateError, StackformError
from stackform.registry import Registry
from stackform.runs.model import RunRecord, StepOutcome
from stackform.state.model import State
from stackform.trial.checks import run_checks, step_check
from stackform.trial.envs import base_of, check_new_name, default_name
from stackform.trial.model import CheckResult, TrialReport
from stackform.trial.order import pipelines_in_order
from stackform.trial.report import junit_xml, markdown, summary_line
from tests.cli_helpers import write_stack

STACK = """
[stack]
name = "demo"

[vars]
where = "out/${stack.env}"

[environments.dev]
default = true
vars = { where = "dev-place/${stack.env_id}" }

[environments.prod]
protected = true

[files.a]
path = "${var.where}/a.txt"
content = "x"

[pipelines.first]
steps = ["files.a"]

[pipelines.second]
steps = ["files.a"]
depends_on = ["first"]
"""


def _file(tmp_path: Path, extra: str = "") -> Path:
    return write_stack(tmp_path, STACK + extra)


def test_a_throwaway_environment_takes_its_base_settings_under_its_own_name(
        tmp_path: Path) -> None:
    stack_file = load_stack_file(_file(tmp_path), Registry())
    stack = resolve(stack_file, "ci-7f", Registry(), base_env="dev")
    assert stack.env == "ci-7f"
    assert stack.resources["files.a"].attributes["path"] == "dev-place/ci_7f/a.txt"
    assert base_of(stack_file, None) == "dev"
    with pytest.raises(StackformError, match="unknown base environment 'prdo'"):
        resolve(stack_file, "ci-7f", Registry(), base_env="prdo")
    with pytest.raises(StackformError, match="declared environment"):
        check_new_name(stack_file, "prod", None)
    left = State(env="ci-7f", lineage="l", stack="demo", throwaway={"base": "dev"})
    with pytest.raises(StackformError, match="already has state") as caught:
        check_new_name(stack_file, "ci-7f", left)
    assert "stackform env destroy ci-7f" in (caught.value.hint or "")


def test_a_protected_default_needs_base_named(tmp_path: Path) -> None:
    stack_file = load_stack_file(write_stack(tmp_path, STACK.replace(
        "default = true\n", "").replace("protected = true", "protected = true\ndefault = true")),
        Registry())
    with pytest.raises(StackformError, match="default environment prod is protected"):
        base_of(stack_file, None)
    assert base_of(stack_file, "prod") == "prod"


def test_default_names(tmp_path: Path) -> None:
    assert default_name(tmp_path, {"CI": "true"}).startswith("ci-")
    assert len(default_name(tmp_path, {"CI": "true"})) == 9
    assert default_name(tmp_path, {"STACKFORM_DEVELOPER": "x"}).startswith("test-")


def test_the_throwaway_mark_survives_a_round_trip_and_is_checked() -> None:
    state = State(env="ci-1", lineage="l", stack="demo",
                  throwaway={"created_at": "2026-01-01T00:00:00+00:00", "base": "dev"})
    again = State.loads(state.dumps())
    assert again.throwaway == state.throwaway
    assert again.next().throwaway == state.throwaway  # every later write keeps it
    assert "throwaway" not in State(env="dev", lineage="l", stack="demo").to_json()
    doc = json.loads(state.dumps())
    doc["throwaway"] = ["not", "a", "table"]
    with pytest.raises(CorruptStateError, match="throwaway must be an object of strings"):
        State.from_json(doc)


def test_a_clean_up_selects_throwaway_environments_but_never_declared_ones() -> None:
    from datetime import UTC, datetime

    old = "2024-01-01T00:00:00+00:00"
    rows = [EnvRow(name="ci-1", declared=False, per_developer=False, base=None,
                   protected=False, has_state=True, updated_at=old, throwaway=True),
            EnvRow(name="staging", declared=True, per_developer=False, base="staging",
                   protected=False, has_state=True, updated_at=old)]
    assert stale_developer_envs(rows, datetime(2024, 5, 1, tzinfo=UTC)) == ["ci-1"]


def test_check_declarations_are_validated_where_written(tmp_path: Path) -> None:
    bad = '\n[tests.t]\nsql = "select 1"\nconnection = "files.a"\nmin_rows = 5\nmax_rows = 1\n'
    with pytest.raises(ConfigError) as caught:
        load_stack_file(_file(tmp_path, bad), Registry())
    text = "\n".join(d.format() for d in caught.value.diagnostics)
    assert "min_rows (5) is above max_rows (1)" in text, text
    assert f"stack.toml:{len(STACK.splitlines()) + 1}:1:" in text, text
    with pytest.raises(ConfigError) as caught:
        load_stack_file(_file(tmp_path, '\n[tests.t]\nconection = "files.a"\n'), Registry())
    assert "conection" in "\n".join(d.format() for d in caught.value.diagnostics)


def test_pipelines_run_after_those_they_depend_on(tmp_path: Path) -> None:
    stack = resolve(load_stack_file(_file(tmp_path), Registry()), "dev", Registry())
    assert pipelines_in_order(stack, ("second", "first")) == ["first", "second"]
    assert pipelines_in_order(stack, ()) == ["first", "second"]
    with pytest.raises(StackformError, match="no pipeline 'secnd'"):
        pipelines_in_order(stack, ("secnd",))


def test_step_outcomes_become_checks() -> None:
    landed = StepOutcome("orders-to-warehouse", "success", 1.5, 10, 10,
                         details={"records_by_stream": {"orders": 10}})
    assert step_check("daily", landed) == CheckResult(
        "daily: orders-to-warehouse", "pipelines", "passed", 1.5,
        "10 records emitted, 10 rows landed (records by stream: orders 10; rows per stream "
        "not counted)")
    both = {"records_by_stream": {"orders": 10, "items": 5},
            "rows_by_stream": {"orders": 10, "items": 5}}
    assert step_check("daily", StepOutcome("s", "success", 1.0, 15, 15, details=both)) \
        .message == "15 records emitted, 15 rows landed (by stream, emitted/landed: " \
        "items 5/5, orders 10/10)"
    # Equal in total, wrong per stream: the stream is named.
    swapped = {"records_by_stream": {"orders": 10, "items": 5},
               "rows_by_stream": {"orders": 11, "items": 4}}
    check = step_check("daily", StepOutcome("s", "success", 1.0, 15, 15, details=swapped))
    assert check.outcome == "failed"
    assert check.message.startswith("stream items: 5 records emitted but 4 rows landed; "
                                    "stream orders: 10 records emitted but 11 rows landed")
    lost_table = {"records_by_stream": {"orders": 10, "items": 0},
                  "rows_by_stream": {"orders": None, "items": None}}
    check = step_check("daily", StepOutcome("s", "success", 1.0, 10, 10, details=lost_table))
    assert check.outcome == "failed"
    assert "stream orders: 10 records emitted, but no table" in check.message
    assert "stream items" not in check.message.split(" (")[0], "0 records land nowhere"
    lost = StepOutcome("orders-to-warehouse", "success", 1.0, 10, 9)
    assert step_check("daily", lost).outcome == "failed"
    assert "10 records emitted but 9 rows landed" in step_check("daily", lost).message
    unknown = StepOutcome("orders-to-warehouse", "success", 1.0, 10, None)
    assert "rows landed could not be counted" in step_check("daily", unknown).message
    dbt = StepOutcome("dbt:build", "failed", 3.0, error="dbt:build: 1 failed: test t: Got 3",
                      details={"exit_code": 1})
    check = step_check("daily", dbt)
    assert (check.group, check.outcome, check.message) == (
        "dbt", "failed", "dbt:build: 1 failed: test t: Got 3")
    record = RunRecord("r", "daily", "ci-1", "t", status="failed", error="not applied")
    assert [c.outcome for c in run_checks(record)] == ["failed"]


def test_reports_name_every_check() -> None:
    report = TrialReport(env="ci-1", base="dev", destroyed=True,
                         phases={"apply": 2.0, "runs": 3.0, "dbt": 1.0, "destroy": 0.5})
    report.add(CheckResult("apply", "environment", "passed", 2.0))
    report.add(CheckResult("daily: dbt:build", "dbt", "failed", 1.0,
                           "dbt:build: 1 failed: test assert_x: Got 3 results | a"))
    report.add(CheckResult("later: run", "pipelines", "skipped", 0.0, "not run"))
    assert not report.passed
    assert summary_line(report) == ("stackform test failed in ci-1: 1 failed, 1 passed, "
                                    "1 skipped; environment destroyed")
    suite = ET.fromstring(junit_xml(report)).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    assert suite.get("time") == "5.500"  # dbt is part of the runs: not counted twice
    failure = suite.find("testcase[@name='daily: dbt:build']/failure")
    assert failure is not None and "test assert_x" in (failure.get("message") or "")
    text = markdown(report)
    assert "### stackform test: ❌ failed" in text
    assert "| daily: dbt:build | ❌ failed | 1.0s | dbt:build: 1 failed: test assert_x: " \
           "Got 3 results \\| a |" in text


TAP = r"""
import json, sys, time
out = sys.stdout
out.write(json.dumps({"type": "SCHEMA", "stream": "a", "schema": {}, "key_properties": []}) + "\n")
for i in range(int(sys.argv[1])):
    for stream in ("a", "b"):
        out.write(json.dumps({"type": "RECORD", "stream": stream, "record": {"i": i}}) + "\n")
    out.write(json.dumps({"type": "STATE", "value": {"i": i}}) + "\n")
    out.flush()
time.sleep(30 if sys.argv[2] == "slow" else 0)
"""


@pytest.mark.parametrize(("produced", "end"), [(1000, "slow"), (3, "fast")])
def test_the_sample_relay_passes_n_records_a_stream_then_stops_the_tap(
        tmp_path: Path, produced: int, end: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "providers"))
    from stackform_singer.sample import Sampler

    lines: list[str] = []

    class Run:
        sample = 5

        def log(self, line: str) -> None:
            lines.append(line)

    sampler = Sampler(Run(), 5, 2)  # type: ignore[arg-type]
    tap = subprocess.Popen([sys.executable, "-c", TAP, str(produced), end],
                           stdout=sampler.tap_stdout)
    target = subprocess.Popen(["cat"], stdin=sampler.target_stdin, stdout=subprocess.PIPE,
                              text=True)
    sampler.close_child_ends()
    sampler.start(tap)
    out, _ = target.communicate(timeout=20)
    tap.wait(timeout=20)
    sampler.join()
    messages = [json.loads(line) for line in out.splitlines()]
    records = [m for m in messages if m["type"] == "RECORD"]
    want = min(produced, 5)
    assert sampler.records == {"a": want, "b": want}
    assert len(records) == 2 * want
    assert messages[0]["type"] == "SCHEMA"
    assert sampler.stopped_tap == (produced > 5)
    if produced > 5:
        # Stopped while it would have gone on for 30 s; no state past a dropped record.
        assert tap.returncode != 0
        assert all(m["value"]["i"] < 5 for m in messages if m["type"] == "STATE")
        assert "stopping the tap" in lines[-1]


def test_a_kept_throwaway_environment_resolves_by_name_from_its_recorded_base(
        tmp_path: Path) -> None:
    from stackform.session import open_session
    from stackform.state.local import LocalBackend

    path = _file(tmp_path)
    with pytest.raises(StackformError, match="unknown environment 'test-kept'"):
        open_session(tmp_path, path, "test-kept")
    backend = LocalBackend(tmp_path / ".stackform" / "state" / "demo", stack="demo")
    new = State.new("test-kept", "demo")
    backend.write("test-kept", State(env="test-kept", lineage=new.lineage, serial=0,
                                     stack="demo", throwaway={"created_at": "x", "base": "dev"}),
                  None)
    session = open_session(tmp_path, path, "test-kept")
    assert session.stack.env == "test-kept"
    assert session.stack.resources["files.a"].attributes["path"] == "dev-place/test_kept/a.txt"
    # An environment with state but no throwaway mark is no such shortcut.
    backend.write("orphan", State.new("orphan", "demo"), None)
    with pytest.raises(StackformError, match="unknown environment 'orphan'"):
        open_session(tmp_path, path, "orphan")
