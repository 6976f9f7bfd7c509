"""The provider through the real ``stackform`` command, still without Airflow (no pip_url): the
plan shows DAG files per id, apply deploys them, destroy removes them, ``validate --deep``
reports what it could check; and examples/airflow validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from airflow_support import files_stack, write

from tests.cli_helpers import Runner, make_env

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "airflow"


@pytest.fixture
def sf(tmp_path: Path) -> Runner:
    stack = tmp_path / "stack"
    stack.mkdir()
    return Runner(stack, make_env(tmp_path / "home"))


def test_plan_apply_reschedule_and_destroy(sf: Runner) -> None:
    write(sf.cwd, files_stack())
    dag = sf.cwd / "dags" / "stackform_demo_dev_daily.py"
    plan = sf("plan")
    assert plan.code == 0, plan
    # A long table is folded, one entry per line, never cut.
    assert re.search(r"\+ dags +=\s\{", plan.stdout), plan.stdout
    assert '"stackform_demo_dev_daily": {' in plan.stdout
    assert '"pipeline": "daily",' in plan.stdout
    assert ("deploys DAG stackform_demo_dev_daily (pipeline daily, schedule 0 6 * * *): "
            f"stackform worker run --state {sf.cwd / '.stackform/state'} --stack demo --env dev "
            "--bundle ") in plan.stdout
    assert sf("apply", "--auto-approve").code == 0
    assert dag.is_file()

    write(sf.cwd, files_stack(schedule="@hourly"))
    plan = sf("plan")
    assert ('~ dags.stackform_demo_dev_daily.schedule = "0 6 * * *" -> "@hourly"'
            in plan.stdout), plan
    assert "rewrites DAG stackform_demo_dev_daily" in plan.stdout
    assert sf("apply", "--auto-approve").code == 0
    assert "schedule='@hourly'" in dag.read_text()

    destroyed = sf("destroy", "--auto-approve")
    assert destroyed.code == 0, destroyed
    assert not dag.exists()


def test_validate_deep_without_airflow_warns_that_it_only_checked_syntax(sf: Runner) -> None:
    write(sf.cwd, files_stack())
    result = sf("validate", "--deep")
    assert result.code == 0, result
    assert "Deep checks passed: orchestrators.airflow (dev)." in result.stderr
    assert "warning: orchestrators.airflow.pip_url: the DAGs were only syntax-checked" in (
        result.stderr)
    assert not (sf.cwd / "dags").exists()


def test_validate_deep_on_a_stack_without_deep_checks(sf: Runner) -> None:
    write(sf.cwd, '[stack]\nname = "plain"\n\n[files.a]\npath = "a.txt"\ncontent = "a"\n')
    result = sf("validate", "--deep")
    assert result.code == 0, result
    assert "No resource has a deep check." in result.stderr


def test_the_airflow_example_validates(sf: Runner) -> None:
    result = sf("-C", str(EXAMPLE), "validate")
    assert result.code == 0, result
    assert "The stack is valid: 4 resources, environments dev, prod." in result.stderr
    plan = sf("-C", str(EXAMPLE), "plan", "--env", "prod", "--refresh=false")
    assert plan.code == 0, plan
    assert ("deploys DAG stackform_airflow-demo_prod_daily (pipeline daily, schedule 0 6 * * *)"
            ": cd /opt/stacks/airflow-demo && stackform --file stack.toml run --env prod daily"
            in plan.stdout), plan
    assert not (EXAMPLE / ".stackform").exists()
