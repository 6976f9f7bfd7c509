"""``validate``, ``plan``, ``apply`` and ``destroy``, end to end.

Runs the installed ``stackform`` script in a subprocess, with the real local state backend,
the ``files`` provider and the test-only ``sleepers`` provider."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.cli_helpers import (
    FILES_STACK,
    Runner,
    actions,
    assert_clean_error,
    plan_json,
    read_state,
    sleepers_stack,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow


# -- validate ----------------------------------------------------------------------------------


def test_validate_success_message(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("validate")
    assert result.code == 0, result
    assert "The stack is valid: 3 resources" in result.stderr
    assert len(result.stderr.splitlines()) == 1, result  # no warning
    assert result.stdout == ""


def test_validate_reports_every_problem_with_location_and_key_path(
        sf: Runner, project: Path) -> None:
    write_stack(project, """
        [stack]
        name = "bad"

        [files.a]
        path = "a.txt"
        contnet = "hi"

        [files.b]
        path = 5
        content = "x"

        [files.c]
        path = "c.txt"
        content = "${var.nope}"
        depends_on = ["files.zzz"]
    """)
    result = sf("validate")
    assert_clean_error(result)
    err = result.stderr
    assert re.search(r"stack\.toml:6:1: error: files\.a\.contnet: unknown key", err), result
    assert "did you mean 'content'?" in err
    assert re.search(r"stack\.toml:9:8: error: files\.b\.path: expected a string", err), result
    assert re.search(r"stack\.toml:14:\d+: error: files\.c\.content: unknown var 'nope'", err)
    assert re.search(r"stack\.toml:15:\d+: error: files\.c\.depends_on\[0\]: .*files\.zzz", err)
    assert "4 problems" in err
    assert result.stdout == ""


def test_validate_bad_toml(sf: Runner, project: Path) -> None:
    (project / "stack.toml").write_text('[stack]\nname = "x"\n[files.a]\npath = "a\n')
    result = sf("validate")
    assert_clean_error(result)
    assert re.search(r"stack\.toml:4:\d+: error: invalid TOML", result.stderr), result


# -- plan --------------------------------------------------------------------------------------


def test_plan_text_and_detailed_exitcode(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    plain = sf("plan")
    assert plain.code == 0, plain
    assert "+ files.a" in plain.stdout
    assert "Plan: 3 to add, 0 to change, 0 to replace, 0 to destroy." in plain.stdout
    assert not (project / "out").exists(), "plan must change nothing"
    assert not state_path(project).exists()
    assert sf("plan", "--detailed-exitcode").code == 2
    assert sf("apply", "--auto-approve").code == 0
    none = sf("plan", "--detailed-exitcode")
    assert none.code == 0, none
    assert "No changes." in none.stdout


def test_plan_json_is_terraform_like(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('content = "c\\n"', 'content = "C\\n"')
                .replace('path = "out/b.txt"', 'path = "out/b2.txt"')
                + '\n[files.d]\npath = "out/d.txt"\ncontent = "d"\n')
    result = applied("plan", "--format", "json")
    assert result.code == 0, result
    doc = json.loads(result.stdout)
    assert doc["format_version"]
    assert doc["environment"] == "dev"
    assert actions(doc) == {
        "files.a": ["no-op"],
        "files.b": ["delete", "create"],
        "files.c": ["update"],
        "files.d": ["create"],
    }
    by_address = {c["address"]: c for c in doc["resource_changes"]}
    c = by_address["files.c"]["change"]
    assert c["before"]["content"] == "c\n"
    assert c["after"]["content"] == "C\n"
    assert by_address["files.d"]["change"]["before"] is None
    assert by_address["files.b"]["change"]["replace_paths"] == ["path"]
    assert doc["summary"] == {"add": 1, "change": 1, "replace": 1, "destroy": 0}
    assert doc["has_changes"] is True

    write_stack(project, FILES_STACK.replace("[files.c]", "[files.c_gone]"))
    gone = plan_json(applied("plan", "--format", "json"))
    assert actions(gone)["files.c"] == ["delete"]


def test_saved_plan_is_applied_exactly(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('"${var.greeting} a\\n"', '"bye a\\n"'))
    serial = read_state(project)["serial"]
    saved = applied("plan", "-o", "change.sfplan")
    assert saved.code == 0, saved
    assert (project / "change.sfplan").stat().st_mode & 0o077 == 0
    result = applied("apply", "change.sfplan")  # no --auto-approve needed: it was reviewed
    assert result.code == 0, result
    assert (project / "out" / "a.txt").read_text() == "bye a\n"
    assert read_state(project)["serial"] == serial + 1
    assert applied("plan", "--detailed-exitcode").code == 0


def test_saved_plan_is_refused_after_the_stack_changed(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hi"'))
    assert applied("plan", "-o", "p.sfplan").code == 0
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hey"'))
    before = state_path(project).read_bytes()
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "changed since the plan was made" in result.stderr
    assert "plan" in result.stderr  # the hint says to plan again
    assert state_path(project).read_bytes() == before
    assert (project / "out" / "a.txt").read_text() == "hello a\n"


def test_saved_plan_is_refused_after_another_apply(applied: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK.replace('greeting = "hello"', 'greeting = "hi"'))
    assert applied("plan", "-o", "p.sfplan").code == 0
    assert applied("apply", "--auto-approve").code == 0
    serial = read_state(project)["serial"]
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert f"serial {serial} now" in result.stderr, result
    assert read_state(project)["serial"] == serial


def test_saved_plan_for_another_environment_is_refused(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK + '\n[environments.dev]\n[environments.prod]\n')
    assert sf("plan", "--env", "prod", "-o", "prod.sfplan").code == 0
    result = sf("apply", "prod.sfplan")
    assert_clean_error(result)
    assert "prod" in result.stderr
    assert not (project / "out").exists()
    assert sf("apply", "--env", "prod", "prod.sfplan").code == 0


def test_plan_target_limits_to_the_resource_and_its_dependencies(
        sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    doc = plan_json(sf("plan", "--format", "json", "--target", "files.b"))
    changing = {a for a, acts in actions(doc).items() if acts != ["no-op"]}
    assert changing == {"files.a", "files.b"}
    result = sf("apply", "--auto-approve", "--target", "files.b")
    assert result.code == 0, result
    assert not (project / "out" / "c.txt").exists()
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b"]
    unknown = sf("plan", "--target", "files.nope")
    assert_clean_error(unknown)
    assert "files.nope" in unknown.stderr


def test_plan_replace_forces_delete_create(applied: Runner) -> None:
    doc = plan_json(applied("plan", "--format", "json", "--replace", "files.c"))
    acts = actions(doc)
    assert acts["files.c"] == ["delete", "create"]
    assert acts["files.a"] == ["no-op"]
    result = applied("apply", "--auto-approve", "--replace", "files.c")
    assert result.code == 0, result
    assert "replace" in result.stdout


def test_refresh_false_skips_reading_real_resources(applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").unlink()
    refreshed = plan_json(applied("plan", "--format", "json"))
    assert actions(refreshed)["files.c"] == ["create"]
    not_refreshed = applied("plan", "--refresh=false", "--detailed-exitcode")
    assert not_refreshed.code == 0, not_refreshed
    assert "No changes." in not_refreshed.stdout


def test_refresh_only_records_outside_changes_and_changes_nothing(
        applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").write_text("edited by hand\n")
    plan = applied("plan", "--refresh-only")
    assert plan.code == 0, plan
    assert "Changed outside stackform" in plan.stdout
    assert "files.c" in plan.stdout
    serial = read_state(project)["serial"]
    result = applied("apply", "--refresh-only", "--auto-approve")
    assert result.code == 0, result
    assert (project / "out" / "c.txt").read_text() == "edited by hand\n"
    state = read_state(project)
    assert state["serial"] == serial + 1
    assert state["resources"]["files.c"]["attributes"]["content"] == "edited by hand\n"
    # A normal plan now puts the declared content back.
    assert actions(plan_json(applied("plan", "--format", "json")))["files.c"] == ["update"]


def test_plan_rejects_unknown_format(applied: Runner) -> None:
    result = applied("plan", "--format", "yaml")
    assert result.code != 0
    assert "Traceback" not in result.output


# -- apply and destroy -------------------------------------------------------------------------


def test_apply_needs_auto_approve_without_a_terminal(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("apply")
    assert_clean_error(result)
    assert "--auto-approve" in result.stderr
    assert "no terminal" in result.stderr
    assert not (project / "out").exists()
    assert not state_path(project).exists()


def test_apply_summary_and_second_plan_is_empty(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    assert re.search(r"files\.a\s+create\s+done", result.stdout), result
    state = read_state(project)
    assert (f"Apply complete: 3 resources changed in dev (state serial {state['serial']})."
            in result.stderr), result
    assert (project / "out" / "a.txt").read_text() == "hello a\n"
    assert sorted(state["resources"]) == ["files.a", "files.b", "files.c"]
    assert state["resources"]["files.b"]["dependencies"] == ["files.a"]
    again = sf("plan", "--detailed-exitcode")
    assert again.code == 0, again
    noop = sf("apply", "--auto-approve")
    assert noop.code == 0
    assert read_state(project)["serial"] == state["serial"], "a no-op apply writes nothing"


def test_apply_failure_skips_dependents_only(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["ok"], extra="""
        [sleepers.bad]
        value = "x"
        fail = true
        marker_dir = "markers"

        [sleepers.after_bad]
        value = "y"
        marker_dir = "markers"
        depends_on = ["sleepers.bad"]
    """))
    result = sf("apply", "--auto-approve")
    assert_clean_error(result)
    assert re.search(r"sleepers\.after_bad\s+create\s+skipped", result.stdout), result
    assert re.search(r"sleepers\.bad\s+create\s+failed", result.stdout), result
    assert sorted(read_state(project)["resources"]) == ["sleepers.ok"]


def test_destroy_removes_everything(applied: Runner, project: Path) -> None:
    refused = applied("destroy")
    assert_clean_error(refused)
    assert "--auto-approve" in refused.stderr
    result = applied("destroy", "--auto-approve")
    assert result.code == 0, result
    assert "Destroy complete: 3 resources changed" in result.stderr
    assert not any((project / "out").glob("*.txt"))
    assert read_state(project)["resources"] == {}
    assert applied("destroy", "--auto-approve").code == 0
