"""Reliability with real processes and no mocks: kill -9, concurrent applies, Ctrl-C, corrupt
state, malformed stack files, and secrets that must never be written or printed."""

from __future__ import annotations

import hashlib
import json
import re
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from tests.cli_helpers import (
    STACKFORM,
    Result,
    Runner,
    actions,
    assert_clean_error,
    finish,
    kill9,
    lock_record,
    plan_json,
    read_state,
    sleepers_stack,
    state_dir,
    state_path,
    wait_for,
    write_stack,
)

pytestmark = pytest.mark.slow

NAMES = [f"s{i}" for i in range(8)]


def markers(project: Path) -> set[str]:
    folder = project / "markers"
    if not folder.exists():
        return set()
    return {f"sleepers.{p.name}" for p in folder.iterdir() if not p.name.startswith(".")}


def recorded(project: Path) -> set[str]:
    return set(read_state(project)["resources"])


# -- kill -9 -----------------------------------------------------------------------------------


def test_kill_9_mid_apply_leaves_valid_state_and_the_next_plan_does_the_rest(
        sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(NAMES, seconds=0.4))
    proc = sf.start("apply", "--auto-approve", "--parallelism", "2")
    wait_for(lambda: len(markers(project)) >= 3 and state_path(project).exists(),
             what="three finished sleepers", proc=proc)
    kill9(proc)
    assert proc.returncode == -signal.SIGKILL

    done = markers(project)
    assert 3 <= len(done) < len(NAMES), "killed in the middle"
    state = read_state(project)  # parses: the write is atomic
    assert state["lineage"]
    rec = set(state["resources"])
    assert rec, "resources that finished before the kill are recorded"
    assert rec <= done, "state records only resources that really finished"

    # The lock died with the process: plan and apply work without force-unlock.
    doc = plan_json(sf("plan", "--format", "json"))
    acts = actions(doc)
    rest = {f"sleepers.{n}" for n in NAMES} - rec
    assert {a for a, x in acts.items() if x == ["create"]} == rest
    assert {a for a, x in acts.items() if x != ["create"]} == rec
    assert all(x == ["no-op"] for a, x in acts.items() if a in rec)

    again = sf("apply", "--auto-approve", "--parallelism", "4")
    assert again.code == 0, again
    assert recorded(project) == {f"sleepers.{n}" for n in NAMES}
    assert sf("plan", "--detailed-exitcode").code == 0


def test_kill_9_between_grouped_state_writes_records_only_files_on_disk(
        sf: Runner, project: Path, tmp_path: Path) -> None:
    """State is written in groups, with a pause after each write (stackform.plan.apply
    WRITE_PAUSE): a kill between two writes leaves files written but not recorded. The state
    left is whole, every file it records is on disk as recorded, and the next plan creates the
    rest over whatever the killed apply left."""
    count = 2000
    write_stack(project, "\n".join(
        ['[stack]\nname = "bulk"\n'] + [f'[files.f{i:04d}]\npath = "out/f{i:04d}.txt"\n'
                                        f'content = "file {i}\\n"\n' for i in range(count)]))
    # Output to files: thousands of plan lines would fill a pipe nobody reads.
    with open(tmp_path / "out.log", "w") as out, open(tmp_path / "err.log", "w") as err:
        proc = subprocess.Popen([STACKFORM, "apply", "--auto-approve", "--parallelism", "4"],
                                cwd=project, env=sf.env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=err, text=True)
        try:
            wait_for(lambda: serial_or_zero(project) >= 2, timeout=60,
                     what="the second state write", proc=proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "err.log").read_text()[-2000:]

    state = read_state(project)  # parses: the write is atomic
    rec = set(state["resources"])
    on_disk = {f"files.{p.stem}" for p in (project / "out").iterdir()
               if not p.name.startswith(".")}
    assert rec and rec <= on_disk, "state records only files the disk holds"
    for address in rec:
        path = project / state["resources"][address]["attributes"]["path"]
        assert (hashlib.sha256(path.read_bytes()).hexdigest()
                == state["resources"][address]["outputs"]["sha256"])
    assert on_disk - rec, "files finished after the last write are on disk, unrecorded"
    assert len(on_disk) < count, "killed in the middle"

    acts = actions(plan_json(sf("plan", "--format", "json")))
    assert {a for a, x in acts.items() if x != ["no-op"]} == {
        f"files.f{i:04d}" for i in range(count)} - rec
    assert all(x == ["create"] for x in acts.values() if x != ["no-op"])
    again = sf("apply", "--auto-approve", timeout=120)
    assert again.code == 0, again
    assert len(read_state(project)["resources"]) == count
    assert sf("plan", "--detailed-exitcode").code == 0
    # What the killed apply left is the version the next apply replaced first: it is kept,
    # and restorable, while the snapshots of either apply are not.
    history = state_dir(project) / "history" / "dev"
    [kept] = history.iterdir()
    assert kept.name.startswith(f"{state['serial']}-")
    assert set(json.loads(kept.read_text())["resources"]) == rec


