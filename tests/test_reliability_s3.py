"""The S3 backend through the real CLI, against a real S3-compatible server (SeaweedFS):
locks across processes, a stale lock, kill -9 mid-apply, a writer that lost its lock, a corrupt
object, a wrong-lineage push, history and rollback, migration, and the errors a user meets
(missing bucket, bad credentials) — each a clear message, state untouched."""

from __future__ import annotations

import json
import signal
import uuid
from pathlib import Path
from typing import Any

import pytest

from stackform.s3.client import S3Objects
from stackform.s3.settings import S3Settings
from stackform.state.s3 import S3Backend
from tests.cli_helpers import (
    Runner,
    actions,
    assert_clean_error,
    finish,
    kill9,
    make_env,
    plan_json,
    read_state,
    runs_dir,
    sleepers_stack,
    wait_for,
    write_stack,
)
from tests.s3server import S3Server

pytestmark = pytest.mark.slow

NAMES = [f"s{i}" for i in range(6)]
SECRET = "Qx7-s3-s3cr3t-VALUE-55z"


class Bucket:
    """The test's view of the state prefix, straight through boto3: the keys of the stack
    ``stack`` under it (keys are scoped to the stack's name)."""

    def __init__(self, server: S3Server, bucket: str, prefix: str,
                 stack: str = "sleepy") -> None:
        self.server, self.bucket, self.prefix, self.stack = server, bucket, prefix, stack
        self.client = server.client()

    def key(self, name: str) -> str:
        return f"{self.prefix}/{self.stack}/{name}"

    def get(self, name: str) -> bytes | None:
        try:
            return bytes(self.client.get_object(Bucket=self.bucket,
                                                Key=self.key(name))["Body"].read())
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, name: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.key(name), Body=data)

    def state(self, env: str = "dev") -> dict[str, Any]:
        data = self.get(f"state/{env}.json")
        assert data is not None, "no state object"
        return dict(json.loads(data))

    def recorded(self) -> set[str]:
        return set(self.state()["resources"])

    def lock(self, env: str = "dev") -> dict[str, Any] | None:
        data = self.get(f"state/{env}.lock")
        return json.loads(data) if data else None

    def object_keys(self) -> list[str]:
        listed = self.client.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix + "/")
        return [o["Key"] for o in listed.get("Contents") or []]

    def backend(self) -> S3Backend:
        settings = S3Settings(self.bucket, f"{self.prefix}/{self.stack}", self.server.region,
                              self.server.endpoint_url)
        return S3Backend(settings, S3Objects(settings, self.server.client()), stack=self.stack)


def state_table(server: S3Server, bucket: str, prefix: str) -> str:
    return (f'\n[state]\nbackend = "s3"\nbucket = "{bucket}"\nprefix = "{prefix}"\n'
            f'endpoint_url = "{server.endpoint_url}"\nregion = "{server.region}"\n')


@pytest.fixture
def store(s3_server: S3Server) -> Bucket:
    return Bucket(s3_server, s3_server.bucket(), S3Server.new_prefix())


@pytest.fixture
def sf(project: Path, home: Path, s3_server: S3Server) -> Runner:
    return Runner(project, make_env(home, s3_server.env))


def write_s3_stack(project: Path, store: Bucket, names: list[str], seconds: float = 0.0,
                   extra: str = "") -> None:
    write_stack(project, sleepers_stack(
        names, seconds, extra=state_table(store.server, store.bucket, store.prefix) + extra))


def markers(project: Path) -> set[str]:
    folder = project / "markers"
    return {f"sleepers.{p.name}" for p in folder.iterdir()} if folder.exists() else set()


