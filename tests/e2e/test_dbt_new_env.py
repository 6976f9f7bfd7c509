"""A new environment of a dbt project reuses another environment's parse only when it is
provably the same, with real dbt-duckdb (issue 20, item 5).

The quickstart's project reads nothing of the target, so a second environment's apply runs no
dbt process: its profile is checked by dbt's own adapter, and the compiled manifest it gets
(moved from dev's to its own names) is exactly what ``dbt compile`` writes for it. A profile
the adapter refuses fails the apply as ``dbt parse`` does; a model reading ``target.name``
makes the next environment parse for itself.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from e2e_support import copy_quickstart, write_orders

pytestmark = pytest.mark.slow

ENVS = """
[environments.staging]

[environments.broken]

[environments.broken.override.transformers.dbt.target]
disable_transactions = "maybe"

[environments.qa]
"""
REUSED = "its parse reused with its compiled SQL moved to this target's names"


def dbt_outputs(stack: Path, env: str) -> dict[str, Any]:
    state = json.loads((stack / ".stackform" / "state" / "quickstart" / f"{env}.json").read_text())
    outputs: dict[str, Any] = state["resources"]["transformers.dbt"]["outputs"]
    return outputs


def env_folder(stack: Path, env: str) -> Path:
    return stack / ".stackform" / "envs" / "quickstart" / env / "transformers" / "dbt"


def dbt_cli(stack: Path, env: str, *args: str) -> subprocess.CompletedProcess[str]:
    """dbt itself, run by hand with the environment's own profile."""
    outputs = dbt_outputs(stack, "dev")  # the venv is shared; the profile is the env's own
    folder = env_folder(stack, env)
    return subprocess.run(
        [str(Path(outputs["venv"]) / "bin" / "dbt"), *args,
         "--profiles-dir", str(folder / "profiles"), "--project-dir", str(stack / "transform")],
        cwd=stack, capture_output=True, text=True, timeout=600, check=False)


def relations(manifest: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {uid: (n.get("database"), n.get("schema"), n.get("relation_name"),
                  n.get("compiled_code"))
            for section in ("nodes", "sources") for uid, n in manifest[section].items()}


def test_a_new_environment_reuses_a_provably_equal_parse(tmp_path: Path, stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    with (stack / "stack.toml").open("a") as f:
        f.write(ENVS)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 21), 0)
    sf = stackform_for(stack)
    dev = sf.ok("--debug", "apply", "--auto-approve", timeout=900)
    assert "nodes in transform" in dev.stderr and REUSED not in dev.stderr, dev
    assert (env_folder(stack, "dev") / "logs" / "dbt.log").is_file()  # dbt itself ran

    staging = sf.ok("--debug", "apply", "--auto-approve", "--env", "staging", timeout=600)
    assert REUSED in staging.stderr, staging
    assert "environment dev's parse" in staging.stderr, staging
    assert not (env_folder(stack, "staging") / "logs").exists()  # no dbt process ran
    ours = json.loads(Path(dbt_outputs(stack, "staging")["target_path"], "manifest.json")
                      .read_text())
    truth = tmp_path / "staging-compiled"
    compiled = dbt_cli(stack, "staging", "compile", "--target-path", str(truth),
                       "--log-path", str(tmp_path / "logs"))
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    expected = relations(json.loads((truth / "manifest.json").read_text()))
    assert relations(ours) == expected
    assert {r[1] for r in expected.values()} >= {"analytics_staging"}
    # The same summary as dev's, and the environment works: its run builds with real dbt.
    assert dbt_outputs(stack, "staging")["manifest"] == dbt_outputs(stack, "dev")["manifest"]
    run = sf.ok("run", "--env", "staging", "daily")
    assert "20 records emitted, 20 rows landed" in run.stderr, run


def test_a_profile_dbt_refuses_fails_the_apply_like_a_parse(tmp_path: Path,
                                                            stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    with (stack / "stack.toml").open("a") as f:
        f.write(ENVS)
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 21), 0)
    sf = stackform_for(stack)
    sf.apply()
    failed = sf("apply", "--env", "broken", "--auto-approve", timeout=600)
    assert failed.code != 0, failed
    assert "the profile of environment broken is invalid for dbt" in failed.stderr, failed
    assert "'maybe' is not of type 'boolean' (at target.disable_transactions)" in failed.stderr, \
        failed
    state = json.loads((stack / ".stackform" / "state" / "quickstart" / "broken.json")
                       .read_text())
    assert "transformers.dbt" not in state["resources"]
    # dbt's own parse refuses the same profile.
    parsed = dbt_cli(stack, "broken", "parse", "--target-path", str(tmp_path / "t"),
                     "--log-path", str(tmp_path / "logs"))
    assert parsed.returncode != 0, parsed.stdout


def test_a_project_reading_the_target_parses_in_each_environment(tmp_path: Path,
                                                                 stackform_for) -> None:
    stack = copy_quickstart(tmp_path / "quickstart", dbt=True)
    with (stack / "stack.toml").open("a") as f:
        f.write(ENVS)
    (stack / "transform" / "models" / "env_name.sql").write_text(
        "select '{{ target.name }}' as env_name\n")
    write_orders(stack / "data" / "orders-01.jsonl", range(1, 21), 0)
    sf = stackform_for(stack)
    sf.apply()
    qa = sf.ok("--debug", "apply", "--auto-approve", "--env", "qa", timeout=600)
    assert "reused" not in qa.stderr, qa
    assert (env_folder(stack, "qa") / "logs" / "dbt.log").is_file()
    manifest = json.loads(Path(dbt_outputs(stack, "qa")["target_path"], "manifest.json")
                          .read_text())
    code = manifest["nodes"]["model.quickstart.env_name"]["compiled_code"]
    assert "'qa'" in code, code