def serial_or_zero(project: Path) -> int:
    try:
        return int(read_state(project)["serial"])
    except (FileNotFoundError, json.JSONDecodeError):
        return 0


# -- two applies at once -----------------------------------------------------------------------


def test_second_apply_fails_fast_naming_the_holder(sf: Runner, project: Path) -> None:
    # ~12 s under the lock: the second apply meets it even when the machine is loaded.
    write_stack(project, sleepers_stack(NAMES[:4], seconds=3.0))
    first = sf.start("apply", "--auto-approve", "--parallelism", "1")
    holder = wait_for(lambda: lock_record(project), what="the first apply's lock", proc=first)
    second = sf("apply", "--auto-approve")
    assert_clean_error(second)
    assert second.seconds < 10
    assert "locked" in second.stderr
    assert str(first.pid) in second.stderr
    assert "apply" in second.stderr
    assert holder["id"] in second.stderr, "the error names the lock id for force-unlock"
    assert "--lock-timeout" in second.stderr

    result = finish(first)
    assert result.code == 0, result
    state = read_state(project)
    assert set(state["resources"]) == {f"sleepers.{n}" for n in NAMES[:4]}
    # Every write came from the first apply: a write of the second would have kept the
    # version it replaced in the history, where an apply's own snapshots never go.
    history = state_dir(project) / "history" / "dev"
    assert not history.exists() or not any(history.iterdir())
    assert state["serial"] >= 4


def test_second_apply_with_lock_timeout_waits_then_succeeds(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(NAMES[:4], seconds=0.4))
    first = sf.start("apply", "--auto-approve", "--parallelism", "1")
    wait_for(lambda: lock_record(project), what="the first apply's lock", proc=first)
    # The second wants a change of its own, so it writes once it holds the lock.
    second = sf("apply", "--auto-approve", "--replace", "sleepers.s0", "--lock-timeout", "30s")
    assert second.code == 0, second
    result = finish(first)
    assert result.code == 0, result

    state = read_state(project)
    first_outputs = {a: r["outputs"] for a, r in state["resources"].items()}
    assert set(first_outputs) == {f"sleepers.{n}" for n in NAMES[:4]}
    # The replacement ran after everything the first apply did: they never overlapped.
    s0 = first_outputs["sleepers.s0"]
    others_finished = max(o["finished_at"] for a, o in first_outputs.items()
                          if a != "sleepers.s0")
    assert s0["started_at"] >= others_finished
    # One lineage, serials increasing: the history keeps the version the second apply
    # replaced first, the first apply's last, whole and before the replacement.
    history = state_dir(project) / "history" / "dev"
    [kept] = history.iterdir()
    serial, lineage = kept.name.split("-", 1)
    assert lineage == f"{state['lineage']}.json" and int(serial) < state["serial"]
    before = json.loads(kept.read_text())["resources"]
    assert set(before) == set(first_outputs)
    assert before["sleepers.s0"]["outputs"]["started_at"] < s0["started_at"]
    assert sf("plan", "--detailed-exitcode").code == 0


