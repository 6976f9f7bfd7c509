"""Pools on a real Airflow 3 (installed by the stack's own pip_url into the session's plugin
cache): the applied DAG loads in Airflow's DagBag with its task in the stack's pool, and the
`airflow pools set` command the plan prints creates that pool with the declared slots."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import textwrap
from pathlib import Path

import pytest
from airflow_support import AIRFLOW_PIP_URL, files_stack, write

from stackform.plugins.installs import find_venv
from stackform.plugins.spec import InstallSpec
from tests.e2e.e2e_support import stackform_in

pytestmark = pytest.mark.slow

POOL = "demo-dev-src"
LOAD = textwrap.dedent('''
    import json, sys
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    task = bag.dags["stackform_demo_dev_daily"].get_task("stackform_run")
    print(json.dumps({"errors": list(bag.import_errors), "pool": task.pool,
                      "slots": task.pool_slots}))
    ''')


def test_the_applied_dag_runs_in_the_pool_the_plan_names(tmp_path: Path) -> None:
    cache = Path(os.environ["STACKFORM_CACHE_DIR"])
    stack = tmp_path / "stack"
    write(stack, files_stack(f'''
        dags_path = "dags"
        pip_url = "{AIRFLOW_PIP_URL}"
        pools.src = {{ slots = 1, pipelines = ["daily"] }}
        '''))
    sf = stackform_in(stack, tmp_path / "home", cache)
    plan = sf.ok("plan", "--env", "dev")
    set_line = (f"airflow pools set {POOL} 1 'stackform pool src of stack demo, environment "
                "dev'")
    assert set_line in plan.stdout + plan.stderr, plan
    sf.apply("--env", "dev")
    venv = find_venv(InstallSpec((AIRFLOW_PIP_URL,)), cache)
    assert venv is not None
    env = {**sf.env, "AIRFLOW_HOME": str(tmp_path / "airflow-home"),
           "AIRFLOW__CORE__DAGS_FOLDER": str(stack / "dags"),
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    loaded = subprocess.run([str(venv.python), "-c", LOAD, str(stack / "dags")], env=env,
                            capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == {
        "errors": [], "pool": POOL, "slots": 1}

    def airflow(*words: str) -> str:
        done = subprocess.run([str(venv.bin_dir / "airflow"), *words], env=env, cwd=stack,
                              capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout
    airflow("db", "migrate")
    airflow(*shlex.split(set_line)[1:])
    pools = json.loads(airflow("pools", "get", POOL, "-o", "json").strip().splitlines()[-1])
    assert pools[0]["pool"] == POOL and int(pools[0]["slots"]) == 1, pools
