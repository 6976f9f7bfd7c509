"""Utilities and the process environment, through the real ``stackform`` with a real tool:
yamllint 1.38.0 from the package index, linting a folder of YAML as a pipeline step.

yamllint reads ``YAMLLINT_CONFIG_FILE``: the block's ``config = { config_file = ... }`` reaches
it as ``YAMLLINT_CONFIG_FILE`` (``<NAME>_<KEY>``), and ``XDG_CONFIG_HOME`` from the stack's
``[env]`` and the environment's ``env`` decides which user configuration it reads otherwise.
A secret in ``config`` reaches the process and no file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from e2e_support import Stackform

pytestmark = pytest.mark.slow

SECRET = "s3cr3t-utility-token-8c1f"
RELAXED = ("extends: default\nrules:\n  document-start: disable\n"
           "  trailing-spaces: {level: warning}\n")
STRICT = "extends: default\nrules:\n  document-start: disable\n"


def stack(directory: Path, utility: str, extra: str = "") -> Path:
    (directory / "models").mkdir(parents=True, exist_ok=True)
    # Valid YAML with trailing spaces: the default rules refuse it, relaxed ones only warn.
    (directory / "models" / "schema.yml").write_text("models:\n  - name: orders   \n")
    for name, text in (("strict", STRICT), ("relaxed", RELAXED)):
        (directory / "xdg" / name / "yamllint").mkdir(parents=True, exist_ok=True)
        (directory / "xdg" / name / "yamllint" / "config").write_text(text)
    (directory / "lint-strict.yaml").write_text(STRICT)
    (directory / "stack.toml").write_text(f"""\
[stack]
name = "linted"

[env]
XDG_CONFIG_HOME = "${{stack.dir}}/xdg/relaxed"

[environments.dev]
default = true

[environments.ci]
env = {{ XDG_CONFIG_HOME = "${{stack.dir}}/xdg/strict" }}

[utilities.yamllint]
pip_url = "yamllint==1.38.0"
commands = {{ lint = "-f parsable models", strict = {{ args = "--strict -f parsable models" }} }}
{utility}

[pipelines.lint]
steps = ["yamllint:lint"]
{extra}
""")
    return directory


def test_a_utility_step_runs_with_the_stack_and_environment_env(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "env", "", '[pipelines.strict]\nsteps = ["yamllint:strict"]\n')
    sf = stackform_for(d)
    applied = sf.apply()
    assert re.search(r"utilities.yamllint +create +done", applied.stdout), applied
    # dev: the stack's [env] points yamllint at the relaxed rules: warnings only.
    sf.ok("run", "lint")
    record = sf.last_run("lint")
    assert record["status"] == "success", record
    log = Path(record["log"]).read_text()
    assert "[yamllint:lint] models/schema.yml:2:17: [warning] trailing spaces" in log, log
    # --strict turns the warning into a failure: the step fails with the tool's words.
    ran = sf("run", "strict")
    assert ran.code == 1, ran
    failed = sf.last_run("strict")
    assert failed["status"] == "failed" and "yamllint:strict exited 2" in failed["error"]
    assert "trailing spaces" in failed["error"], failed["error"]
    # ci: the environment's env wins over the stack's: the default rules make it an error.
    sf.apply("--env", "ci")
    ran = sf("run", "lint", "--env", "ci")
    assert ran.code == 1, ran
    assert "[error] trailing spaces (trailing-spaces)" in ran.stderr, ran


def test_config_reaches_the_tool_as_environment_variables_and_no_file(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "cfg", '[utilities.yamllint.config]\n'
              'config_file = "lint-strict.yaml"\ntoken = "${secret.lint_token}"\n')
    sf = stackform_for(d, {"STACKFORM_SECRET_LINT_TOKEN": SECRET})
    sf.apply()
    assert sf("run", "lint").code == 1  # YAMLLINT_CONFIG_FILE: the strict rules
    assert "[error] trailing spaces" in sf.last_run("lint")["error"]
    for root, _dirs, files in os.walk(d):
        for name in files:
            path = Path(root) / name
            assert SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in sf.ok("plan").stdout
    # By hand, through `stackform invoke`: the same config and env, the tool's own arguments,
    # its exit code passed through, the secret masked in what it prints.
    invoked = sf("invoke", "yamllint", "--", "-f", "parsable", "models")
    assert invoked.code == 1, invoked
    assert "models/schema.yml:2:17: [error] trailing spaces" in invoked.stdout, invoked
    shown = sf("invoke", "yamllint", "--", "-c", "/dev/null", "--print-config", "x")
    assert SECRET not in shown.stdout + shown.stderr


def test_unknown_command_is_located_and_nothing_runs(
        tmp_path: Path, stackform_for: Callable[..., Stackform]) -> None:
    d = stack(tmp_path / "bad", "", '[pipelines.typo]\nsteps = ["yamllint:lnt", "yamllint"]\n')
    sf = stackform_for(d)
    result = sf("validate")
    assert result.code == 1, result
    line = (d / "stack.toml").read_text().splitlines().index(
        'steps = ["yamllint:lnt", "yamllint"]') + 1
    assert (f"stack.toml:{line}:10: error: pipelines.typo.steps[0]: step 'yamllint:lnt': "
            "unknown command 'lnt'") in result.stderr, result
    assert "did you mean 'lint'?" in result.stderr
    assert ("pipelines.typo.steps[1]: step 'yamllint': a utility step names one of its "
            "commands: NAME:COMMAND") in result.stderr, result
    assert not (d / ".stackform").exists() or not list((d / ".stackform").rglob("*.json"))