# -- Ctrl-C ------------------------------------------------------------------------------------


def test_ctrl_c_lets_running_work_finish_and_starts_nothing_new(
        sf: Runner, project: Path) -> None:
    names = NAMES[:6]
    write_stack(project, sleepers_stack(names, seconds=0.8))
    proc = sf.start("apply", "--auto-approve", "--parallelism", "2")
    # Their markers, not the state: state is written in groups, behind the work it records
    # (on a loaded machine, long enough for s2 and s3 to finish first).
    wait_for(lambda: {"sleepers.s0", "sleepers.s1"} <= markers(project),
             what="the first two sleepers", proc=proc)
    time.sleep(0.2)  # s2 and s3 are now sleeping (0.8 s each)
    proc.send_signal(signal.SIGINT)
    result = finish(proc)

    assert result.code == 130, result
    assert "interrupted" in result.stderr
    assert "Traceback" not in result.output
    in_flight = {"sleepers.s2", "sleepers.s3"}
    never = {"sleepers.s4", "sleepers.s5"}
    assert in_flight <= markers(project), "work in flight finished"
    assert not never & markers(project), "nothing new started after Ctrl-C"
    assert recorded(project) == markers(project) == {f"sleepers.{n}" for n in names[:4]}
    assert lock_record(project) is None, "the lock was released"
    acts = actions(plan_json(sf("plan", "--format", "json")))
    assert {a for a, x in acts.items() if x == ["create"]} == never


def recorded_or_empty(project: Path) -> set[str]:
    try:
        return recorded(project)
    except (FileNotFoundError, json.JSONDecodeError):
        return set()


# -- corrupt and foreign state -----------------------------------------------------------------