def test_apply_keeps_state_in_the_bucket_and_never_a_secret(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, ["a"], extra='\n[sleepers.b]\nvalue = "${secret.token}"\n'
                   'marker_dir = "markers"\n')
    sf.env["STACKFORM_SECRET_TOKEN"] = SECRET
    result = sf("apply", "--auto-approve")
    assert result.code == 0, result
    assert store.recorded() == {"sleepers.a", "sleepers.b"}
    assert store.lock() is None, "the lock object is removed at the end"
    for key in store.object_keys():
        body = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
        assert SECRET.encode() not in body, key
    assert SECRET not in result.output
    assert sf("plan", "--detailed-exitcode").code == 0


def test_a_plan_takes_no_lock_and_says_so(sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, NAMES[:2])
    # Another process holds the lock for as long as the plan takes (an apply under way).
    with store.backend().lock("dev", "apply"):
        assert store.lock() is not None
        plan = sf("plan", "-o", "p.sfplan")
    assert plan.code == 0, plan
    assert "The plan took no lock" in plan.output and "apply" in plan.output
    assert store.lock() is None


def test_second_apply_fails_fast_then_waits_with_lock_timeout(
        sf: Runner, project: Path, store: Bucket) -> None:
    # The first apply holds the lock for ~12 s: long enough for the second to meet it on a
    # loaded machine (with 0.4 s sleepers it sometimes finished first).
    write_s3_stack(project, store, NAMES[:4], seconds=3.0)
    first = sf.start("apply", "--auto-approve", "--parallelism", "1")
    holder = wait_for(store.lock, what="the first apply's lock", proc=first)
    second = sf("apply", "--auto-approve")
    assert_clean_error(second)
    assert "locked" in second.stderr and holder["id"] in second.stderr
    assert str(first.pid) in second.stderr and "--lock-timeout" in second.stderr
    third = sf("apply", "--auto-approve", "--replace", "sleepers.s0", "--lock-timeout", "60s",
               timeout=120)
    assert third.code == 0, third
    assert finish(first).code == 0
    state = store.state()
    assert set(state["resources"]) == {f"sleepers.{n}" for n in NAMES[:4]}
    outputs = {a: r["outputs"] for a, r in state["resources"].items()}
    others = max(o["finished_at"] for a, o in outputs.items() if a != "sleepers.s0")
    assert outputs["sleepers.s0"]["started_at"] >= others, "the waiting apply ran after"


def test_kill_9_mid_apply_leaves_a_stale_lock_that_force_unlock_removes(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, NAMES, seconds=0.4)
    proc = sf.start("apply", "--auto-approve", "--parallelism", "2")
    wait_for(lambda: len(markers(project)) >= 3 and store.get("state/dev.json"),
             what="three finished sleepers", proc=proc)
    kill9(proc)
    assert proc.returncode == -signal.SIGKILL
    rec = store.recorded()
    assert rec and rec <= markers(project), "state holds only what really finished"
    stale = store.lock()
    assert stale is not None and stale["pid"] == proc.pid, "S3 keeps a dead holder's lock"

    blocked = sf("apply", "--auto-approve")
    assert_clean_error(blocked)
    assert stale["id"] in blocked.stderr and "force-unlock" in blocked.stderr
    wrong = sf("force-unlock", "not-the-id", "--force")
    assert_clean_error(wrong)
    assert store.lock() == stale
    unlocked = sf("force-unlock", stale["id"], "--force")
    assert unlocked.code == 0, unlocked
    assert store.lock() is None

    acts = actions(plan_json(sf("plan", "--format", "json")))
    assert {a for a, x in acts.items() if x == ["create"]} == {
        f"sleepers.{n}" for n in NAMES} - rec
    again = sf("apply", "--auto-approve")
    assert again.code == 0, again
    assert store.recorded() == {f"sleepers.{n}" for n in NAMES}


