"""Airflow pools without Airflow: the pool a pooled pipeline's task runs in, the command the plan
names, and the located errors of a bad ``pools`` table. Real Airflow: test_airflow_real.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow_support import files_stack, resolved, write

from stackform.errors import StackformError
from stackform.resource import ResourceState
from stackform_airflow import AirflowProvider

POOLED = '''
    dags_path = "dags"
    pools.mysql-source = { slots = 2, pipelines = ["daily", "adhoc"] }
    '''


def test_a_pooled_task_takes_one_slot_of_the_stack_and_environment_pool(tmp_path: Path) -> None:
    write(tmp_path, files_stack(POOLED))
    block = resolved(tmp_path, "prod").resources["orchestrators.airflow"]
    entry = block.attributes["dags"]["stackform_demo_prod_daily"]
    assert entry["pool"] == "demo-prod-mysql-source"
    # Recorded in state: destroy names the pool to delete.
    assert block.attributes["airflow_pools"] == {"demo-prod-mysql-source": {
        "slots": 2, "description": "stackform pool mysql-source of stack demo, environment prod"}}
    dev = resolved(tmp_path, "dev").resources["orchestrators.airflow"].attributes
    assert list(dev["airflow_pools"]) == ["demo-dev-mysql-source"]


def test_the_dag_file_sets_the_pool_and_names_it(tmp_path: Path) -> None:
    write(tmp_path, files_stack(POOLED))
    stack = resolved(tmp_path, "dev")
    from stackform_airflow.dags import render_entry
    config = AirflowProvider().config_of(stack.resources["orchestrators.airflow"])
    entry = stack.resources["orchestrators.airflow"].attributes["dags"]["stackform_demo_dev_daily"]
    text = render_entry("demo", "dev", config, "stackform_demo_dev_daily", entry).decode()
    assert "pool='demo-dev-mysql-source'," in text and "pool_slots=1," in text
    assert "# Needs the Airflow pool demo-dev-mysql-source" in text
    compile(text, "dag.py", "exec")


def test_the_plan_names_the_command_that_creates_and_deletes_the_pool(tmp_path: Path) -> None:
    write(tmp_path, files_stack(POOLED))
    desired = resolved(tmp_path, "dev").resources["orchestrators.airflow"]
    ctx = None
    notes = AirflowProvider().plan_notes(ctx, None, desired)  # type: ignore[arg-type]
    assert ("needs Airflow pool demo-dev-mysql-source with 2 slot(s): run `airflow pools set "
            "demo-dev-mysql-source 2 'stackform pool mysql-source of stack demo, environment "
            "dev'`") in notes
    prior = ResourceState(address=desired.address, kind=desired.kind,
                          attributes=dict(desired.attributes))
    gone = AirflowProvider().plan_notes(ctx, prior, None)  # type: ignore[arg-type]
    assert ("no longer uses Airflow pool demo-dev-mysql-source: run `airflow pools delete "
            "demo-dev-mysql-source`") in gone


def test_without_pools_the_dag_is_unchanged(tmp_path: Path) -> None:
    write(tmp_path, files_stack())
    block = resolved(tmp_path, "dev").resources["orchestrators.airflow"]
    assert "airflow_pools" not in block.attributes  # nothing new planned or recorded
    assert "pool" not in block.attributes["dags"]["stackform_demo_dev_daily"]


@pytest.mark.parametrize(("pools", "message"), [
    ('pools.a = { slots = 0, pipelines = ["daily"] }', "pools.a.slots"),
    ('pools.a = { slots = 1, pipelines = ["daily"] }\n    pools.b = { slots = 3, '
     'pipelines = ["daily"] }', "pipeline daily is in pools a and b"),
    ('pools."my pool" = { slots = 1, pipelines = ["daily"] }', "is not a pool name"),
])
def test_a_bad_pools_table_is_a_located_error(tmp_path: Path, pools: str, message: str) -> None:
    write(tmp_path, files_stack(f'dags_path = "dags"\n    {pools}'))
    with pytest.raises(StackformError) as err:
        resolved(tmp_path)
    text = str(err.value)
    assert "stack.toml:" in text and message in text, text


def test_a_pool_naming_an_unknown_pipeline_is_refused(tmp_path: Path) -> None:
    write(tmp_path, files_stack('dags_path = "dags"\n    pools.a = { slots = 1, '
                                'pipelines = ["dialy"] }'))
    with pytest.raises(StackformError) as err:
        resolved(tmp_path)
    text = str(err.value)
    assert "pools.a.pipelines names dialy, which is not a pipeline" in text, text
    assert "orchestrators.airflow" in text