def test_corrupt_state_is_detected_and_never_overwritten(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["a", "b"]))
    assert sf("apply", "--auto-approve").code == 0
    path = state_path(project)
    good = path.read_bytes()
    truncated = good[: len(good) // 2]
    path.write_bytes(truncated)
    write_stack(project, sleepers_stack(["a", "b", "c"]))

    for args in (("apply", "--auto-approve"), ("plan",), ("state", "list"),
                 ("state", "rm", "sleepers.a"), ("destroy", "--auto-approve")):
        result = sf(*args)
        assert_clean_error(result)
        assert "not valid JSON" in result.stderr, result
        assert "state rollback" in result.stderr, "the hint names the rescue"
        assert path.read_bytes() == truncated, args
    assert not (project / "markers" / "c").exists()

    # The documented rescue works exactly now: a good copy is pushed (no --force needed), the
    # corrupt document is kept aside, not deleted.
    (project / "good.json").write_bytes(good)
    push = sf("state", "push", "good.json")
    assert push.code == 0, push
    [aside] = (state_path(project).parent / "history" / "dev").glob("unreadable-*.json")
    assert aside.read_bytes() == truncated and str(aside) in push.stderr
    assert actions(plan_json(sf("plan", "--format", "json"))) == {
        "sleepers.a": ["no-op"], "sleepers.b": ["no-op"], "sleepers.c": ["create"]}


def test_wrong_lineage_push_is_refused_and_state_kept(sf: Runner, project: Path) -> None:
    write_stack(project, sleepers_stack(["a"]))
    assert sf("apply", "--auto-approve").code == 0
    path = state_path(project)
    before = path.read_bytes()
    foreign = json.loads(before)
    foreign["lineage"] = str(uuid.uuid4())
    foreign["serial"] += 100
    (project / "foreign.json").write_text(json.dumps(foreign))
    result = sf("state", "push", "foreign.json")
    assert_clean_error(result)
    assert "lineage" in result.stderr
    assert "--force" in result.stderr
    assert path.read_bytes() == before
    assert sf("plan", "--detailed-exitcode").code == 0


# -- malformed stack files ---------------------------------------------------------------------


BAD_STACKS = {
    "bad_toml": ('[stack]\nname = "x"\n\n[files.a]\npath = "a.txt\ncontent = "c"\n',
                 r"stack\.toml:5:\d+: error: invalid TOML"),
    "wrong_type": ('[stack]\nname = "x"\n\n[files.a]\npath = "a.txt"\ncontent = 5\n',
                   r"stack\.toml:6:11: error: files\.a\.content: expected a string"),
    "wrong_core_type": ('[stack]\nname = 7\n',
                        r"stack\.toml:2:8: error: stack\.name:"),
    "unknown_key": ('[stack]\nname = "x"\n\n[files.a]\npath = "a.txt"\ncontnet = "c"\n',
                    r"stack\.toml:6:1: error: files\.a\.contnet: unknown key.*\n.*did you mean"),
    "unknown_section_key": ('[stack]\nname = "x"\nreqiures = ">=0.1"\n',
                            r"stack\.toml:3:1: error: stack\.reqiures: .*\n.*did you mean"),
    "unknown_kind": ('[stack]\nname = "x"\n\n[flies.a]\npath = "a"\n',
                     r"stack\.toml:4:\d+: error: flies:"),
    "bad_var_reference": ('[stack]\nname = "x"\n\n[vars]\ngreeting = "hi"\n\n[files.a]\n'
                          'path = "a.txt"\ncontent = "${var.greting}"\n',
                          r"stack\.toml:9:\d+: error: files\.a\.content: unknown var 'greting'"),
    "bad_depends_on": ('[stack]\nname = "x"\n\n[files.a]\npath = "a.txt"\ncontent = "c"\n'
                       'depends_on = ["files.b"]\n',
                       r"stack\.toml:7:\d+: error: files\.a\.depends_on\[0\]"),
    "bad_pipeline_step": ('[stack]\nname = "x"\n\n[files.a]\npath = "a.txt"\ncontent = "c"\n\n'
                          '[pipelines.daily]\nsteps = ["b"]\n',
                          r"stack\.toml:9:\d+: error: pipelines\.daily\.steps\[0\]"),
}


@pytest.mark.parametrize("case", sorted(BAD_STACKS))
def test_malformed_stack_file_gives_a_located_error_without_traceback(
        sf: Runner, project: Path, case: str) -> None:
    text, expected = BAD_STACKS[case]
    (project / "stack.toml").write_text(text)
    for command in (("validate",), ("apply", "--auto-approve")):
        result = sf(*command)
        assert_clean_error(result)
        assert re.search(expected, result.stderr), (command, str(result))
    assert not (project / ".stackform" / "state").exists() or not any(
        (project / ".stackform" / "state").rglob("*.json"))


def test_dependency_cycle_is_printed_as_a_cycle(sf: Runner, project: Path) -> None:
    write_stack(project, """
        [stack]
        name = "cyc"

        [files.a]
        path = "a.txt"
        content = "a"
        depends_on = ["files.b"]

        [files.b]
        path = "b.txt"
        content = "b"
        depends_on = ["files.a"]
    """)
    for command in (("validate",), ("graph",), ("apply", "--auto-approve")):
        result = sf(*command)
        assert_clean_error(result)
        assert re.search(r"cycle: (files\.a -> files\.b -> files\.a|"
                         r"files\.b -> files\.a -> files\.b)", result.stderr), result
    assert not (project / "a.txt").exists()


# -- secrets never leak ------------------------------------------------------------------------


SECRET = "Zq9-s3cr3t-VALUE-81x"
SECRET_STACK = """
[stack]
name = "leaky"

[vars]
dsn = "postgres://app:${secret.db_password}@db/app"

[files.env]
path = "out/.env"
content = "PASSWORD=${secret.db_password}\\n"

[files.templated]
path = "out/conf.ini"
template = "conf.tmpl"
vars = { password = "${secret.db_password}", user = "app" }

[files.dsn]
path = "out/dsn.txt"
content = "${var.dsn}"
"""


def _leaks(project: Path, results: list[Result], secret: str) -> list[str]:
    found = [f"output of run {i}" for i, r in enumerate(results) if secret in r.output]
    for path in project.rglob("*"):
        inside = path.relative_to(project)
        if inside.parts[0] != "out" and path.is_file() and secret.encode() in path.read_bytes():
            found.append(str(inside))
    return found


@pytest.mark.parametrize("source", ["environment", "keyring"])
def test_secret_is_never_written_or_printed(sf: Runner, project: Path, home: Path,
                                            source: str) -> None:
    write_stack(project, SECRET_STACK)
    (project / "conf.tmpl").write_text("user=$user\npassword=$password\n")
    if source == "environment":
        sf.env["STACKFORM_SECRET_DB_PASSWORD"] = SECRET
    else:
        stored = sf("secret", "set", "db_password", input=SECRET)
        assert stored.code == 0, stored
    runs: list[Result] = []

    def run(*args: str) -> Result:
        result = sf(*args)
        runs.append(result)
        return result

    assert run("validate").code == 0
    text = run("plan")
    assert text.code == 0, text
    assert "(sensitive)" in text.stdout
    js = run("plan", "--format", "json")
    doc = json.loads(js.stdout)
    env_change = {c["address"]: c for c in doc["resource_changes"]}["files.env"]["change"]
    assert env_change["after"]["content"] is None
    assert env_change["after_sensitive"]["content"] is True
    assert run("plan", "-o", "secret.sfplan").code == 0
    applied = run("apply", "secret.sfplan")
    assert applied.code == 0, applied
    # The secret did reach the files it is meant for.
    assert (project / "out" / ".env").read_text() == f"PASSWORD={SECRET}\n"
    assert f"password={SECRET}" in (project / "out" / "conf.ini").read_text()
    assert SECRET in (project / "out" / "dsn.txt").read_text()
    assert (project / "out" / ".env").stat().st_mode & 0o777 == 0o600

    assert run("state", "pull").code == 0
    for address in ("files.env", "files.templated", "files.dsn"):
        shown = run("state", "show", address)
        assert shown.code == 0, shown
    assert run("state", "list").code == 0
    assert run("secret", "list").code == 0
    assert run("secret", "get", "db_password").code == 0
    assert run("graph").code == 0
    assert run("plan", "--detailed-exitcode").code == 0
    assert run("plan", "--format", "json", "-o", "noop.sfplan").code == 0

    leaks = _leaks(project, runs, SECRET)
    assert not leaks, f"the secret leaked into: {leaks}"
    assert (project / "secret.sfplan").exists() and state_path(project).exists()

    # A changed secret still shows as an update, without either value.
    new_secret = "Other-s3cr3t-VALUE-42y"
    if source == "environment":
        sf.env["STACKFORM_SECRET_DB_PASSWORD"] = new_secret
    else:
        assert sf("secret", "set", "db_password", input=new_secret).code == 0
    changed = run("plan", "--detailed-exitcode")
    assert changed.code == 2, changed
    assert re.search(r"~ files\.env", changed.stdout), changed
    assert re.search(r"~ content\s+= \(sensitive\) -> \(sensitive\)", changed.stdout), changed
    assert re.search(r"~ files\.dsn", changed.stdout)
    assert re.search(r"~ files\.templated", changed.stdout)
    changed_json = plan_json(run("plan", "--format", "json", "-o", "changed.sfplan"))
    assert actions(changed_json)["files.env"] == ["update"]
    done = run("apply", "changed.sfplan")
    assert done.code == 0, done
    assert (project / "out" / ".env").read_text() == f"PASSWORD={new_secret}\n"
    assert not _leaks(project, runs, SECRET)
    assert not _leaks(project, runs, new_secret)