def test_a_writer_that_lost_its_lock_never_overwrites_and_keeps_an_errored_file(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, NAMES[:4], seconds=0.6)
    proc = sf.start("apply", "--auto-approve", "--parallelism", "1")
    wait_for(lambda: store.get("state/dev.json"), what="the first write", proc=proc)
    # Another writer moves the state on without the lock (as after a wrong force-unlock).
    peer = store.backend()
    current = peer.read("dev")
    assert current is not None
    peer.write("dev", current.next(), current)
    theirs = store.state()
    result = finish(proc)
    assert_clean_error(result)
    assert "state could not be written" in result.stderr
    assert "changed" in result.stderr or "serial" in result.stderr
    assert store.state() == theirs, "the newer state was not overwritten"
    [errored] = (project / ".stackform" / "errored" / "sleepy").glob("dev-*.json")
    saved = json.loads(errored.read_text())
    assert set(saved["resources"]) >= set(theirs["resources"])
    assert str(errored.relative_to(project)) in result.stderr.replace("\n", "") or \
        errored.name in result.stderr
    pushed = sf("state", "push", str(errored))
    assert pushed.code == 0, pushed
    assert set(store.state()["resources"]) == set(saved["resources"])


def test_corrupt_object_is_never_overwritten_and_history_rescues_it(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, ["a"])
    assert sf("apply", "--auto-approve").code == 0
    write_s3_stack(project, store, ["a", "b"])
    assert sf("apply", "--auto-approve").code == 0
    good = store.get("state/dev.json")
    assert good is not None
    store.put("state/dev.json", good[: len(good) // 2])
    for args in (("apply", "--auto-approve"), ("plan",), ("state", "list")):
        result = sf(*args)
        assert_clean_error(result)
        assert "not valid JSON" in result.stderr, result
        assert store.get("state/dev.json") == good[: len(good) // 2]
    history = sf("state", "history")
    assert history.code == 0, history
    serial = json.loads(good)["serial"]
    assert str(serial) in history.stdout and str(serial - 1) in history.stdout
    # The documented rescue works exactly now: the last good version pushed over it, the
    # corrupt object kept aside in history.
    (project / "good.json").write_bytes(good)
    pushed = sf("state", "push", "good.json")
    assert pushed.code == 0, pushed
    aside = [k for k in store.object_keys() if "/history/dev/unreadable-" in k]
    assert len(aside) == 1 and aside[0] in pushed.stderr
    assert sf("plan", "--detailed-exitcode").code == 0


def test_history_and_rollback_as_a_new_serial(sf: Runner, project: Path,
                                              store: Bucket) -> None:
    write_s3_stack(project, store, ["a"])
    assert sf("apply", "--auto-approve").code == 0
    write_s3_stack(project, store, ["a", "b"])
    assert sf("apply", "--auto-approve").code == 0
    before = store.state()
    listed = sf("state", "history")
    assert listed.code == 0, listed
    assert "current" in listed.stdout
    back = sf("state", "rollback", "1", "--force")
    assert back.code == 0, back
    after = store.state()
    assert after["serial"] == before["serial"] + 1 and after["lineage"] == before["lineage"]
    assert set(after["resources"]) == {"sleepers.a"}
    acts = actions(plan_json(sf("plan", "--format", "json")))
    assert acts["sleepers.b"] == ["create"], "the plan shows what the rollback forgot"


def test_wrong_lineage_push_is_refused(sf: Runner, project: Path, store: Bucket) -> None:
    write_s3_stack(project, store, ["a"])
    assert sf("apply", "--auto-approve").code == 0
    before = store.get("state/dev.json")
    foreign = json.loads(before or b"{}")
    foreign["lineage"] = str(uuid.uuid4())
    foreign["serial"] += 100
    (project / "foreign.json").write_text(json.dumps(foreign))
    result = sf("state", "push", "foreign.json")
    assert_clean_error(result)
    assert "lineage" in result.stderr and "--force" in result.stderr
    assert store.get("state/dev.json") == before


def test_missing_bucket_and_bad_credentials_are_clear_errors(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_stack(project, sleepers_stack(["a"], extra=state_table(
        store.server, "no-such-bucket-here", store.prefix)))
    missing = sf("plan")
    assert_clean_error(missing)
    assert "bucket 'no-such-bucket-here' does not exist" in missing.stderr
    write_s3_stack(project, store, ["a"])
    bad = sf("apply", "--auto-approve", env={"AWS_SECRET_ACCESS_KEY": "wrong-secret"})
    assert_clean_error(bad)
    assert "refused the credentials" in bad.stderr and "wrong-secret" not in bad.output
    none = sf("plan", env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
                           "AWS_SHARED_CREDENTIALS_FILE": str(project / "none"),
                           "AWS_CONFIG_FILE": str(project / "none")})
    assert_clean_error(none)
    assert "credentials" in none.stderr
    assert store.object_keys() == [], "nothing was written"


def test_migrate_to_s3_and_back_keeps_lineage_serial_and_bookmarks(
        sf: Runner, project: Path, store: Bucket) -> None:
    write_stack(project, sleepers_stack(["a", "b"]))
    assert sf("apply", "--auto-approve").code == 0
    local = read_state(project)
    from stackform.runs.local import LocalRunStore
    from stackform.runs.model import Bookmark

    LocalRunStore(runs_dir(project)).put_bookmark(
        "dev", Bookmark("daily.orders", {"bookmarks": {"orders": {"offset": 42}}}, "t", "r1"))

    moved = sf("state", "migrate", "--to", f"s3://{store.bucket}/{store.prefix}",
               "--endpoint-url", store.server.endpoint_url, "--region", store.server.region)
    assert moved.code == 0, moved
    assert "copied and verified" in moved.stderr
    there = store.state()
    assert (there["lineage"], there["serial"]) == (local["lineage"], local["serial"])
    assert 'backend = "s3"' in (project / "stack.toml").read_text()
    mark = json.loads(store.get("runs/dev/bookmarks/daily.orders.json") or b"{}")
    assert mark["value"] == {"bookmarks": {"orders": {"offset": 42}}}
    assert sf("plan", "--detailed-exitcode").code == 0
    again = sf("state", "migrate", "--to", f"s3://{store.bucket}/{store.prefix}",
               "--endpoint-url", store.server.endpoint_url, "--no-update-stack-file")
    assert_clean_error(again)  # the stack already points there
    back = sf("state", "migrate", "--to", "local", "--path", "state-back")
    assert back.code == 0, back
    returned = json.loads((project / "state-back" / "sleepy" / "dev.json").read_text())
    assert (returned["lineage"], returned["serial"]) == (local["lineage"], local["serial"])
    assert sf("plan", "--detailed-exitcode").code == 0


def test_two_stacks_in_one_bucket_and_prefix_keep_their_own_state(
        sf: Runner, tmp_path: Path, store: Bucket) -> None:
    table = state_table(store.server, store.bucket, store.prefix)
    for name in ("alpha", "beta"):
        write_stack(tmp_path / name, sleepers_stack([f"{name}1"], stack_name=name,
                                                    extra=table))
        applied = sf("apply", "--auto-approve", cwd=tmp_path / name)
        assert applied.code == 0, applied
    for name in ("alpha", "beta"):
        assert sf("plan", "--detailed-exitcode", cwd=tmp_path / name).code == 0
        theirs = Bucket(store.server, store.bucket, store.prefix, stack=name)
        assert theirs.recorded() == {f"sleepers.{name}1"}
    # A copy of alpha's state under beta's key is refused, never overwritten.
    alpha = Bucket(store.server, store.bucket, store.prefix, stack="alpha")
    beta = Bucket(store.server, store.bucket, store.prefix, stack="beta")
    copied = alpha.get("state/dev.json")
    assert copied is not None
    beta.put("state/dev.json", copied)
    refused = sf("apply", "--auto-approve", cwd=tmp_path / "beta")
    assert_clean_error(refused)
    assert "state of stack 'alpha'" in refused.stderr
    assert beta.get("state/dev.json") == copied
