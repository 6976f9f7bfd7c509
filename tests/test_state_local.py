"""The local state backend: the conformance suite, plus what only real processes can show.

The multi-process tests start real Python processes running the real backend (no mocks): a lock
held in another process, a holder killed with SIGKILL, a writer killed mid-write.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stackform.errors import StackformError, StateConflictError, StateError, StateLockedError
from stackform.state.backend import StateBackend
from stackform.state.factory import backend_for
from stackform.state.local import HISTORY_KEEP, LocalBackend
from stackform.state.model import State
from stackform.testing.child import ChildProcess
from stackform.testing.state_conformance import (
    ENV,
    STACK,
    StateBackendConformance,
    Stored,
    StoreRaw,
    grow,
    make_state,
    same,
)


class TestLocalConformance(StateBackendConformance):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> StateBackend:
        return LocalBackend(tmp_path / "state", stack=STACK)

    @pytest.fixture
    def peer(self, tmp_path: Path) -> StateBackend:
        return LocalBackend(tmp_path / "state", stack=STACK)

    @pytest.fixture
    def store_raw(self, tmp_path: Path) -> StoreRaw:
        def store(env: str, data: bytes) -> None:
            # In place, as an editor or a truncating copy would: same inode, new content.
            (tmp_path / "state").mkdir(parents=True, exist_ok=True)
            (tmp_path / "state" / f"{env}.json").write_bytes(data)

        return store

    @pytest.fixture
    def stored(self, tmp_path: Path) -> Stored:
        def names(env: str) -> list[str]:
            root = tmp_path / "state"
            found = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
            return [n for n in found if n.startswith((f"{env}.", f".{env}.", f"history/{env}/"))]

        return names


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def backend(root: Path) -> LocalBackend:
    return LocalBackend(root)


# -- a helper process running the real backend ---------------------------------------------------

CHILD = textwrap.dedent('''
    import os, sys, time
    from pathlib import Path
    from stackform.errors import StackformError
    from stackform.resource import ResourceState
    from stackform.state.local import LocalBackend
    from stackform.state.model import State

    mode, root, env = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    backend = LocalBackend(root)

    def say(*words):
        print(*words, flush=True)

    if mode == "hold":  # hold the lock until stdin closes or a line arrives
        with backend.lock(env, sys.argv[4]) as info:
            say("locked", info.id, os.getpid())
            sys.stdin.readline()
        say("released")
    elif mode == "hold-for":  # hold the lock for a number of seconds
        with backend.lock(env, sys.argv[4]) as info:
            say("locked", info.id, os.getpid())
            time.sleep(float(sys.argv[5]))
    elif mode == "trylock":
        try:
            with backend.lock(env, "plan", timeout=float(sys.argv[4])):
                say("locked")
        except StackformError as exc:
            say("refused", str(exc).replace(chr(10), " "))
            sys.exit(3)
    elif mode == "writeloop":  # write bigger and bigger states forever
        state = backend.read(env)
        n = 0
        while True:
            nxt = state
            for i in range(50):
                nxt = nxt.with_resource(ResourceState(
                    f"extractors.r{n}_{i}", "extractors", {"blob": "x" * 200, "n": n}))
            nxt = nxt.next()
            backend.write(env, nxt, state)
            state = nxt
            n += 1
            if n == 1:
                say("writing")
    elif mode == "race":  # read, wait for the go file, then write from what was read
        prior = backend.read(env)
        go = Path(sys.argv[4])
        say("ready")
        while not go.exists():
            time.sleep(0.0005)
        mine = prior.with_resource(ResourceState(f"loaders.{os.getpid()}", "loaders", {})).next()
        try:
            backend.write(env, mine, prior)
            say("won", os.getpid())
        except StackformError as exc:
            say("lost", type(exc).__name__)
''')


class Child(ChildProcess):
    """A helper process running one of CHILD's modes."""

    def __init__(self, *args: str | Path) -> None:
        super().__init__(CHILD, *map(str, args))

    def release(self) -> None:
        self.send()

    def kill(self) -> None:
        self.kill9()

    def finish(self) -> tuple[int, str]:
        out, _ = self.proc.communicate(timeout=60)
        return self.proc.returncode, out


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        if child.proc.poll() is None:
            child.kill()
        for stream in (child.proc.stdin, child.proc.stdout, child.proc.stderr):
            if stream is not None:
                stream.close()


