"""``state`` commands and ``force-unlock``, end to end, on the real local state backend.

Runs the installed ``stackform`` script in a subprocess, with the real local state backend,
the ``files`` provider and the test-only ``sleepers`` provider."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tests.cli_helpers import (
    FILES_STACK,
    Runner,
    actions,
    assert_clean_error,
    kill9,
    lock_path,
    lock_record,
    plan_json,
    read_state,
    sleepers_stack,
    state_path,
    wait_for,
    write_stack,
)

pytestmark = pytest.mark.slow


# -- state -------------------------------------------------------------------------------------


def test_state_list_show_mv_rm(applied: Runner, project: Path) -> None:
    listed = applied("state", "list")
    assert listed.code == 0, listed
    assert listed.stdout.split() == ["files.a", "files.b", "files.c"]
    assert applied("state", "list", "files.b").stdout.split() == ["files.b"]

    shown = applied("state", "show", "files.a")
    assert shown.code == 0, shown
    doc = json.loads(shown.stdout)
    assert doc["attributes"]["path"] == "out/a.txt"
    assert doc["outputs"]["size"] == len("hello a\n")
    missing = applied("state", "show", "files.zz")
    assert_clean_error(missing)

    serial = read_state(project)["serial"]
    moved = applied("state", "mv", "files.c", "files.c2")
    assert moved.code == 0, moved
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b", "files.c2"]
    assert read_state(project)["serial"] == serial + 1
    wrong_kind = applied("state", "mv", "files.c2", "sleepers.c2")
    assert_clean_error(wrong_kind)

    removed = applied("state", "rm", "files.c2")
    assert removed.code == 0, removed
    assert "nothing was destroyed" in removed.stderr
    assert (project / "out" / "c.txt").exists()
    assert sorted(read_state(project)["resources"]) == ["files.a", "files.b"]
    assert_clean_error(applied("state", "rm", "files.c2"))
    # The stack still declares files.c: forgotten, so planned again as a create.
    assert actions(plan_json(applied("plan", "--format", "json")))["files.c"] == ["create"]


def test_state_pull_and_push(applied: Runner, project: Path) -> None:
    pulled = applied("state", "pull")
    assert pulled.code == 0, pulled
    doc = json.loads(pulled.stdout)
    assert doc == read_state(project)
    (project / "pulled.json").write_text(pulled.stdout)

    # Same lineage, same serial: accepted, stored with a higher serial.
    pushed = applied("state", "push", "pulled.json")
    assert pushed.code == 0, pushed
    assert read_state(project)["serial"] == doc["serial"] + 1

    # Older serial (now that the stored one moved on): refused, then accepted with --force.
    before = state_path(project).read_bytes()
    older = applied("state", "push", "pulled.json")
    assert_clean_error(older)
    assert "older" in older.stderr
    assert state_path(project).read_bytes() == before
    forced = applied("state", "push", "--force", "pulled.json")
    assert forced.code == 0, forced

    # Another lineage: refused, then accepted with --force (the old history is kept as backup).
    foreign = dict(doc, lineage=str(uuid.uuid4()), serial=doc["serial"] + 10)
    (project / "foreign.json").write_text(json.dumps(foreign))
    before = state_path(project).read_bytes()
    refused = applied("state", "push", "foreign.json")
    assert_clean_error(refused)
    assert "lineage" in refused.stderr
    assert state_path(project).read_bytes() == before
    accepted = applied("state", "push", "--force", "foreign.json")
    assert accepted.code == 0, accepted
    assert read_state(project)["lineage"] == foreign["lineage"]

    # From stdin.
    stdin = applied("state", "push", "-", input=state_path(project).read_text())
    assert stdin.code == 0, stdin


def test_state_push_of_garbage_is_refused(applied: Runner, project: Path) -> None:
    (project / "junk.json").write_text("{not json")
    before = state_path(project).read_bytes()
    result = applied("state", "push", "junk.json")
    assert_clean_error(result)
    assert state_path(project).read_bytes() == before


def test_state_pull_without_state(sf: Runner, project: Path) -> None:
    write_stack(project, FILES_STACK)
    assert sf("state", "list").stdout == ""
    assert_clean_error(sf("state", "pull"))


# -- force-unlock ------------------------------------------------------------------------------


def test_force_unlock_a_stale_lock_left_by_a_killed_process(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["slow"], seconds=30))
    proc = sf.start("apply", "--auto-approve")
    record = wait_for(lambda: lock_record(project), what="the lock record", proc=proc)
    assert record["pid"] == proc.pid
    assert record["operation"] == "apply"

    # While the holder lives, force-unlock refuses.
    live = sf("force-unlock", "--force", record["id"])
    assert_clean_error(live)
    assert str(proc.pid) in live.stderr
    kill9(proc)
    assert lock_record(project) == record, "a killed holder leaves its record behind"

    no_tty = sf("force-unlock", record["id"])
    assert_clean_error(no_tty)
    assert "--force" in no_tty.stderr
    wrong = sf("force-unlock", "--force", "not-the-id")
    assert_clean_error(wrong)
    assert "does not match" in wrong.stderr

    result = sf("force-unlock", "--force", record["id"])
    assert result.code == 0, result
    assert record["id"] in result.stderr
    assert lock_record(project) is None
    assert lock_path(project).exists()
    again = sf("force-unlock", "--force", record["id"])
    assert_clean_error(again)
    assert "no lock" in again.stderr
