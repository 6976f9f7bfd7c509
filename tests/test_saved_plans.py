"""Saved plans, end to end: ``apply FILE`` carries out exactly the reviewed plan, and refuses a
plan file edited after it was written (or a world that moved since) without touching anything."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import FILES_STACK as STACK
from tests.cli_helpers import (
    Runner,
    assert_clean_error,
    read_state,
    state_path,
    write_stack,
)

pytestmark = pytest.mark.slow


# The reviewed change: files.a is updated, files.d is created; b and c are no-ops.
CHANGED = STACK.replace('greeting = "hello"', 'greeting = "hi"') + """
[files.d]
path = "out/d.txt"
content = "d\\n"
"""

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture
def applied(sf: Runner, project: Path) -> Runner:
    write_stack(project, STACK)
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    return sf


def snapshot(project: Path) -> dict[str, bytes]:
    """Every file of the project but the plan files: what a refused apply must not change."""
    return {str(p.relative_to(project)): p.read_bytes() for p in sorted(project.rglob("*"))
            if p.is_file() and p.suffix != ".sfplan" and not p.name.endswith(".lock")}


def change(doc: dict[str, Any], address: str) -> dict[str, Any]:
    return next(c for c in doc["plan"]["changes"] if c["address"] == address)


def no_op_to_delete(doc: dict[str, Any]) -> None:
    c = change(doc, "files.c")
    assert c["action"] == "no-op"
    c.update(action="delete", after=None, reason="no longer in the stack file",
             changes=[{"path": k, "before": v, "after": None, "force_new": False,
                       "sensitive": False} for k, v in sorted(c["before"].items())])


def create_attribute_changed(doc: dict[str, Any]) -> None:
    c = change(doc, "files.d")
    assert c["action"] == "create"
    c["after"]["content"] = "not what was reviewed\n"
    for a in c["changes"]:
        if a["path"] == "content":
            a["after"] = "not what was reviewed\n"


def change_removed(doc: dict[str, Any]) -> None:
    doc["plan"]["changes"] = [c for c in doc["plan"]["changes"] if c["address"] != "files.a"]


def resource_added(doc: dict[str, Any]) -> None:
    d = change(doc, "files.d")
    evil = json.loads(json.dumps(d).replace("files.d", "files.evil").replace("d.txt", "evil.txt"))
    doc["plan"]["changes"].append(evil)


@pytest.mark.parametrize(("edit", "message"), [
    (no_op_to_delete,
     "the saved plan says delete for files.c, the stack and state now give no-op"),
    (create_attribute_changed,
     'the saved plan says after.content = "not what was reviewed\\n" for files.d, the stack '
     'and state now give "d\\n"'),
    (change_removed,
     "the saved plan has no change for files.a, the stack and state now give update"),
    (resource_added,
     "the saved plan says create for files.evil, the stack and state now give no change for "
     "it"),
])
def test_a_plan_file_edited_after_review_is_refused_and_changes_nothing(
        applied: Runner, project: Path, edit: Edit, message: str) -> None:
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    plan_file = project / "p.sfplan"
    doc = json.loads(plan_file.read_text())
    edit(doc)
    plan_file.write_text(json.dumps(doc, indent=1))
    before = snapshot(project)

    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert message in result.stderr, result
    assert "the plan file was edited, or the world moved since the plan was made" \
        in result.stderr
    assert "hint: run `stackform plan` again and review the new plan" in result.stderr
    assert snapshot(project) == before
    assert not (project / "out" / "d.txt").exists()
    assert not (project / "out" / "evil.txt").exists()


def test_the_unedited_plan_file_still_applies(applied: Runner, project: Path) -> None:
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    serial = read_state(project)["serial"]
    result = applied("apply", "p.sfplan")
    assert result.code == 0, result
    assert (project / "out" / "a.txt").read_text() == "hi a\n"
    assert (project / "out" / "d.txt").read_text() == "d\n"
    assert read_state(project)["serial"] > serial
    assert applied("plan", "--detailed-exitcode").code == 0
    # The same file again is stale: the apply moved the serial on.
    again = applied("apply", "p.sfplan")
    assert_clean_error(again)
    assert "changed since the plan was made" in again.stderr


def test_drift_since_the_plan_is_refused(applied: Runner, project: Path) -> None:
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    (project / "out" / "c.txt").write_text("edited by hand\n")  # the world moved
    before = snapshot(project)
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "the saved plan says no-op for files.c, the stack and state now give update" \
        in result.stderr, result
    assert snapshot(project) == before


def test_edited_drift_is_refused(applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").write_text("edited by hand\n")
    assert applied("plan", "--refresh-only", "-o", "p.sfplan").code == 0
    plan_file = project / "p.sfplan"
    doc = json.loads(plan_file.read_text())
    [drift] = doc["plan"]["drift"]
    drift["after"]["content"] = "something else\n"
    plan_file.write_text(json.dumps(doc))
    state = state_path(project).read_bytes()
    result = applied("apply", "--refresh-only", "p.sfplan")
    assert_clean_error(result)
    assert 'the saved plan says after.content = "something else\\n" for files.c' \
        in result.stderr, result
    assert state_path(project).read_bytes() == state


@pytest.mark.parametrize("options", [
    ["--replace", "files.b"],
    ["--target", "files.b"],
    ["--destroy", "--target", "files.c"],
    ["--refresh=false"],
])
def test_plans_made_with_options_apply_with_those_options(
        applied: Runner, project: Path, options: list[str]) -> None:
    write_stack(project, CHANGED)
    shown = applied("plan", *options, "--format", "json")
    assert shown.code == 0, shown
    expected = {c["address"]: c["change"]["actions"]
                for c in json.loads(shown.stdout)["resource_changes"]}
    assert applied("plan", *options, "-o", "p.sfplan").code == 0
    before = snapshot(project)
    unstated = applied("apply", "p.sfplan")  # the command must state what was reviewed
    assert_clean_error(unstated)
    assert f"the saved plan was made with {' '.join(options)}" in unstated.stderr
    assert f"stackform apply {' '.join(options)} PLANFILE" in unstated.stderr
    assert snapshot(project) == before
    result = applied("apply", *options, "p.sfplan")
    assert result.code == 0, result
    for address, actions in expected.items():
        if actions != ["no-op"]:
            assert address in result.stdout
    if "--destroy" in options:
        assert not (project / "out" / "c.txt").exists()
        assert (project / "out" / "a.txt").read_text() == "hello a\n"


def test_refresh_only_plan_applies(applied: Runner, project: Path) -> None:
    (project / "out" / "c.txt").write_text("edited by hand\n")
    assert applied("plan", "--refresh-only", "-o", "p.sfplan").code == 0
    result = applied("apply", "--refresh-only", "p.sfplan")
    assert result.code == 0, result
    assert read_state(project)["resources"]["files.c"]["attributes"]["content"] \
        == "edited by hand\n"


def test_a_first_apply_with_a_secret_applies_from_its_plan_file(
        sf: Runner, project: Path) -> None:
    # No state yet: the plan's lineage (its fingerprint key) is used to build it again.
    write_stack(project, STACK + '\n[files.env]\npath = "out/.env"\n'
                'content = "TOKEN=${secret.token}\\n"\n')
    env = {"STACKFORM_SECRET_TOKEN": "s3cret"}
    assert sf("plan", "-o", "p.sfplan", env=env).code == 0
    assert "s3cret" not in (project / "p.sfplan").read_text()
    result = sf("apply", "p.sfplan", env=env)
    assert result.code == 0, result
    assert (project / "out" / ".env").read_text() == "TOKEN=s3cret\n"
    assert read_state(project)["lineage"] == json.loads(
        (project / "p.sfplan").read_text())["plan"]["lineage"]


def test_a_plan_file_of_the_previous_format_is_refused(applied: Runner, project: Path) -> None:
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    plan_file = project / "p.sfplan"
    doc = json.loads(plan_file.read_text())
    doc["version"] = 1
    plan_file.write_text(json.dumps(doc))
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "plan format version 1; this stackform reads version 2" in result.stderr
    assert not (project / "out" / "d.txt").exists()


def test_a_plan_file_of_an_unknown_mode_is_refused_when_loaded(applied: Runner,
                                                              project: Path) -> None:
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    plan_file = project / "p.sfplan"
    doc = json.loads(plan_file.read_text())
    doc["plan"]["mode"] = "import"
    plan_file.write_text(json.dumps(doc))
    before = snapshot(project)
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "p.sfplan is a plan of mode 'import', which this stackform does not know (it knows " \
        "normal, destroy, refresh-only)" in result.stderr, result
    assert "damaged" not in result.stderr
    assert snapshot(project) == before


def test_options_edited_with_the_changes_they_give_are_refused(
        applied: Runner, project: Path) -> None:
    """An edit that stays self-consistent: a normal plan made into ``--destroy --target
    files.c`` listing exactly the delete that gives. Rebuilding with the file's own options
    cannot see it; the apply command, which states no option, does."""
    write_stack(project, CHANGED)
    assert applied("plan", "-o", "p.sfplan").code == 0
    assert applied("plan", "--destroy", "--target", "files.c", "-o", "evil.sfplan").code == 0
    reviewed = json.loads((project / "p.sfplan").read_text())
    evil = json.loads((project / "evil.sfplan").read_text())
    for key in ("mode", "targets", "changes", "drift"):
        reviewed["plan"][key] = evil["plan"][key]
    (project / "p.sfplan").write_text(json.dumps(reviewed))
    before = snapshot(project)
    result = applied("apply", "p.sfplan")
    assert_clean_error(result)
    assert "the saved plan was made with --destroy --target files.c, but the apply command " \
        "states none" in result.stderr, result
    assert snapshot(project) == before and (project / "out" / "c.txt").exists()


def test_the_saved_plan_line_gives_the_exact_apply_command(applied: Runner,
                                                           project: Path) -> None:
    write_stack(project, CHANGED)
    shown = applied("plan", "--target", "files.b", "-o", "p.sfplan")
    assert shown.code == 0, shown
    assert "`stackform apply --target files.b p.sfplan`" in shown.stderr
    assert shown.stderr.count("took no lock") == 1
    assert "took no lock" not in applied("plan").stderr  # nothing saved: nothing to go stale