def hold(children: list[Child], root: Path, operation: str = "apply") -> tuple[Child, str]:
    child = Child("hold", root, ENV, operation)
    children.append(child)
    word, lock_id, pid = child.line()
    assert (word, int(pid)) == ("locked", child.pid)
    return child, lock_id


# -- locks across processes ----------------------------------------------------------------------


def test_second_process_fails_fast_naming_the_holder(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    child, lock_id = hold(children, root, "apply")
    started = time.monotonic()
    with pytest.raises(StateLockedError) as err, backend.lock(ENV, "plan"):
        pytest.fail("got a lock another process holds")
    assert time.monotonic() - started < 2
    message = str(err.value)
    assert f"pid {child.pid}" in message and "'apply'" in message and lock_id in message
    info = backend.lock_info(ENV)
    assert info is not None and (info.id, info.pid, info.operation) == (lock_id, child.pid,
                                                                        "apply")


def test_other_process_is_refused_while_this_one_holds(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    with backend.lock(ENV, "apply") as held:
        child = Child("trylock", root, ENV, "0")
        children.append(child)
        code, out = child.finish()
    assert code == 3, out
    assert f"pid {os.getpid()}" in out and held.id in out and "--lock-timeout" in out


def test_lock_timeout_waits_for_the_other_process(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    child = Child("hold-for", root, ENV, "apply", "1.0")
    children.append(child)
    assert child.line()[0] == "locked"
    started = time.monotonic()
    with backend.lock(ENV, "plan", timeout=30) as info:
        waited = time.monotonic() - started
        assert backend.lock_info(ENV) == info
    assert 0.3 < waited < 20
    assert child.finish()[0] == 0


def test_killed_holder_leaves_a_stale_record_that_blocks_nobody(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    child, lock_id = hold(children, root)
    child.kill()
    recorded = backend.recorded_lock(ENV)
    assert recorded is not None and (recorded.id, recorded.pid) == (lock_id, child.pid)
    assert backend.lock_info(ENV) is None, "the flock died with its holder"
    with backend.lock(ENV, "apply", timeout=0) as info:
        assert backend.lock_info(ENV) == info
    assert backend.recorded_lock(ENV) is None


def test_killed_holder_can_be_force_unlocked(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    child, lock_id = hold(children, root)
    child.kill()
    with pytest.raises(StateError, match="does not match"):
        backend.force_unlock(ENV, "wrong-id")
    backend.force_unlock(ENV, lock_id)
    assert backend.recorded_lock(ENV) is None
    assert backend.lock_info(ENV) is None
    with backend.lock(ENV, "apply", timeout=0):
        pass


def test_force_unlock_refuses_a_live_holder(
    backend: LocalBackend, root: Path, children: list[Child]
) -> None:
    child, lock_id = hold(children, root)
    with pytest.raises(StateLockedError) as err:
        backend.force_unlock(ENV, lock_id)
    assert f"process {child.pid} on this host is alive" in str(err.value)
    info = backend.lock_info(ENV)
    assert info is not None and info.id == lock_id
    child.release()
    assert child.line() == ["released"]
    assert backend.lock_info(ENV) is None


# -- writes across processes ---------------------------------------------------------------------


@pytest.mark.parametrize("delay", [0.05, 0.2, 0.35, 0.5, 0.8])
def test_writer_killed_mid_write_leaves_valid_state(
    backend: LocalBackend, root: Path, children: list[Child], delay: float
) -> None:
    first = make_state()
    backend.write(ENV, first, None)
    child = Child("writeloop", root, ENV)
    children.append(child)
    assert child.line() == ["writing"]
    time.sleep(delay)
    child.kill()
    fresh = LocalBackend(root)
    state = fresh.read(ENV)  # raises if the file were partial
    assert state is not None and state.lineage == first.lineage and state.serial >= 2
    # The backup is the previous version, or the current one when the kill came between
    # linking it and renaming the new file over it; either way whole and valid.
    backup = State.loads((root / f"{ENV}.json.backup").read_bytes())
    assert backup.serial in (state.serial - 1, state.serial)
    versions = fresh.history(ENV)
    assert [v.serial for v in versions[:2]] == [state.serial, state.serial - 1]
    assert fresh.read_version(ENV, versions[1]).serial == state.serial - 1
    # and work goes on from there
    fresh.write(ENV, grow(state), state)


def test_racing_processes_exactly_one_wins(
    backend: LocalBackend, root: Path, children: list[Child], tmp_path: Path
) -> None:
    v1 = make_state()
    backend.write(ENV, v1, None)
    for round_ in range(5):
        go = tmp_path / f"go-{round_}"
        racers = [Child("race", root, ENV, go) for _ in range(2)]
        children.extend(racers)
        for racer in racers:
            assert racer.line() == ["ready"]
        go.touch()
        results = [racer.line() for racer in racers]
        assert sorted(r[0] for r in results) == ["lost", "won"], results
        assert next(r for r in results if r[0] == "lost")[1] == "StateConflictError"
        winner = int(next(r for r in results if r[0] == "won")[1])
        state = backend.read(ENV)
        assert state is not None and f"loaders.{winner}" in state.resources


# -- files on disk -------------------------------------------------------------------------------


def test_writes_leave_no_temp_files(backend: LocalBackend, root: Path) -> None:
    state = make_state()
    backend.write(ENV, state, None)
    for i in range(5):
        nxt = grow(state, f"n{i}")
        backend.write(ENV, nxt, state)
        state = nxt
    with pytest.raises(StateConflictError):
        backend.write(ENV, grow(make_state()), make_state())
    with backend.lock(ENV, "apply"):
        pass
    names = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert names == {
        f"{ENV}.json", f"{ENV}.json.backup", f"{ENV}.lock", ".write.lock",
        *(f"history/{ENV}/{s}-{state.lineage}.json" for s in range(1, 6)),
    }


def test_state_files_are_private(backend: LocalBackend, root: Path) -> None:
    old = os.umask(0o022)
    try:
        v1 = make_state()
        backend.write(ENV, v1, None)
        backend.write(ENV, grow(v1), v1)
        with backend.lock(ENV, "apply"):
            pass
    finally:
        os.umask(old)
    files = [p for p in root.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_history_keeps_the_last_versions(backend: LocalBackend, root: Path) -> None:
    written = [make_state()]
    backend.write(ENV, written[0], None)
    for i in range(HISTORY_KEEP + 10):
        written.append(grow(written[-1], f"k{i}"))
        backend.write(ENV, written[-1], written[-2])
    versions = backend.history(ENV)
    assert len(versions) == HISTORY_KEEP + 1  # the current one and the kept previous ones
    assert [v.serial for v in versions] == list(range(written[-1].serial, 10, -1))
    assert same(backend.read_version(ENV, versions[-1]), written[10])
    assert versions[0].updated_at == written[-1].updated_at
    assert len(list((root / "history" / ENV).iterdir())) == HISTORY_KEEP


def test_backup_is_the_previous_version(backend: LocalBackend, root: Path) -> None:
    v1 = make_state()
    backend.write(ENV, v1, None)
    assert not (root / f"{ENV}.json.backup").exists()
    v2 = grow(v1)
    backend.write(ENV, v2, v1)
    assert same(State.loads((root / f"{ENV}.json.backup").read_bytes()), v1)
    backend.delete(ENV)
    assert same(State.loads((root / f"{ENV}.json.backup").read_bytes()), v2)


def test_history_after_recreate_lists_the_new_lineage_first(backend: LocalBackend) -> None:
    old = make_state()
    backend.write(ENV, old, None)
    backend.write(ENV, grow(old), old)
    backend.delete(ENV)
    new = make_state()
    backend.write(ENV, new, None)
    backend.write(ENV, grow(new), new)
    assert [(v.lineage, v.serial) for v in backend.history(ENV)] == [
        (new.lineage, 2), (new.lineage, 1), (old.lineage, 2), (old.lineage, 1)]


def test_unchanged_file_is_not_parsed_again(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = make_state(n=50)
    backend.write(ENV, state, None)
    parsed = []
    real = State.loads.__func__  # type: ignore[attr-defined]

    def counting(cls: type[State], text: str | bytes, source: str = "state") -> State:
        parsed.append(source)
        return real(cls, text, source)

    monkeypatch.setattr(State, "loads", classmethod(counting))
    for i in range(100):
        nxt = grow(state, f"c{i}")
        backend.write(ENV, nxt, state)
        state = nxt
    assert backend.read(ENV) is state
    assert parsed == []
    # a write by someone else is seen: the file is parsed again, once
    other = LocalBackend(backend.root)
    other.write(ENV, grow(state, "other"), state)
    assert len(parsed) == 1  # the other instance's first look
    with pytest.raises(StateConflictError):
        backend.write(ENV, grow(state, "stale"), state)
    assert len(parsed) == 2


def test_hand_edit_of_the_same_size_is_noticed(backend: LocalBackend, root: Path) -> None:
    v1 = make_state()
    backend.write(ENV, v1, None)
    path = root / f"{ENV}.json"
    text = path.read_text()
    time.sleep(0.05)  # past the filesystem's timestamp granularity
    with path.open("r+") as f:  # in place: same inode, same size
        f.write(text.replace('"serial": 1', '"serial": 7'))
    with pytest.raises(StateConflictError, match="serial 7"):
        backend.write(ENV, grow(v1), v1)


def test_invalid_environment_names_are_refused(backend: LocalBackend) -> None:
    for env in ("../etc", "a/b", ".hidden", "", "x" * 300):
        with pytest.raises(StateError):
            backend.read(env)


def test_environments_ignore_other_files(backend: LocalBackend, root: Path) -> None:
    backend.write("prod", make_state("prod"), None)
    with backend.lock("staging", "plan"):
        pass
    (root / "notes.txt").write_text("hi")
    assert backend.environments() == ["prod"]


def test_lock_file_removed_by_hand_is_recreated(backend: LocalBackend, root: Path) -> None:
    with backend.lock(ENV, "apply"):
        pass
    (root / f"{ENV}.lock").unlink()
    with backend.lock(ENV, "apply") as info:
        assert backend.lock_info(ENV) == info


# -- factory -------------------------------------------------------------------------------------


def test_factory_local_default(tmp_path: Path) -> None:
    backend = backend_for({}, tmp_path, "shop")
    assert isinstance(backend, LocalBackend)
    assert backend.root == tmp_path / ".stackform" / "state" / "shop"
    assert backend.stack == "shop"
    assert backend_for({"backend": "local"}, tmp_path, "shop").describe("dev") == str(
        tmp_path / ".stackform" / "state" / "shop" / "dev.json")


def test_factory_local_path(tmp_path: Path) -> None:
    relative = backend_for({"backend": "local", "path": "shared/state"}, tmp_path, "shop")
    assert isinstance(relative, LocalBackend)
    assert relative.root == tmp_path / "shared" / "state" / "shop"
    absolute = backend_for({"path": str(tmp_path / "abs")}, tmp_path / "stack", "shop")
    assert isinstance(absolute, LocalBackend) and absolute.root == tmp_path / "abs" / "shop"


@pytest.mark.parametrize(("settings", "needle"), [
    ({"backend": "s3", "bucket": "b"}, "not a valid S3 bucket name"),
    ({"backend": "s3"}, "needs a bucket"),
    ({"backend": "s3", "bucket": "team-state", "path": "x"}, "'path'"),
    ({"backend": "ftp"}, "unknown state backend"),
    ({"backend": "local", "bucket": "b"}, "'bucket'"),
    ({"path": 3}, "state.path"),
])
def test_factory_errors(tmp_path: Path, settings: dict[str, object], needle: str) -> None:
    with pytest.raises(StackformError, match=needle) as err:
        backend_for(settings, tmp_path, "shop")
    assert err.value.hint


def test_factory_imports_no_heavy_modules() -> None:
    code = ("import sys; import stackform.state.factory as f; "
            "print(sorted(m for m in ('boto3', 'botocore', 'networkx', 'git', 'rich') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_filesystem_failures_are_state_errors(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    backend = LocalBackend(not_a_folder)
    with pytest.raises(StateError, match="could not write state") as err:
        backend.write(ENV, make_state(), None)
    assert err.value.hint
    with pytest.raises(StateError, match="could not lock"), backend.lock(ENV, "apply"):
        pass


def test_errors_inside_the_locked_block_pass_through(backend: LocalBackend) -> None:
    with pytest.raises(FileNotFoundError), backend.lock(ENV, "apply"):
        raise FileNotFoundError("the caller's own")
    assert backend.lock_info(ENV) is None
