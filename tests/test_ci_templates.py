"""The CI templates in examples/ci/ parse, and every ``stackform`` command line they run uses
a command and options the CLI really has (checked against the typer app itself)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_commands import check_call, stackform_calls

CI = Path(__file__).resolve().parent.parent / "examples" / "ci"
TEMPLATES = ["github-actions.yml", "gitlab-ci.yml"]

@pytest.fixture(params=TEMPLATES)
def template(request: pytest.FixtureRequest) -> tuple[str, Any, str]:
    text = (CI / request.param).read_text()
    return request.param, yaml.safe_load(text), text


def test_every_stackform_call_exists(template: tuple[str, Any, str]) -> None:
    name, document, _text = template
    calls = stackform_calls(document)
    commands = [check_call(args) for args in calls]
    assert {"validate", "lock", "plan", "apply"} <= set(commands), (name, commands)
    plans = [c for c in calls if c[0] == "plan"]
    for args in plans:
        for option in ("--env", "-o", "--out-markdown", "--detailed-exitcode"):
            assert option in args, (name, args)
    assert ["lock", "--check"] in calls
    tests = [c for c in calls if c[0] == "test"]
    assert len(tests) == 1, (name, calls)
    for option in ("--env", "--sample", "--junit", "--markdown"):
        assert option in tests[0], (name, tests[0])
    assert ["env", "destroy", "--older-than", "1d", "--yes"] in calls, (name, calls)
    applies = [c for c in calls if c[0] == "apply"]
    assert applies == [["apply", "--env", "prod", "plan-prod.sfplan"]], applies


def test_templates_treat_exit_2_as_changes_and_keep_artifacts(
        template: tuple[str, Any, str]) -> None:
    name, _document, text = template
    assert '-ne 2' in text  # --detailed-exitcode: 2 means changes, not a failure
    assert "stackform.lock" in text  # lock --check only when a lock exists
    if name == "github-actions.yml":
        assert "gh pr comment" in text and "--body-file plan-" in text
        assert "actions/upload-artifact" in text
        assert "--body-file stackform-test.md" in text
    else:
        assert "/merge_requests/$CI_MERGE_REQUEST_IID/notes" in text
        assert "artifacts:" in text and "plan-$ENV.sfplan" in text
        assert "junit: stackform-test.xml" in text


def test_checker_rejects_unknown_commands_and_options() -> None:
    assert check_call(["plan", "--env", "prod", "--format", "markdown"]) == "plan"
    assert check_call(["env", "list"]) == "env list"
    with pytest.raises(AssertionError, match="no command 'plna'"):
        check_call(["plna"])
    with pytest.raises(AssertionError, match="no option --out-md"):
        check_call(["plan", "--out-md", "x.md"])
    with pytest.raises(AssertionError, match="needs a command"):
        check_call(["env"])
    doc = {"script": ["if [ -f x ]; then stackform lock --check; fi",
                      "uv tool install stackform", "echo done && stackform validate"]}
    assert stackform_calls(doc) == [["lock", "--check"], ["validate"]]
